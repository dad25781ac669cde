"""A damaged, truncated, extended, reordered or forged archive is detected and named; a wrong
key is told apart from damage; a restore that fails leaves nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from backupkit import PASSPHRASE, rewrite_archive

from carewarden.backup import crypto
from carewarden.backup.crypto import HEADER, Secret, load_key_file, passphrase_secret
from carewarden.errors import BackupError, RequestError, StoreBusyError, StoreError
from carewarden.services import backup


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Archives of many 4 KiB chunks, so a change can hit any chunk or boundary."""
    monkeypatch.setattr(crypto, "CHUNK_SIZE", 4096)


@pytest.fixture
def archive(hospital: Path, secret: Secret, tmp_path: Path, small_chunks: None) -> Path:
    path = tmp_path / "hospital.cwb"
    backup.create(hospital, path, secret)
    return path


def frames(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each chunk frame of an archive."""
    found, at = [], HEADER.size
    while at < len(data):
        length = 4 + int.from_bytes(data[at : at + 4], "big")
        found.append((at, length))
        at += length
    return found


def damaged(archive: Path, change: Callable[[bytes], bytes]) -> Path:
    out = archive.with_name("damaged.cwb")
    out.write_bytes(change(archive.read_bytes()))
    return out


def test_archive_is_intact(archive: Path, secret: Secret) -> None:
    """The untouched archive verifies (the tests below change only one thing)."""
    report = backup.verify(archive, secret)
    assert report.ok and len(frames(archive.read_bytes())) > 20


def test_flipped_byte_in_the_middle_is_detected(archive: Path, secret: Secret) -> None:
    data = bytearray(archive.read_bytes())
    middle = len(data) // 2
    data[middle] ^= 0x01
    chunk = next(i for i, (at, n) in enumerate(frames(bytes(data))) if at <= middle < at + n)
    with pytest.raises(BackupError, match=rf"chunk {chunk} of the archive .* damaged or altered"):
        backup.verify(damaged(archive, lambda _: bytes(data)), secret)


@pytest.mark.parametrize("cut", [1, 100, 4000])
def test_truncated_archive_is_detected(archive: Path, secret: Secret, cut: int) -> None:
    with pytest.raises(BackupError, match=r"truncated"):
        backup.verify(damaged(archive, lambda d: d[:-cut]), secret)


def test_truncation_at_a_chunk_boundary_is_detected(archive: Path, secret: Secret) -> None:
    """Whole chunks dropped from the end leave a valid-looking stream: the final-chunk flag
    tells the reader that the last chunk it has is not the last one written."""
    data = archive.read_bytes()
    at, n = frames(data)[-3]
    with pytest.raises(BackupError, match=r"truncated: it ends after chunk \d+, before its final"):
        backup.verify(damaged(archive, lambda d: d[: at + n]), secret)


@pytest.mark.parametrize(
    ("length", "message"),
    [
        (0, "not a Carewarden backup archive"),
        (40, "inside its header"),
        (HEADER.size, "nothing after its header"),
    ],
)
def test_archive_cut_in_its_header_is_detected(
    archive: Path, secret: Secret, length: int, message: str
) -> None:
    with pytest.raises(BackupError, match=message):
        backup.verify(damaged(archive, lambda d: d[:length]), secret)


@pytest.mark.parametrize("junk", [b"\0", b"junk", b"x" * 5000])
def test_appended_data_is_detected(archive: Path, secret: Secret, junk: bytes) -> None:
    with pytest.raises(BackupError, match=r"appended to the archive after its final chunk"):
        backup.verify(damaged(archive, lambda d: d + junk), secret)


def test_reordered_chunks_are_detected(archive: Path, secret: Secret) -> None:
    data = archive.read_bytes()
    (a, na), (b, nb) = frames(data)[3:5]
    swapped = data[:a] + data[b : b + nb] + data[a : a + na] + data[b + nb :]
    with pytest.raises(BackupError, match=r"chunk 3 of the archive .* fails authentication"):
        backup.verify(damaged(archive, lambda _: swapped), secret)


def test_dropped_middle_chunk_is_detected(archive: Path, secret: Secret) -> None:
    data = archive.read_bytes()
    at, n = frames(data)[5]
    with pytest.raises(BackupError, match=r"chunk 5 of the archive .* fails authentication"):
        backup.verify(damaged(archive, lambda d: d[:at] + d[at + n :]), secret)


def test_newer_format_is_named(archive: Path, secret: Secret) -> None:
    newer = damaged(archive, lambda d: d[:8] + (2).to_bytes(2, "big") + d[10:])
    with pytest.raises(BackupError, match=r"format version 2"):
        backup.verify(newer, secret)


def test_not_an_archive(tmp_path: Path, secret: Secret) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hello, this is not an archive at all\n" * 10)
    with pytest.raises(BackupError, match=r"not a Carewarden backup archive"):
        backup.verify(other, secret)
    with pytest.raises(RequestError, match=r"no such archive"):
        backup.verify(tmp_path / "absent.cwb", secret)


def test_wrong_key_is_named(archive: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    other_id = crypto.generate_key_file(other)
    with pytest.raises(BackupError, match=f"wrong key: .* key id [0-9a-f]{{16}}, .* {other_id}"):
        backup.verify(archive, load_key_file(other))


def test_wrong_passphrase_is_named(hospital: Path, tmp_path: Path, cheap_scrypt: None) -> None:
    backup.create(hospital, tmp_path / "p.cwb", passphrase_secret(PASSPHRASE))
    with pytest.raises(BackupError, match=r"wrong passphrase"):
        backup.verify(tmp_path / "p.cwb", passphrase_secret(PASSPHRASE + "!"))


def test_the_other_kind_of_key_is_asked_for(
    hospital: Path, archive: Path, secret: Secret, tmp_path: Path, cheap_scrypt: None
) -> None:
    with pytest.raises(RequestError, match=r"encrypted with a key file .*--key-file"):
        backup.verify(archive, passphrase_secret(PASSPHRASE))
    backup.create(hospital, tmp_path / "p.cwb", passphrase_secret(PASSPHRASE))
    with pytest.raises(RequestError, match=r"encrypted with a passphrase: set CAREWARDEN_BACKUP"):
        backup.verify(tmp_path / "p.cwb", secret)


# -- forged archives: authentic encryption, wrong content (the checks behind the cipher) ----
Json = dict[str, Any]


def _manifest_edit(change: Callable[[Json], None]) -> Callable[[dict[str, bytes]], None]:
    def edit(entries: dict[str, bytes]) -> None:
        manifest = json.loads(entries["manifest.json"])
        change(manifest)
        entries["manifest.json"] = json.dumps(manifest).encode()

    return edit


def _table(manifest: Json, name: str) -> Json:
    return next(t for t in manifest["tables"] if t["name"] == name)


def test_checksum_mismatch_is_detected(archive: Path, secret: Secret, tmp_path: Path) -> None:
    forged = tmp_path / "forged.cwb"
    rewrite_archive(
        archive,
        secret,
        _manifest_edit(lambda m: _table(m, "alert").update(checksum="0" * 32)),
        forged,
    )
    with pytest.raises(BackupError, match=r"table alert: the checksum of its Parquet file"):
        backup.verify(forged, secret)


def test_row_count_mismatch_is_detected(archive: Path, secret: Secret, tmp_path: Path) -> None:
    forged = tmp_path / "forged.cwb"
    rewrite_archive(
        archive, secret, _manifest_edit(lambda m: _table(m, "ehr_access").update(rows=1)), forged
    )
    with pytest.raises(BackupError, match=r"table ehr_access: its Parquet file has .* rows, the"):
        backup.verify(forged, secret)


def test_file_digest_mismatch_is_detected(archive: Path, secret: Secret, tmp_path: Path) -> None:
    def swap(entries: dict[str, bytes]) -> None:
        entries["tables/alert.parquet"] = entries["tables/case_alert.parquet"]

    forged = tmp_path / "forged.cwb"
    rewrite_archive(archive, secret, swap, forged)
    with pytest.raises(BackupError, match=r"tables/alert.parquet .* does not match its SHA-256"):
        backup.verify(forged, secret)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda e: e.update({"files/extra": b"x"}), "an entry its manifest does not list"),
        (lambda e: e.pop("tables/alert.parquet"), "lacks entries its manifest lists"),
        (lambda e: e.update({"manifest.json": e.pop("manifest.json")}), "start with its manifest"),
        (lambda e: e.update({"manifest.json": b"{}"}), "manifest is not valid"),
    ],
)
def test_entries_must_match_the_manifest(
    archive: Path,
    secret: Secret,
    tmp_path: Path,
    edit: Callable[[dict[str, bytes]], None],
    message: str,
) -> None:
    forged = tmp_path / "forged.cwb"
    rewrite_archive(archive, secret, edit, forged)
    with pytest.raises(BackupError, match=message):
        backup.verify(forged, secret)


def test_unsafe_store_file_path_is_refused(archive: Path, secret: Secret, tmp_path: Path) -> None:
    """A manifest may not name a store file outside the store folder."""

    def escape(manifest: Json) -> None:
        manifest["files"].append(
            {"path": "files/../../escaped", "kind": "store-file", "bytes": 1, "sha256": "0"}
        )

    forged = tmp_path / "forged.cwb"
    rewrite_archive(archive, secret, _manifest_edit(escape), forged)
    with pytest.raises(BackupError, match=r"manifest is not valid: files.*unsafe path"):
        backup.restore(forged, tmp_path / "target", secret)
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "target").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t["columns"][0].update(type="VARCHAR) , (SELECT 1"),
            r"type of column alert\.alert_id is not a type",
        ),
        (
            lambda t: t["columns"][0].update(type="VARCHAR) || read_text('/etc/hostname'"),
            "is not a type",
        ),
        (
            lambda t: t.update(create_sql="CREATE TABLE alert AS SELECT * FROM read_text('x')"),
            "definition of table alert is not a CREATE TABLE",
        ),
        (
            lambda t: t.update(create_sql=t["create_sql"] + " COPY alert TO 'x.csv';"),
            "definition of table alert is not a CREATE TABLE",
        ),
    ],
)
def test_archived_sql_must_be_a_definition(
    archive: Path,
    secret: Secret,
    tmp_path: Path,
    change: Callable[[Json], None],
    message: str,
) -> None:
    """Whoever holds the key can write any manifest: its column types and CREATE statements
    are checked to be only that before verify or restore runs them."""
    forged = tmp_path / "forged.cwb"
    rewrite_archive(archive, secret, _manifest_edit(lambda m: change(_table(m, "alert"))), forged)
    with pytest.raises(StoreError, match=message):
        backup.verify(forged, secret)
    with pytest.raises(StoreError, match=message):
        backup.restore(forged, tmp_path / "target", secret)
    assert not (tmp_path / "target").exists() and not (tmp_path / "x.csv").exists()


def test_another_duckdb_checksum_is_noted_not_failed(
    archive: Path, secret: Secret, tmp_path: Path
) -> None:
    """A checksum made by another DuckDB version (whose hash() may differ) is not held
    against the archive: its file's SHA-256 matched; the report says so."""

    def other_engine(manifest: Json) -> None:
        manifest["duckdb_version"] = "0.0.1"
        _table(manifest, "alert")["checksum"] = "1" * 32

    forged = tmp_path / "forged.cwb"
    rewrite_archive(archive, secret, _manifest_edit(other_engine), forged)
    report = backup.verify(forged, secret)
    notes = {t.name: t.note for t in report.tables if t.note}
    assert list(notes) == ["alert"] and "DuckDB 0.0.1" in notes["alert"]


# -- restore and create refuse what they must ------------------------------------------------
def test_failed_restore_leaves_nothing(archive: Path, secret: Secret, tmp_path: Path) -> None:
    data = bytearray(archive.read_bytes())
    data[len(data) * 3 // 4] ^= 0xFF
    bad = damaged(archive, lambda _: bytes(data))
    target = tmp_path / "restored"
    with pytest.raises(BackupError, match=r"damaged or altered"):
        backup.restore(bad, target, secret)
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".restored")]


