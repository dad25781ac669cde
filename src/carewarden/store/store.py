"""The store: a DuckDB database in the store folder. The only module that opens DuckDB.

Writes happen in :meth:`Store.transaction` blocks, so one source file lands whole or not at
all (DuckDB's write-ahead log drops an uncommitted transaction after a crash). Context
tables (patients, workforce, encounters…) are keyed: a newer export of the same resource
replaces the older row. The access log is append-only and de-duplicated on
``(event_id, patient_id)``, so overlapping exports add nothing twice.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from blake3 import blake3

from carewarden.errors import StoreBusyError, StoreError
from carewarden.model import Rejected
from carewarden.store.schema import DATA_TABLES, LATEST_VERSION, MIGRATIONS

DB_FILE = "carewarden.duckdb"

# Rows per row group of the store's tables: half DuckDB's default of 122,880. A row group
# is compressed when it fills, on the writing thread, and a file's last one only after its
# parse has ended, with one core idle; smaller ones shorten that wait. Measured on 2 cores,
# interleaved runs of an ingest with the store's close: full-size Suricata EVE 4% faster
# for a file of 500,000 records and 8% for 200,000, compact EVE and Zeek TSV 5%. It is an
# option of the connection, not of the file: a store written with another size opens as
# before, and any DuckDB opens this one.
ROW_GROUP_ROWS = 61_440
CATALOG = "store"  # the name the open store file is attached under

# Keyed context tables: primary key columns. A later row with the same key replaces the older.
KEYED_TABLES: dict[str, tuple[str, ...]] = {
    "department": ("department_id",),
    "workforce": ("user_id",),
    "workforce_role": ("role_id",),
    "patient": ("patient_id",),
    "encounter": ("encounter_id",),
    "care_team": ("care_team_id",),
    "sbom": ("sbom_id",),
    "kev": ("cve_id",),
    "epss": ("cve_id",),
    "advisory": ("advisory_id",),
    "vex_document": ("doc_id",),
    "dr_snapshot": ("snapshot_id",),
    "asset_import": ("record_uid",),
}
# Keyed tables whose rows carry a version time: a stored row is replaced only by a row at
# least as new (an advisory re-published later wins, an older copy ingested after is skipped).
VERSIONED_TABLES: dict[str, str] = {"advisory": "modified", "vex_document": "modified"}
# Child tables replaced wholesale when their parent row is written again.
CHILD_TABLES: dict[str, tuple[str, str]] = {
    "encounter_participant": ("encounter", "encounter_id"),
    "care_team_member": ("care_team", "care_team_id"),
    "sbom_component": ("sbom", "sbom_id"),
    "dr_backup_set": ("dr_snapshot", "snapshot_id"),
}
# Children of a versioned parent: they land only with the parent version this file wrote.
VERSIONED_CHILDREN: dict[str, tuple[str, str]] = {
    "advisory_range": ("advisory", "advisory_id"),
    "vex_statement": ("vex_document", "doc_id"),
}
APPEND_TABLES: dict[str, tuple[str, ...]] = {
    "ehr_access": ("event_id", "patient_id"),
    "security_event": ("event_uid",),
}


@dataclass(frozen=True)
class SourceFile:
    file_id: str
    kind: str
    path: str
    content_hash: str
    head_hash: str
    bytes: int
    records: int
    duplicates: int
    quarantined: int
    ingested_at: dt.datetime


def _other_files(file_id: str) -> str:
    """The SQL condition: a row ``e`` of another file than ``file_id`` in ``$lo``-``$hi``."""
    return f"e.file_id <> {_literal(file_id)} AND e.time BETWEEN $lo AND $hi"


class _TimeSpan:
    """The earliest and the latest ``time`` of the rows seen so far (None before any)."""

    def __init__(self) -> None:
        self.lo: dt.datetime | None = None
        self.hi: dt.datetime | None = None

    def widen(self, times: pa.Array | pa.ChunkedArray) -> None:
        bounds = pc.min_max(times).as_py()
        if bounds["min"] is None:
            return
        self.lo = bounds["min"] if self.lo is None else min(self.lo, bounds["min"])
        self.hi = bounds["max"] if self.hi is None else max(self.hi, bounds["max"])

    def params(self) -> dict[str, Any]:
        return {"lo": self.lo, "hi": self.hi}


def _literal(text: str) -> str:
    """A SQL string literal (for values the store itself made, such as file ids)."""
    return "'" + text.replace("'", "''") + "'"


def _connect(db: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection whose default database is the store file ``db``, attached with
    :data:`ROW_GROUP_ROWS` (``duckdb.connect(file)`` cannot set it).

    Opened in a DuckDB instance named after the file, so that stores opened on one file in
    one process share it, as ``duckdb.connect(file)`` shares its instance: each connection
    has its own transactions, and the last one closed writes the file whole. DuckDB refuses
    to open one file read-only and writable at once in a process, as before."""
    instance = f":memory:carewarden-{blake3(str(db.resolve()).encode()).hexdigest()[:32]}"
    con = duckdb.connect(instance)
    try:
        mode = ", READ_ONLY" if read_only else ""
        con.execute(
            f"ATTACH IF NOT EXISTS {_literal(str(db))} AS {CATALOG} "
            f"(ROW_GROUP_SIZE {ROW_GROUP_ROWS}{mode})"
        )
        con.execute(f"USE {CATALOG}")
    except BaseException:
        con.close()
        raise
    return con


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Store:
    """An open store. Use :meth:`open`; close it (or use it as a context manager)."""

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        self.path = path
        self.con = con
        self.read_only = read_only
        self._in_transaction = False

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: Path,
        *,
        read_only: bool = False,
        allow_older: bool = False,
        migrate_to: int | None = None,
    ) -> Store:
        """Open (creating and migrating when writable) the store in folder ``path``.

        ``allow_older`` lets a read-only reader that copies the data as it is (a backup) open
        a store whose schema is older than this version's; ``migrate_to`` stops the
        migrations of a writable store at that version (a restore loads an archive into the
        schema it was made with, then upgrades)."""
        db = path / DB_FILE
        if read_only and not db.exists():
            raise StoreError(f"no store at {path} (run `carewarden ingest` or `carewarden demo`)")
        if not read_only:
            path.mkdir(parents=True, exist_ok=True)
        try:
            con = _connect(db, read_only)
        except duckdb.Error as exc:  # a lock, a damaged file, read-only beside writable…
            if isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower():
                raise StoreBusyError(
                    f"the store {path} is held for writing by another Carewarden process; "
                    "stop it or run this command read-only against a copy"
                ) from exc
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")  # ours is Rich's, on the terminal only
        # Stored rows have no meaningful order (every query that needs one sorts): letting
        # DuckDB insert in parallel without keeping input order halves the time of an insert.
        con.execute("SET preserve_insertion_order = false")
        # Bounded memory: DuckDB spills joins and sorts to the store's tmp/ folder beyond this.
        con.execute("SET memory_limit = ?", [os.environ.get("CAREWARDEN_MEMORY_LIMIT", "2GB")])
        if not read_only:
            con.execute("SET temp_directory = ?", [str(path / "tmp")])
        store = cls(path, con, read_only)
        if read_only:
            version = store.schema_version()
            missing = sorted({m.version for m in MIGRATIONS} - store.applied_versions())
            if (version < LATEST_VERSION or missing) and not allow_older:
                con.close()
                lacking = (
                    f" without migration(s) {', '.join(map(str, missing))}"
                    if missing and version >= missing[0]
                    else ""
                )
                raise StoreError(
                    f"the store {path} has schema version {version}{lacking}; open it "
                    "writable once "
                    "(e.g. `carewarden detect`) to upgrade it"
                )
        else:
            store.migrate(up_to=migrate_to)
        return store

    def _exec(
        self, sql: str, params: list[Any] | dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run one statement and consume its result (DuckDB refuses a new statement while a
        previous result is unread); returns the rows, e.g. ``[(n,)]`` for an INSERT."""
        return self.con.execute(sql, params or []).fetchall()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- schema --------------------------------------------------------------------------
    def schema_version(self) -> int:
        exists = self._exec(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        )
        if exists[0][0] == 0:
            return 0
        version = self._exec("SELECT max(version) FROM schema_version")[0][0]
        return int(version) if version is not None else 0

    def applied_versions(self) -> set[int]:
        """The migrations recorded in ``schema_version``."""
        if self.schema_version() == 0:
            return set()
        return {int(v) for (v,) in self._exec("SELECT version FROM schema_version")}

    def migrate(self, up_to: int | None = None) -> list[int]:
        """Apply every migration not yet recorded (up to version ``up_to`` when given), in
        order; return those applied."""
        self._exec(
            "CREATE TABLE IF NOT EXISTS schema_version "
            "(version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)"
        )
        # Every migration not yet recorded, in order: a store made while a lower-numbered
        # migration was still unreleased (numbers are reserved ahead) gets it on opening.
        done = self.applied_versions()
        applied = []
        for migration in MIGRATIONS:
            if migration.version in done or (up_to is not None and migration.version > up_to):
                continue
            with self.transaction():
                self._exec(migration.sql)
                self._exec(
                    "INSERT INTO schema_version VALUES (?, ?, ?)",
                    [migration.version, migration.description, utcnow()],
                )
            applied.append(migration.version)
        return applied

    # -- transactions --------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work: committed whole on success, rolled back on any error."""
        if self._in_transaction:
            yield
            return
        self._exec("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._exec("ROLLBACK")
            raise
        else:
            self._exec("COMMIT")
        finally:
            self._in_transaction = False

    @contextmanager
    def one_writer_thread(self) -> Iterator[None]:
        """DuckDB writes on one thread and compresses each row group as soon as it fills,
        while the caller parses the next rows on the other cores.

        Measured with bench/telemetry.py on 500,000 Suricata EVE records, the checkpoint at
        close included: one parallel insert of all the rows, after the parse, left partly
        filled row groups in the middle of the table in about half the runs, and the
        checkpoint then rewrote them on one core (as long again as the insert). Written in
        order as they fill, row groups need no rewrite, and the write overlaps the parse.

        ``threads`` is a database-wide setting: queries of other cursors of this store run
        on one thread meanwhile. Inside an open transaction this changes nothing, since a
        transaction that fails refuses the statements that would restore the settings."""
        if self._in_transaction:
            yield
            return
        names = ("threads", "write_buffer_row_group_count")
        before = {name: self._exec(f"SELECT current_setting('{name}')")[0][0] for name in names}
        self._exec("SET threads = 1")
        self._exec("SET write_buffer_row_group_count = 1")  # flush each row group as it fills
        try:
            yield
        finally:
            for name, value in before.items():
                self._exec(f"SET {name} = {int(value)}")

    # -- ingest bookkeeping --------------------------------------------------------------
    def has_content(self, kind: str, content_hash: str) -> bool:
        """Whether a file with this content was already ingested by this connector."""
        found = self._exec(
            "SELECT count(*) FROM source_file WHERE kind = ? AND content_hash = ?",
            [kind, content_hash],
        )
        return bool(found[0][0])

    def may_have_content(self, kind: str, size: int, head_hash: str) -> bool:
        """Whether an ingested file has the same size and first MiB (only then can it be the
        same content, and the whole file must be hashed before parsing)."""
        found = self._exec(
            "SELECT count(*) FROM source_file WHERE kind = ? AND bytes = ? AND head_hash = ?",
            [kind, size, head_hash],
        )
        return bool(found[0][0])

    def record_file(self, source: SourceFile) -> None:
        self._exec(
            "INSERT INTO source_file VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                source.file_id,
                source.kind,
                source.path,
                source.content_hash,
                source.head_hash,
                source.bytes,
                source.records,
                source.duplicates,
                source.quarantined,
                source.ingested_at,
            ],
        )

    def quarantine(self, file_id: str, kind: str, path: str, rows: list[Rejected]) -> None:
        if not rows:
            return
        now = utcnow()
        table = pa.table(
            {
                "file_id": pa.array([file_id] * len(rows), pa.string()),
                "kind": pa.array([kind] * len(rows), pa.string()),
                "path": pa.array([path] * len(rows), pa.string()),
                "line": pa.array([r.line for r in rows], pa.int64()),
                "byte_offset": pa.array([r.byte_offset for r in rows], pa.int64()),
                "error": pa.array([r.error for r in rows], pa.string()),
                "raw": pa.array([r.raw for r in rows], pa.string()),
                "quarantined_at": pa.array([now] * len(rows), pa.timestamp("us")),
            }
        )
        self._insert_arrow("quarantine", table)

    # -- writing rows --------------------------------------------------------------------
    @contextmanager
    def _incoming(self, rows: pa.Table) -> Iterator[None]:
        """``rows`` as the view ``_incoming``, for one statement that reads it once.

        Registered as a stream, which DuckDB copies as it reads. A registered Table stays
        referenced by the transaction until it ends, dropped view or not (a catalog entry
        lives as long as the transaction that changed it): every batch of a file stayed in
        memory until its commit, and an ingest's memory grew with the file."""
        stream = pa.RecordBatchReader.from_batches(rows.schema, rows.to_batches())
        self.con.register("_incoming", stream)
        try:
            yield
        finally:
            self.con.unregister("_incoming")

    def write(self, table: str, rows: pa.Table, file_id: str) -> tuple[int, int]:
        """Write ``rows`` (columns named as the table's, without ``file_id``) from one file.

        Returns (rows written, rows skipped as already present).
        """
        if rows.num_rows == 0:
            return 0, 0
        if table in KEYED_TABLES:
            written = self._upsert(table, rows, KEYED_TABLES[table], file_id)
            if table in VERSIONED_TABLES:
                return written, int(rows.num_rows) - written
            return written, 0
        if table in VERSIONED_CHILDREN:
            return self._insert_children(table, rows, file_id), 0
        if table in CHILD_TABLES:
            return self._insert_arrow(table, rows, file_id), 0
        if table in APPEND_TABLES:
            return self._append_new(table, rows, APPEND_TABLES[table], file_id)
        raise StoreError(f"unknown table {table!r}")

    def _insert_arrow(self, table: str, rows: pa.Table, file_id: str | None = None) -> int:
        cols = ", ".join(f'"{c}"' for c in rows.column_names)
        target, source = (
            (cols, cols)
            if file_id is None
            else (f"{cols}, file_id", f"{cols}, {_literal(file_id)}")
        )
        with self._incoming(rows):
            self._exec(f"INSERT INTO {table} ({target}) SELECT {source} FROM _incoming")
        return int(rows.num_rows)

    def _upsert(self, table: str, rows: pa.Table, key: tuple[str, ...], file_id: str) -> int:
        keys = ", ".join(key)
        cols = ", ".join(f'"{c}"' for c in rows.column_names) + ", file_id"
        # An explicit position: the last occurrence of a key in the batch must win.
        rows = rows.append_column("_pos", pa.array(range(rows.num_rows), pa.int64()))
        order, newer = "_pos DESC", ""
        if table in VERSIONED_TABLES:
            # The newest version wins, in the batch and against the store.
            at = VERSIONED_TABLES[table]
            order = f"{at} DESC NULLS LAST, _pos DESC"
            match = " AND ".join(f"e.{k} = n.{k}" for k in key)
            newer = f"WHERE NOT EXISTS (SELECT 1 FROM {table} e WHERE {match} AND e.{at} > n.{at})"
        with self._incoming(rows):
            # Last occurrence in the batch wins, as a later line of an export would.
            self._exec(
                f"CREATE OR REPLACE TEMP TABLE _latest AS SELECT {cols} FROM "
                f"(SELECT *, {_literal(file_id)} AS file_id FROM _incoming n {newer}) "
                f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {order}) = 1"
            )
        children = {**CHILD_TABLES, **VERSIONED_CHILDREN}
        for child, (parent, parent_key) in children.items():
            if parent == table:
                self._exec(
                    f"DELETE FROM {child} WHERE {parent_key} IN (SELECT {parent_key} FROM _latest)"
                )
        self._exec(
            f"DELETE FROM {table} WHERE ({keys}) IN (SELECT ({keys}) FROM _latest)"
            if len(key) > 1
            else f"DELETE FROM {table} WHERE {keys} IN (SELECT {keys} FROM _latest)"
        )
        self._exec(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _latest")
        written = self._exec("SELECT count(*) FROM _latest")[0][0]
        self._exec("DROP TABLE _latest")
        return int(written)

    def _insert_children(self, table: str, rows: pa.Table, file_id: str) -> int:
        """Insert rows of a versioned parent's child table whose parent row this file wrote
        (children of a stale version, skipped by :meth:`_upsert`, are dropped too)."""
        parent, key = VERSIONED_CHILDREN[table]
        cols = ", ".join(f'"{c}"' for c in rows.column_names)
        with self._incoming(rows):
            inserted = self._exec(
                f"INSERT INTO {table} ({cols}, file_id) "
                f"SELECT {cols}, {_literal(file_id)} FROM _incoming WHERE {key} IN "
                f"(SELECT {key} FROM {parent} WHERE file_id = {_literal(file_id)})"
            )
        return int(inserted[0][0])

    def _append_new(
        self, table: str, rows: pa.Table, key: tuple[str, ...], file_id: str
    ) -> tuple[int, int]:
        cols = ", ".join(f'"{c}"' for c in rows.column_names)
        on = " AND ".join(f"e.{k} = n.{k}" for k in key)
        # Checked against the rows of *other* files (those of this file are de-duplicated
        # once, in finish_file) in the batch's time range; zone maps make finding none, the
        # usual case, cheap, and then the insert needs no join at all.
        span = _TimeSpan()
        span.widen(rows["time"])
        overlap = self._other_files_in(table, file_id, span)
        insert = f"INSERT INTO {table} ({cols}, file_id) SELECT {cols}, {_literal(file_id)}"
        with self._incoming(rows):
            if overlap:
                other = _other_files(file_id)
                check = f"WHERE NOT EXISTS (SELECT 1 FROM {table} e WHERE {on} AND {other})"
                inserted = self._exec(f"{insert} FROM _incoming n {check}", span.params())
            else:
                inserted = self._exec(f"{insert} FROM _incoming n")
        written = int(inserted[0][0])
        return written, int(rows.num_rows) - written

    def _other_files_in(self, table: str, file_id: str, span: _TimeSpan) -> bool:
        """Whether ``table`` holds rows of files other than ``file_id`` in ``span``."""
        if span.lo is None:
            return False
        query = f"SELECT EXISTS (SELECT 1 FROM {table} e WHERE {_other_files(file_id)})"
        return bool(self._exec(query, span.params())[0][0])

    def append_stream(
        self, table: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch], file_id: str
    ) -> tuple[int, int]:
        """Append rows of one file to an append-only table as one INSERT that reads
        ``batches`` as they come; returns (rows written, rows skipped as already stored from
        another file). An exception of ``batches`` is raised here, as it was raised, after
        the rows before it were inserted (the caller's transaction rolls them back).

        DuckDB appends each batch as it arrives, and compresses each row group as it fills,
        while the caller's threads produce the next batches. One statement for a whole file,
        instead of one per batch, leaves less to write once the parse has ended (files of
        500,000 records, against one INSERT per batch of 61,440 rows: Zeek 8-13% faster,
        Suricata EVE 3-4%). The rows already stored from another file are then deleted, found
        in the file's time range: zone maps make finding none, the usual case, cheap; a file
        that repeats another is written and then deleted, which costs more than skipping its
        rows did (200,000 full-size EVE records: 1.00 s against 0.88 s). Repeats within the
        file are left to :meth:`finish_file`."""
        key = APPEND_TABLES[table]
        span = _TimeSpan()
        failure: list[BaseException] = []

        def observed() -> Iterator[pa.RecordBatch]:
            # An exception would reach DuckDB as a failed Arrow stream, and come back as a
            # DuckDB error without its type: end the stream instead, and raise it after.
            try:
                for batch in batches:
                    span.widen(batch.column("time"))
                    yield batch
            except BaseException as exc:
                failure.append(exc)

        cols = ", ".join(f'"{c}"' for c in schema.names)
        self.con.register("_stream", pa.RecordBatchReader.from_batches(schema, observed()))
        try:
            inserted = self._exec(
                f"INSERT INTO {table} ({cols}, file_id) "
                f"SELECT {cols}, {_literal(file_id)} FROM _stream"
            )
        finally:
            self.con.unregister("_stream")
        if failure:
            raise failure[0]
        written = int(inserted[0][0])
        if not self._other_files_in(table, file_id, span):
            return written, 0
        on = " AND ".join(f"e.{k} = n.{k}" for k in key)
        deleted = self._exec(
            f"DELETE FROM {table} n WHERE n.file_id = {_literal(file_id)} "
            f"AND n.time BETWEEN $lo AND $hi "
            f"AND EXISTS (SELECT 1 FROM {table} e WHERE {on} AND {_other_files(file_id)})",
            span.params(),
        )
        skipped = int(deleted[0][0])
        return written - skipped, skipped

    def finish_file(self, file_id: str) -> dict[str, int]:
        """Drop repeats of the same event within one file (keeping the first); return how
        many per table. Called once per file, before its ``source_file`` row is recorded."""
        removed: dict[str, int] = {}
        for table, key in APPEND_TABLES.items():
            keys = ", ".join(key)
            # Counting distinct keys first takes half the time of the window below, and a
            # file with no repeated event (the usual case) needs nothing more.
            repeated = self._exec(
                f"SELECT count(*) - count(DISTINCT ({keys})) FROM {table} "
                f"WHERE file_id = {_literal(file_id)}"
            )
            if not repeated[0][0]:
                removed[table] = 0
                continue
            deleted = self._exec(
                f"""
                DELETE FROM {table} WHERE rowid IN (
                    SELECT rowid FROM {table} WHERE file_id = {_literal(file_id)}
                    QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY rowid) > 1
                )
                """
            )
            removed[table] = int(deleted[0][0])
        return removed

    def _count(self, table: str) -> int:
        return int(self._exec(f"SELECT count(*) FROM {table}")[0][0])

    def replace_rows(self, table: str, key: str, rows: pa.Table) -> int:
        """Insert ``rows``, replacing the stored rows with the same ``key`` (the last row of
        a key in ``rows`` wins)."""
        if rows.num_rows == 0:
            return 0
        cols = ", ".join(f'"{c}"' for c in rows.column_names)
        rows = rows.append_column("_pos", pa.array(range(rows.num_rows), pa.int64()))
        self.con.register("_incoming", rows)
        try:
            self._exec(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM _incoming)")
            inserted = self._exec(
                f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming "
                f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _pos DESC) = 1"
            )
        finally:
            self.con.unregister("_incoming")
        return int(inserted[0][0])

    def replace_table(self, table: str, rows: pa.Table) -> int:
        """Replace every row of a derived table with ``rows`` (columns named as the table's)."""
        self._exec(f"DELETE FROM {table}")
        return self._insert_arrow(table, rows) if rows.num_rows else 0

    def append(self, table: str, rows: pa.Table) -> int:
        """Insert ``rows`` (columns named as the table's) into ``table``; return how many."""
        return self._insert_arrow(table, rows) if rows.num_rows else 0

    def rebuild_table(self, table: str, select_sql: str) -> int:
        """Replace every row of a derived table with the result of ``select_sql``."""
        self._exec(f"DELETE FROM {table}")
        return int(self._exec(f"INSERT INTO {table} {select_sql}")[0][0])

    def setting(self, key: str) -> str | None:
        found = self._exec("SELECT value FROM site_setting WHERE key = ?", [key])
        return str(found[0][0]) if found else None

    def set_setting(self, key: str, value: str) -> None:
        self._exec("INSERT OR REPLACE INTO site_setting VALUES (?, ?, ?)", [key, value, utcnow()])

    def save_model(self, model: pa.Table) -> None:
        """Record a fitted model (columns name, version, features, rows, blob)."""
        self.con.register("_model", model)
        try:
            self._exec(
                "INSERT INTO model SELECT name, version, features, rows, blob, ? FROM _model",
                [utcnow()],
            )
        finally:
            self.con.unregister("_model")
        # Keep the last few versions of each model, for comparison and audit; not all of them.
        self._exec(
            "DELETE FROM model WHERE rowid IN (SELECT rowid FROM model QUALIFY "
            "row_number() OVER (PARTITION BY name ORDER BY created_at DESC) > 5)"
        )

    def add_alerts(self, alerts: pa.Table) -> int:
        """Insert alerts whose ``alert_id`` is new; return how many were added.

        An alert already stored keeps its id, status and creation time, but takes the new
        evidence when later data added some (more events, a later last_seen, a new score and
        explanation): new data adds to an alert instead of repeating it."""
        if alerts.num_rows == 0:
            return 0
        cols = ", ".join(alerts.column_names)
        self.con.register("_alerts", alerts)
        try:
            self._exec(
                """
                UPDATE alert SET event_ids = n.event_ids, last_seen = n.last_seen,
                                 first_seen = n.first_seen, score = n.score,
                                 severity = n.severity, explanation = n.explanation
                FROM (SELECT DISTINCT ON (alert_id) * FROM _alerts) n
                WHERE alert.alert_id = n.alert_id
                  AND (alert.event_ids <> n.event_ids OR alert.score <> n.score
                       OR alert.explanation <> n.explanation)
                """
            )
            added = self._exec(
                f"INSERT INTO alert ({cols}, status, created_at) "
                f"SELECT DISTINCT ON (alert_id) {cols}, 'open', ? FROM _alerts "
                f"WHERE alert_id NOT IN (SELECT alert_id FROM alert)",
                [utcnow()],
            )
        finally:
            self.con.unregister("_alerts")
        return int(added[0][0])

    # -- reading -------------------------------------------------------------------------
    def table_counts(self) -> dict[str, int]:
        return {t: self._count(t) for t in DATA_TABLES}

    def sources(self) -> list[SourceFile]:
        rows = self._exec(
            "SELECT file_id, kind, path, content_hash, head_hash, bytes, records, duplicates, "
            "quarantined, ingested_at FROM source_file ORDER BY ingested_at, path"
        )
        return [SourceFile(*r) for r in rows]

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self._exec(sql, params)

    def row_batches(
        self, sql: str, params: list[Any] | None = None, size: int = 10_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of a query, ``size`` at a time (for results too large to hold at once)."""
        cursor = self.con.cursor()
        try:
            cursor.execute(f"USE {CATALOG}")
            result = cursor.execute(sql, params or [])
            while batch := result.fetchmany(size):
                yield batch
        finally:
            cursor.close()

    def cursor(self) -> Store:
        """Another connection to this open database, for one thread: its own transactions
        (snapshot isolation against the others) and temporary tables. A server process
        holds the store once and gives each request a cursor."""
        con = self.con.cursor()
        con.execute(f"USE {CATALOG}")
        con.execute("SET TimeZone = 'UTC'")
        return Store(self.path, con, self.read_only)

    def batches(
        self, sql: str, params: list[Any] | None = None, size: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        """The rows of a query as Arrow batches of about ``size`` rows, streamed: memory is
        bounded by the batch, not by the table. Run no other query until it is consumed."""
        reader = self.con.sql(sql, params=params or None).to_arrow_reader(size)
        yield from reader

    def arrow(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pa.Table:
        return self.con.sql(sql, params=params or None).to_arrow_table()
