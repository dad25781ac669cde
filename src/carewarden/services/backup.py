"""Backups of the store: make an encrypted, checksummed archive, check one, restore one.

An archive is a tar stream inside the encrypted container of :mod:`carewarden.backup.crypto`:
``manifest.json`` first, then ``tables/<table>.parquet`` for every table of the database,
then ``files/<path>`` for every other file of the store folder (the queue of break-the-glass
decisions, for one), minus what belongs to a running process (the write-ahead log, DuckDB's
temporary files, the server's ``serve.json``, lock and temporary files).

Plaintext copies (the Parquet files before they are encrypted, and after they are
decrypted) stay in a private folder (mode 0700) inside the store folder or beside the
restored store, never beside the archive, and are deleted when the command ends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import secrets
import shutil
import stat
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import duckdb
import orjson

from carewarden import __version__
from carewarden.backup.crypto import DecryptingReader, EncryptingWriter, Secret, key_id
from carewarden.backup.manifest import (
    FILES_DIR,
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    TABLES_DIR,
    Manifest,
    ManifestColumn,
    ManifestFile,
    ManifestTable,
)
from carewarden.errors import BackupError, RequestError, StoreBusyError
from carewarden.store import Store
from carewarden.store.schema import LATEST_VERSION
from carewarden.store.snapshot import (
    Digest,
    checkpoint,
    export_tables,
    import_tables,
    parquet_digests,
)
from carewarden.store.store import DB_FILE, utcnow

# Files of the store folder that belong to a running process, not to the store's data.
SERVER_FILE = "serve.json"  # written by `carewarden serve` while it holds the store
EXCLUDED_NAMES = frozenset({DB_FILE, f"{DB_FILE}.wal", f"{DB_FILE}.tmp", "tmp", SERVER_FILE})
EXCLUDED_SUFFIXES = (".tmp", ".lock", ".partial", ".swp")
COPY_BLOCK = 1 << 20

# progress(stage, done, total): a stage's name and how far it is (tables or bytes)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TableCheck:
    name: str
    rows: int
    checksum: str
    ok: bool
    note: str = ""


@dataclass(frozen=True)
class StoreFileEntry:
    path: str  # inside the store folder
    bytes: int


@dataclass
class BackupReport:
    action: Literal["create", "verify", "restore"]
    archive: Path
    archive_bytes: int
    store: Path | None
    key: str  # "key file (key id …)" or "passphrase"
    manifest: Manifest
    tables: list[TableCheck]
    files: list[StoreFileEntry]
    seconds: float
    skipped: list[str] = field(default_factory=list)  # store files not carried, and why
    upgraded_to: int | None = None  # restore: the schema version after upgrading

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "ok": self.ok,
            "archive": str(self.archive),
            "archive_bytes": self.archive_bytes,
            "store": str(self.store) if self.store else None,
            "key": self.key,
            "carewarden_version": self.manifest.carewarden_version,
            "schema_version": self.manifest.schema_version,
            "upgraded_to": self.upgraded_to,
            "created_at": self.manifest.created_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "rows": self.rows,
            "tables": [
                {"name": t.name, "rows": t.rows, "checksum": t.checksum, "checksum_ok": t.ok}
                | ({"note": t.note} if t.note else {})
                for t in self.tables
            ],
            "files": [{"path": f.path, "bytes": f.bytes} for f in self.files],
            "skipped": self.skipped,
        }


def describe_key(secret: Secret) -> str:
    if secret.key is not None:
        return f"key file (key id {key_id(secret.key)})"
    return "passphrase"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(COPY_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _private_folder(preferred: Path) -> Iterator[Path]:
    """A new folder (mode 0700) under ``preferred`` (else the system's temporary folder),
    deleted with everything in it on leaving."""
    made = not preferred.exists()
    try:
        preferred.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="backup-", dir=preferred))
    except OSError:  # a store on read-only media
        folder = Path(tempfile.mkdtemp(prefix="carewarden-backup-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if made:
            with suppress(OSError):
                preferred.rmdir()  # left as found (unless something else uses it now)


def _store_files(store_dir: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """The store folder's own files besides the database: (relative path, path), and the
    paths skipped with the reason."""
    found: list[tuple[str, Path]] = []
    skipped: list[str] = []

    def walk(folder: Path, prefix: str) -> None:
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            rel = f"{prefix}{entry.name}"
            if (not prefix and entry.name in EXCLUDED_NAMES) or entry.name.endswith(
                EXCLUDED_SUFFIXES
            ):
                continue
            if entry.is_symlink():
                skipped.append(f"{rel} (a symbolic link)")
            elif entry.is_dir():
                walk(entry, f"{rel}/")
            elif entry.is_file():
                found.append((rel, entry))
            else:
                skipped.append(f"{rel} (not a regular file)")

    walk(store_dir, "")
    return found, skipped


def _server_hint(store_dir: Path) -> str:
    """Who holds the store, when it is the console server (it says so in ``serve.json``)."""
    try:
        server = orjson.loads((store_dir / SERVER_FILE).read_bytes())
        return f" (`carewarden serve` at {server['url']}, pid {server['pid']}: stop it first)"
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return ""


def _tar_entry(tar: tarfile.TarFile, name: str, size: int, mtime: float, data: BinaryIO) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = int(mtime)
    tar.addfile(info, data)


def create(
    store_dir: Path,
    out: Path,
    secret: Secret,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> BackupReport:
    """Write an encrypted archive of the store in ``store_dir`` to ``out``."""
    started = time.perf_counter()
    if out.exists() and (out.is_dir() or not force):
        raise RequestError(
            f"{out} is a folder" if out.is_dir() else f"{out} exists: pass --force to replace it"
        )
    if _inside(out, store_dir):
        raise RequestError(
            f"{out} is inside the store folder {store_dir}: write the archive elsewhere"
        )
    if not out.parent.is_dir():
        raise RequestError(f"no such folder: {out.parent}")
    report = progress or (lambda stage, done, total: None)
    with ExitStack() as stack:
        try:
            opened = Store.open(store_dir, read_only=True, allow_older=True)
        except StoreBusyError as exc:
            raise StoreBusyError(f"{exc}{_server_hint(store_dir)}") from None
        store = stack.enter_context(opened)
        staging = stack.enter_context(_private_folder(store_dir / "tmp"))
        version = store.schema_version()
        exported, views = export_tables(
            store,
            staging / TABLES_DIR,
            lambda table, done, total: report(f"exporting {table.name}", done, total),
        )
        # Copied while the database is still held, so no other process changes both.
        side, skipped = _store_files(store_dir)
        staged_side: list[tuple[str, Path, int]] = []
        for position, (rel, path) in enumerate(side):
            report("copying store files", position, len(side))
            target = staging / FILES_DIR / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            staged_side.append((rel, target, stat.S_IMODE(path.stat().st_mode)))
        store.close()  # the snapshot is taken: other processes may have the store again

        entries: list[tuple[ManifestFile, Path]] = []
        tables: list[ManifestTable] = []
        for item in exported:
            name = f"{TABLES_DIR}/{item.table.name}.parquet"
            entries.append(
                (
                    ManifestFile(
                        path=name,
                        kind="table",
                        bytes=item.path.stat().st_size,
                        sha256=_sha256(item.path),
                    ),
                    item.path,
                )
            )
            tables.append(
                ManifestTable(
                    name=item.table.name,
                    rows=item.digest.rows,
                    checksum=item.digest.checksum,
                    file=name,
                    create_sql=item.table.sql,
                    columns=[ManifestColumn(name=c.name, type=c.type) for c in item.table.columns],
                )
            )
        for rel, path, mode in staged_side:
            entry = ManifestFile(
                path=f"{FILES_DIR}/{rel}",
                kind="store-file",
                bytes=path.stat().st_size,
                sha256=_sha256(path),
                mode=mode,
            )
            entries.append((entry, path))
        manifest = Manifest(
            carewarden_version=__version__,
            duckdb_version=duckdb.__version__,
            schema_version=version,
            created_at=utcnow(),
            source=str(store_dir.resolve()),
            tables=tables,
            views=views,
            files=[e for e, _ in entries],
        )
        size = _write_archive(out, secret, manifest, entries, report)
    return BackupReport(
        action="create",
        archive=out,
        archive_bytes=size,
        store=store_dir,
        key=describe_key(secret),
        manifest=manifest,
        tables=[TableCheck(t.name, t.rows, t.checksum, True) for t in manifest.tables],
        files=_side_entries(manifest),
        seconds=time.perf_counter() - started,
        skipped=skipped,
    )


def _write_archive(
    out: Path,
    secret: Secret,
    manifest: Manifest,
    entries: list[tuple[ManifestFile, Path]],
    report: Progress,
) -> int:
    """Stream the archive into a temporary file beside ``out``, then rename it into place:
    ``out`` is either the old file or the whole new archive, never a part."""
    partial = out.parent / f".{out.name}.{secrets.token_hex(4)}.partial"
    total = sum(e.bytes for e, _ in entries)
    mtime = manifest.created_at.replace(tzinfo=dt.UTC).timestamp()
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw:
            writer = EncryptingWriter(raw, secret)
            with tarfile.open(
                fileobj=writer,
                mode="w|",
                format=tarfile.PAX_FORMAT,
            ) as tar:
                body = manifest.model_dump_json(indent=2).encode()
                _tar_entry(tar, MANIFEST_NAME, len(body), mtime, io.BytesIO(body))
                done = 0
                for entry, path in entries:
                    report("writing the archive", done, total)
                    with path.open("rb") as source:
                        _tar_entry(tar, entry.path, entry.bytes, mtime, source)
                    done += entry.bytes
            writer.finish()
            raw.flush()
            os.fsync(raw.fileno())
            size = writer.bytes_out
        os.replace(partial, out)
    except OSError as exc:
        raise BackupError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return size


@dataclass
class _Unpacked:
    manifest: Manifest
    folder: Path
    archive_bytes: int
    file_digests: dict[str, Digest] = field(default_factory=dict)


def _unpack(archive: Path, secret: Secret, dest: Path, report: Progress) -> _Unpacked:
    """Decrypt ``archive`` into ``dest``: every chunk authenticated, every entry listed by
    the manifest and matching its SHA-256, none missing, nothing after the final chunk."""
    try:
        size = archive.stat().st_size
        raw = archive.open("rb")
    except FileNotFoundError:
        raise RequestError(f"no such archive: {archive}") from None
    except OSError as exc:
        raise RequestError(f"cannot read {archive}: {exc.strerror}") from None
    with raw:
        reader = DecryptingReader(raw, secret)
        stream = io.BufferedReader(reader, COPY_BLOCK)
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                manifest = _read_manifest(tar)
                expected = {f.path: f for f in manifest.files}
                seen: set[str] = set()
                while (member := tar.next()) is not None:
                    entry = expected.get(member.name)
                    if entry is None or member.name in seen or not member.isfile():
                        raise BackupError(
                            f"the archive holds an entry its manifest does not list: "
                            f"{member.name!r}"
                        )
                    report("reading the archive", raw.tell(), size)
                    _extract(tar, member, entry, dest / entry.path)
                    seen.add(member.name)
            reader.drain()  # the tar padding and the final chunk: authenticated too
        except tarfile.TarError as exc:
            raise BackupError(
                f"the archive's content is not a readable tar stream: {exc}"
            ) from None
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"the archive lacks entries its manifest lists: {', '.join(missing)}")
    files = {f.path for f in manifest.files if f.kind == "table"}
    for table in manifest.tables:
        if table.file not in files:
            raise BackupError(f"the manifest names no file for table {table.name}")
    return _Unpacked(manifest, dest, size)


def _read_manifest(tar: tarfile.TarFile) -> Manifest:
    first = tar.next()
    if first is None or first.name != MANIFEST_NAME or not first.isfile():
        raise BackupError("the archive does not start with its manifest")
    if first.size > MAX_MANIFEST_BYTES:
        raise BackupError("the archive's manifest is implausibly large")
    source = tar.extractfile(first)
    assert source is not None
    return Manifest.parse(source.read())


def _extract(
    tar: tarfile.TarFile, member: tarfile.TarInfo, entry: ManifestFile, target: Path
) -> None:
    source = tar.extractfile(member)
    assert source is not None
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    written = 0
    with target.open("xb") as out:
        while block := source.read(COPY_BLOCK):
            digest.update(block)
            out.write(block)
            written += len(block)
    if written != entry.bytes or digest.hexdigest() != entry.sha256:
        raise BackupError(f"{entry.path} in the archive does not match its SHA-256 in the manifest")


def _compare(manifest: Manifest, table: ManifestTable, found: Digest, what: str) -> TableCheck:
    """Check a digest computed now against the manifest's: rows always; the checksum too,
    unless another DuckDB (whose hash() may differ) made the manifest."""
    if found.rows != table.rows:
        raise BackupError(
            f"table {table.name}: {what} has {found.rows:,} rows, the manifest says {table.rows:,}"
        )
    if found.checksum == table.checksum:
        return TableCheck(table.name, found.rows, found.checksum, True)
    if manifest.duckdb_version != duckdb.__version__:
        return TableCheck(
            table.name,
            found.rows,
            found.checksum,
            True,
            f"checksum made by DuckDB {manifest.duckdb_version}, this is "
            f"{duckdb.__version__}: the file's SHA-256 matched instead",
        )
    raise BackupError(
        f"table {table.name}: the checksum of {what} ({found.checksum}) differs from the "
        f"manifest's ({table.checksum})"
    )


def verify(archive: Path, secret: Secret, *, progress: Progress | None = None) -> BackupReport:
    """Decrypt and check ``archive`` without restoring it; raise :class:`BackupError` with
    the first problem found."""
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    with _private_folder(Path(tempfile.gettempdir())) as staging:
        unpacked = _unpack(archive, secret, staging, report)
        manifest = unpacked.manifest
        report("checking tables", 0, len(manifest.tables))
        digests = parquet_digests([(staging / t.file, t.info()) for t in manifest.tables])
        checks = [
            _compare(manifest, t, d, "its Parquet file")
            for t, d in zip(manifest.tables, digests, strict=True)
        ]
    return BackupReport(
        action="verify",
        archive=archive,
        archive_bytes=unpacked.archive_bytes,
        store=None,
        key=describe_key(secret),
        manifest=manifest,
        tables=checks,
        files=_side_entries(manifest),
        seconds=time.perf_counter() - started,
    )


def _side_entries(manifest: Manifest) -> list[StoreFileEntry]:
    return [
        StoreFileEntry(f.path.removeprefix(f"{FILES_DIR}/"), f.bytes)
        for f in manifest.files
        if f.kind == "store-file"
    ]


def _store_file_target(work: Path, entry: ManifestFile) -> Path:
    rel = entry.path.removeprefix(f"{FILES_DIR}/")
    top = rel.split("/")[0]
    if (
        not entry.path.startswith(f"{FILES_DIR}/")
        or top in EXCLUDED_NAMES
        or rel.endswith(EXCLUDED_SUFFIXES)
    ):
        raise BackupError(f"the archive's store file {entry.path!r} may not be restored")
    return work / rel


def restore(
    archive: Path, target: Path, secret: Secret, *, progress: Progress | None = None
) -> BackupReport:
    """Restore ``archive`` into the new (or empty) folder ``target``.

    Everything happens in a private sibling folder first (decrypting, checking, loading every
    table into the schema the archive was made with, comparing each table's rows and checksum
    with the archive's, then upgrading the schema); only then is it renamed to ``target``.
    A restore that fails leaves no folder behind."""
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise RequestError(f"{target} is not empty: restore into a new or empty folder")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.restoring-", dir=target.parent))
    except OSError as exc:
        raise RequestError(f"cannot create a folder beside {target}: {exc.strerror}") from None
    try:
        staging = work / "tmp" / "restore"
        unpacked = _unpack(archive, secret, staging, report)
        manifest = unpacked.manifest
        if manifest.schema_version > LATEST_VERSION:
            raise BackupError(
                f"the archive has schema version {manifest.schema_version}, this Carewarden "
                f"knows up to {LATEST_VERSION}: restore it with Carewarden "
                f"{manifest.carewarden_version} or later"
            )
        side = [(f, _store_file_target(work, f)) for f in manifest.files if f.kind == "store-file"]
        with Store.open(work, migrate_to=manifest.schema_version) as store:
            imported = import_tables(
                store,
                [(t.info(), staging / t.file) for t in manifest.tables],
                manifest.views,
                lambda table, done, total: report(f"loading {table.name}", done, total),
            )
            checks = []
            for table, loaded in zip(manifest.tables, imported, strict=True):
                if loaded.table_digest != loaded.file_digest:
                    raise BackupError(
                        f"table {table.name}: the restored table ({loaded.table_digest}) "
                        f"differs from its archived file ({loaded.file_digest})"
                    )
                check = _compare(manifest, table, loaded.table_digest, "the restored table")
                if loaded.created:
                    note = "created from its archived definition"
                    check = TableCheck(check.name, check.rows, check.checksum, check.ok, note)
                checks.append(check)
            applied = store.migrate()
            checkpoint(store)
        for entry, path in side:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / entry.path, path)
            path.chmod(entry.mode & 0o777)
        shutil.rmtree(work / "tmp")
        if target.exists():
            target.rmdir()  # empty, as checked above
        os.rename(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BackupReport(
        action="restore",
        archive=archive,
        archive_bytes=unpacked.archive_bytes,
        store=target,
        key=describe_key(secret),
        manifest=manifest,
        tables=checks,
        files=_side_entries(manifest),
        seconds=time.perf_counter() - started,
        upgraded_to=applied[-1] if applied else None,
    )
