"""A backup restored into an empty folder is the store it was made from: every table, row
for row, and the store's own files; what belongs to a running process is left out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from backupkit import PASSPHRASE, store_files, table_contents

from carewarden.backup.crypto import Secret, passphrase_secret
from carewarden.services import backup
from carewarden.store import Store
from carewarden.store.schema import LATEST_VERSION, MIGRATIONS
from carewarden.store.snapshot import catalog, table_digest


def test_round_trip_restores_every_table_and_store_file(
    hospital: Path, secret: Secret, tmp_path: Path
) -> None:
    """Every table comes back with the same rows (compared in full) and each store file with
    the same bytes and mode; the server's serve.json, lock and temporary files are not
    carried; the store backed up is left as it was."""
    (hospital / "serve.json").write_text('{"pid": 1, "url": "http://x", "secret": "s"}')
    (hospital / "queue" / "break_glass.jsonl.lock").write_text("")
    (hospital / "tmp").mkdir(exist_ok=True)
    (hospital / "tmp" / "spill.bin").write_bytes(b"x")
    draining = hospital / "queue" / "break_glass.20240301T000000000000.draining"
    draining.write_bytes(b'{"decision_id": "d-0"}\n')
    os.chmod(draining, 0o640)
    before = table_contents(hospital)
    database = (hospital / "carewarden.duckdb").read_bytes()

    made = backup.create(hospital, tmp_path / "store.cwb", secret)
    restored = backup.restore(tmp_path / "store.cwb", tmp_path / "restored", secret)

    assert (hospital / "carewarden.duckdb").read_bytes() == database
    after = table_contents(tmp_path / "restored")
    assert after == before
    assert {
        "ehr_access",
        "alert",
        "incident_case",
        "case_event",
        "security_event",
        "quarantine",
        "console_user",
        "audit_log",
        "schema_version",
    } <= set(after)
    for table in (
        "ehr_access",
        "alert",
        "incident_case",
        "security_event",
        "quarantine",
        "console_user",
        "audit_log",
    ):
        assert after[table], f"the test store should have {table} rows"
    assert made.rows == restored.rows == sum(len(rows) for rows in before.values())
    assert [t.name for t in restored.tables] == sorted(before)
    assert all(t.ok and not t.note for t in restored.tables)
    files = store_files(tmp_path / "restored")
    assert files == {
        "queue/break_glass.jsonl": (hospital / "queue" / "break_glass.jsonl").read_bytes(),
        "queue/break_glass.20240301T000000000000.draining": draining.read_bytes(),
        "segmentation_policy.yaml": (hospital / "segmentation_policy.yaml").read_bytes(),
    }
    mode = (tmp_path / "restored" / draining.relative_to(hospital)).stat().st_mode & 0o777
    assert mode == 0o640
    assert [f.path for f in made.files] == sorted(files)
    assert not list(tmp_path.glob(".*"))  # no partial archive or restore folder left
    assert not list((hospital / "tmp").glob("backup-*"))  # nor the plaintext staging


def test_restored_store_opens_and_matches_checksums(
    hospital: Path, secret: Secret, tmp_path: Path
) -> None:
    """The restored store opens as any store does, at the latest schema, and each table's
    checksum equals the source's."""
    backup.create(hospital, tmp_path / "a.cwb", secret)
    backup.restore(tmp_path / "a.cwb", tmp_path / "restored", secret)
    with (
        Store.open(hospital, read_only=True) as source,
        Store.open(tmp_path / "restored") as copy,
    ):
        assert copy.schema_version() == LATEST_VERSION
        digests = {t.name: table_digest(source, t) for t in catalog(source)}
        assert {t.name: table_digest(copy, t) for t in catalog(copy)} == digests


def test_passphrase_archive_round_trip(hospital: Path, tmp_path: Path, cheap_scrypt: None) -> None:
    """A passphrase (scrypt) archive restores as a key-file one does."""
    secret = passphrase_secret(PASSPHRASE)
    report = backup.create(hospital, tmp_path / "p.cwb", secret)
    assert report.key == "passphrase"
    assert backup.verify(tmp_path / "p.cwb", secret).ok
    backup.restore(tmp_path / "p.cwb", tmp_path / "restored", secret)
    assert table_contents(tmp_path / "restored") == table_contents(hospital)


def test_older_schema_is_restored_then_upgraded(secret: Secret, tmp_path: Path) -> None:
    """An archive of a store at an older schema version is loaded into that version's schema
    (its rows checked there) and then upgraded to the latest."""
    old = MIGRATIONS[-2].version  # the version before the latest
    with Store.open(tmp_path / "old", migrate_to=old) as store:
        assert store.schema_version() == old
        store.query(
            "INSERT INTO alert (alert_id, rule_id, title, severity, score, first_seen, "
            "last_seen, event_ids, explanation, created_at) VALUES ('a1', 'r', 't', 'high', "
            "80, TIMESTAMP '2024-03-01', TIMESTAMP '2024-03-01', ['e1', 'e2'], 'x', "
            "TIMESTAMP '2024-03-02')"
        )
    made = backup.create(tmp_path / "old", tmp_path / "old.cwb", secret)
    assert made.manifest.schema_version == old
    restored = backup.restore(tmp_path / "old.cwb", tmp_path / "new", secret)
    assert restored.upgraded_to == LATEST_VERSION
    with Store.open(tmp_path / "new", read_only=True) as store:
        assert store.schema_version() == LATEST_VERSION
        rows = store.query("SELECT alert_id, event_ids, status FROM alert")
    assert rows == [("a1", ["e1", "e2"], "open")]