def test_failed_table_check_leaves_nothing(archive: Path, secret: Secret, tmp_path: Path) -> None:
    """Tables are loaded, and one's checksum disagrees with the manifest: nothing appears."""
    forged = tmp_path / "forged.cwb"
    rewrite_archive(
        archive,
        secret,
        _manifest_edit(lambda m: _table(m, "patient").update(checksum="f" * 32)),
        forged,
    )
    with pytest.raises(BackupError, match=r"table patient: the checksum of the restored table"):
        backup.restore(forged, tmp_path / "restored", secret)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["backup.key", "hospital.cwb", "forged.cwb", "store"]
    )


def test_restore_refuses_a_non_empty_folder(archive: Path, secret: Secret, tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(RequestError, match=r"is not empty"):
        backup.restore(archive, target, secret)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert backup.restore(archive, empty, secret).ok
    assert (empty / "carewarden.duckdb").exists()


def test_create_refuses_to_overwrite_unless_forced(
    hospital: Path, secret: Secret, tmp_path: Path
) -> None:
    out = tmp_path / "a.cwb"
    out.write_bytes(b"an older archive")
    with pytest.raises(RequestError, match=r"exists: pass --force"):
        backup.create(hospital, out, secret)
    assert out.read_bytes() == b"an older archive"
    backup.create(hospital, out, secret, force=True)
    assert backup.verify(out, secret).ok
    with pytest.raises(RequestError, match=r"inside the store folder"):
        backup.create(hospital, hospital / "a.cwb", secret)
    with pytest.raises(StoreError, match=r"no store at"):
        backup.create(tmp_path / "nothing", tmp_path / "b.cwb", secret)
    assert not (tmp_path / "nothing").exists()


def test_failed_write_keeps_the_old_archive(
    hospital: Path, secret: Secret, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "a.cwb"
    out.write_bytes(b"an older archive")

    def full_disk(self: crypto.EncryptingWriter) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(crypto.EncryptingWriter, "finish", full_disk)
    with pytest.raises(BackupError, match=r"cannot write .*No space left"):
        backup.create(hospital, out, secret, force=True)
    assert out.read_bytes() == b"an older archive"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.cwb", "backup.key", "store"]


def test_store_held_by_another_process(hospital: Path, secret: Secret, tmp_path: Path) -> None:
    """While another process holds the store for writing (a server, an ingest), create says
    so, as every command does, instead of showing a lock error; the console server is named
    (from its serve.json)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from carewarden.store import Store
                store = Store.open(Path({str(hospital)!r}))
                print("held", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreBusyError, match=r"held for writing by another"):
            backup.create(hospital, tmp_path / "a.cwb", secret)
        (hospital / "serve.json").write_text(
            json.dumps({"pid": holder.pid, "url": "http://127.0.0.1:8800", "secret": "s"})
        )
        with pytest.raises(
            StoreBusyError, match=rf"serve` at http://127.0.0.1:8800, pid {holder.pid}"
        ):
            backup.create(hospital, tmp_path / "a.cwb", secret)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
    assert not (tmp_path / "a.cwb").exists()