def test_every_column_type_round_trips(secret: Secret, tmp_path: Path) -> None:
    """A table the migrations do not make is carried too (created from its archived
    definition), with NULLs and every column type, including those Parquet cannot hold as
    DuckDB has them (HUGEINT, UHUGEINT, TIME WITH TIME ZONE)."""
    with Store.open(tmp_path / "s") as store:
        store.query(
            """
            CREATE TABLE extra_kinds (
                id INTEGER PRIMARY KEY, tags VARCHAR[], doc JSON, raw BLOB, tiny TINYINT,
                "select" TIMESTAMP, at_ns TIMESTAMP_NS, at_tz TIMESTAMPTZ, day DATE, clock TIME,
                clock_tz TIMETZ, ratio DOUBLE, f FLOAT, flag BOOLEAN,
                nested STRUCT(x INTEGER, y VARCHAR[]), big HUGEINT, ubig UHUGEINT,
                span INTERVAL, uid UUID, money DECIMAL(38, 2), pairs MAP(VARCHAR, INTEGER),
                fixed INTEGER[3], kind ENUM('a', 'b'), text VARCHAR,
                choice UNION(n INTEGER, s VARCHAR), "odd name" STRUCT("from" INTEGER)
            )
            """
        )
        store.query(
            """
            INSERT INTO extra_kinds VALUES
            (1, ['a', NULL], '{"k": [1, 2]}', '\\x00\\xff'::BLOB, -3,
             TIMESTAMP '2024-02-29 23:59:59.999999', '2024-01-01 00:00:00.123456789',
             TIMESTAMPTZ '2024-01-01 12:00:00+05', DATE '2024-02-29', TIME '01:02:03',
             TIMETZ '01:02:03+05:30', -0.0, 1.5, true, {'x': 1, 'y': ['z']},
             -170141183460469231731687303715884105728,
             340282366920938463463374607431768211455, INTERVAL 3 DAY,
             'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 123456789012345678901234567890123456.12,
             MAP {'a': 1}, [1, 2, 3], 'b', 'é ü 漢字 ''quoted''', 's'::VARCHAR, {'from': 7}),
            (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
            (3, [], '[]', ''::BLOB, 0, NULL, NULL, NULL, NULL, NULL, NULL, 'NaN'::DOUBLE,
             'inf'::FLOAT, false, {'x': NULL, 'y': NULL}, 0, 0, INTERVAL 0 SECOND, NULL, 0,
             MAP {}, [NULL, NULL, NULL], 'a', '', 3, NULL)
            """
        )
        before = {
            name: store.query(f'SELECT * FROM "{name}" ORDER BY ALL') for name in ("extra_kinds",)
        }
    backup.create(tmp_path / "s", tmp_path / "s.cwb", secret)
    restored = backup.restore(tmp_path / "s.cwb", tmp_path / "r", secret)
    notes = {t.name: t.note for t in restored.tables}
    assert notes["extra_kinds"] == "created from its archived definition"
    with Store.open(tmp_path / "r", read_only=True) as store:
        after = store.query('SELECT * FROM "extra_kinds" ORDER BY ALL')
        (kind,) = store.query(
            "SELECT data_type FROM duckdb_columns() WHERE table_name = 'extra_kinds' "
            "AND column_name = 'clock_tz'"
        )
    assert len(after) == 3
    # NaN != NaN in Python: compare the rows as text, which DuckDB renders exactly.
    assert [repr(r) for r in after] == [repr(r) for r in before["extra_kinds"]]
    assert kind == ("TIME WITH TIME ZONE",)


@pytest.mark.parametrize("held", ["serve.json", "carewarden.duckdb.wal"])
def test_process_files_are_never_restored(
    hospital: Path, secret: Secret, tmp_path: Path, held: str
) -> None:
    """A file of a running process beside the database is not carried into the archive."""
    (hospital / held).write_bytes(b"not data")
    report = backup.create(hospital, tmp_path / "a.cwb", secret)
    assert held not in {f.path for f in report.files}
    assert all(not f.path.startswith(held) for f in report.manifest.files)


def test_symbolic_links_are_listed_not_followed(
    hospital: Path, secret: Secret, tmp_path: Path
) -> None:
    """A symbolic link in the store folder is reported as not carried; its target (which may
    lie outside the store) is not read into the archive."""
    outside = tmp_path / "outside.txt"
    outside.write_text("not the store's")
    (hospital / "queue" / "link.jsonl").symlink_to(outside)
    report = backup.create(hospital, tmp_path / "a.cwb", secret)
    assert report.skipped == ["queue/link.jsonl (a symbolic link)"]
    assert all("link" not in f.path for f in report.manifest.files)
