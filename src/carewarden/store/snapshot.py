"""Every table of a store to Parquet and back, each with an order-independent checksum.

A backup (see :mod:`carewarden.services.backup`) needs three things from the store, and only
the store module may open DuckDB:

* the catalog, read from DuckDB itself (never a hard-coded list, so a table a later
  migration adds is carried without anyone remembering it);
* :func:`export_tables`: every table written to one zstd Parquet file, all inside one read
  transaction (one consistent snapshot), each file checked against the table it came from
  before it is trusted;
* :func:`import_tables`: the files loaded back, each table checked against its file.

The checksum of a table is ``count(*)`` and the sum, as a 128-bit integer, of DuckDB's
``hash()`` over each row's columns (in the catalog's order, each cast to its declared type).
A sum does not depend on row order (Parquet and inserts keep none), counts a repeated row
twice (a XOR would cancel it), and hashes NULLs, lists, structs, JSON, BLOBs and timestamps
as DuckDB stores them. ``hash()`` is DuckDB's, so the checksum is compared between two
sides computed by the same DuckDB (table and file when a backup is made, file and table when
it is restored); the SHA-256 of each file links the two ends across DuckDB versions.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from carewarden.errors import StoreError
from carewarden.store.store import Store

# Types Parquet cannot hold as DuckDB has them (DuckDB writes HUGEINT as DOUBLE, and a
# TIMETZ loses its offset): written as text, cast back on reading.
TEXT_TYPES = frozenset({"HUGEINT", "UHUGEINT", "TIME WITH TIME ZONE"})


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # as DuckDB names it, e.g. VARCHAR[], TIMESTAMP, STRUCT(x INTEGER)


@dataclass(frozen=True)
class TableInfo:
    name: str
    sql: str  # the CREATE TABLE statement, from the catalog
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Digest:
    rows: int
    checksum: str  # 32 hex digits: the 128-bit sum of the rows' hashes

    def __str__(self) -> str:
        return f"{self.rows:,} rows, checksum {self.checksum}"


@dataclass(frozen=True)
class ExportedTable:
    table: TableInfo
    digest: Digest
    path: Path


# An archived definition is only trusted as far as these checks go: an archive could be made
# by anyone who holds the key, so its SQL (column types, CREATE statements) must not run
# anything but a type or a table definition.
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_TYPE_CHARS = re.compile(r"[A-Za-z0-9_ ,()\[\]']*")
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_TYPE_CONSTRUCTORS = frozenset(
    {"STRUCT", "MAP", "UNION", "DECIMAL", "NUMERIC", "ENUM", "VARCHAR", "CHAR", "BPCHAR"}
)
_QUERY_WORDS = re.compile(r"\b(SELECT|FROM|PIVOT|UNPIVOT|TABLE)\b", re.IGNORECASE)


def _unquoted(sql: str) -> str:
    return _QUOTED.sub("''", sql)


def _statements(sql: str) -> list[duckdb.Statement]:
    try:
        return duckdb.extract_statements(sql)
    except duckdb.Error:
        return []  # not SQL at all: refused as any other unexpected definition


def check_definition(table: TableInfo) -> None:
    """Raise :class:`StoreError` unless ``table`` (from an archive) is a plain definition: a
    single CREATE TABLE statement without a query, and column types that are types."""
    statements = _statements(table.sql)
    body = _unquoted(table.sql)
    if (
        len(statements) != 1
        or statements[0].type != duckdb.StatementType.CREATE
        or not body.lstrip().upper().startswith("CREATE TABLE")
        or re.search(r"\bSELECT\b", body, re.IGNORECASE)
    ):
        raise StoreError(f"the archived definition of table {table.name} is not a CREATE TABLE")
    for column in table.columns:
        bare = _unquoted(column.type)
        calls = {m.group(1).upper() for m in _CALL.finditer(bare)}
        statements = _statements(f"SELECT CAST(NULL AS {column.type})")
        if (
            not _TYPE_CHARS.fullmatch(bare)
            or calls - _TYPE_CONSTRUCTORS
            or _QUERY_WORDS.search(bare)
            or len(statements) != 1
        ):
            raise StoreError(
                f"the archived type of column {table.name}.{column.name} is not a type: "
                f"{column.type!r}"
            )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _digest_sql(columns: Sequence[Column], source: str) -> str:
    if not columns:
        return f"SELECT count(*), 0 FROM {source}"
    values = ", ".join(f"CAST({_ident(c.name)} AS {c.type})" for c in columns)
    return f"SELECT count(*), coalesce(sum(hash({values})), 0) FROM {source}"


def _digest(con: duckdb.DuckDBPyConnection, columns: Sequence[Column], source: str) -> Digest:
    found = con.execute(_digest_sql(columns, source)).fetchall()
    rows, total = found[0]
    return Digest(int(rows), format(int(total), "032x"))


def _parquet(path: Path) -> str:
    return f"read_parquet({_literal(str(path))})"


def catalog(store: Store) -> list[TableInfo]:
    """The store's persistent tables in the main schema, sorted by name, with their columns.

    Raises :class:`StoreError` for catalog objects a backup would not carry (sequences and
    user-defined types), so a migration that adds one cannot make backups lose it silently."""
    con = store.con
    sequences = con.execute(
        "SELECT sequence_name FROM duckdb_sequences() "
        "WHERE database_name = current_database() AND NOT temporary"
    ).fetchall()
    types = con.execute(
        "SELECT type_name FROM duckdb_types() "
        "WHERE database_name = current_database() AND NOT internal AND schema_name = 'main'"
    ).fetchall()
    if sequences or types:
        names = ", ".join(str(r[0]) for r in sequences + types)
        raise StoreError(f"the store holds sequences or types a backup cannot carry: {names}")
    tables = con.execute(
        "SELECT table_name, sql FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary AND NOT internal ORDER BY table_name"
    ).fetchall()
    found: list[TableInfo] = []
    for name, sql in tables:
        columns = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main' "
            "AND table_name = ? ORDER BY column_index",
            [name],
        ).fetchall()
        found.append(
            TableInfo(str(name), str(sql), tuple(Column(str(c), str(t)) for c, t in columns))
        )
    return found


def views(store: Store) -> dict[str, str]:
    """The store's own views: name -> CREATE VIEW statement."""
    rows = store.con.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary AND NOT internal ORDER BY view_name"
    ).fetchall()
    return {str(name): str(sql) for name, sql in rows}


def table_digest(store: Store, table: TableInfo) -> Digest:
    return _digest(store.con, table.columns, _ident(table.name))


def export_tables(
    store: Store,
    folder: Path,
    on_table: Callable[[TableInfo, int, int], None] | None = None,
) -> tuple[list[ExportedTable], dict[str, str]]:
    """Write every table to ``folder/<table>.parquet`` (zstd) inside one read transaction;
    return the tables with their digests, and the views.

    Each file is read back and its digest compared with the table's: a column type Parquet
    cannot carry exactly fails here, when the backup is made, not when it is needed."""
    folder.mkdir(parents=True, exist_ok=True)
    con = store.con
    exported: list[ExportedTable] = []
    con.execute("BEGIN TRANSACTION")
    try:
        tables = catalog(store)
        found_views = views(store)
        for position, table in enumerate(tables):
            if on_table:
                on_table(table, position, len(tables))
            digest = table_digest(store, table)
            path = folder / f"{table.name}.parquet"
            values = ", ".join(
                f"CAST({_ident(c.name)} AS VARCHAR) AS {_ident(c.name)}"
                if c.type in TEXT_TYPES
                else _ident(c.name)
                for c in table.columns
            )
            con.execute(
                f"COPY (SELECT {values} FROM {_ident(table.name)}) TO {_literal(str(path))} "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
            written = _digest(con, table.columns, _parquet(path))
            if written != digest:
                raise StoreError(
                    f"table {table.name} does not survive its Parquet copy ({digest} in the "
                    f"store, {written} in the file): a column type Parquet cannot carry"
                )
            exported.append(ExportedTable(table, digest, path))
    finally:
        con.execute("ROLLBACK")  # read only: nothing to keep
    return exported, found_views


def _memory_connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    con.execute("SET memory_limit = ?", [os.environ.get("CAREWARDEN_MEMORY_LIMIT", "2GB")])
    return con


def parquet_digests(files: Sequence[tuple[Path, TableInfo]]) -> list[Digest]:
    """The digest of each table's Parquet file (its columns cast to the table's types),
    computed in an in-memory DuckDB: no store needed, for checking an archive on its own."""
    for _, table in files:
        check_definition(table)
    con = _memory_connection()
    try:
        return [_digest(con, table.columns, _parquet(path)) for path, table in files]
    except duckdb.Error as exc:
        raise StoreError(f"cannot read the Parquet copy of a table: {exc}") from exc
    finally:
        con.close()


@dataclass(frozen=True)
class ImportedTable:
    name: str
    file_digest: Digest  # the Parquet file, as this DuckDB reads it
    table_digest: Digest  # the table after loading
    created: bool  # not in the schema the migrations made: created from the archived SQL


def import_tables(
    store: Store,
    tables: Sequence[tuple[TableInfo, Path]],
    views_sql: dict[str, str] | None = None,
    on_table: Callable[[TableInfo, int, int], None] | None = None,
) -> list[ImportedTable]:
    """Replace the rows of each table with those of its Parquet file, in one transaction.

    A table the schema lacks is created from its archived CREATE statement; one whose
    columns differ from the archived ones is refused (nothing is loaded). Returns the digest
    of each file and of each loaded table, for the caller to compare."""
    existing = {t.name: t for t in catalog(store)}
    for table, _ in tables:
        check_definition(table)
        have = existing.get(table.name)
        if have is not None and have.columns != table.columns:
            ours = ", ".join(f"{c.name} {c.type}" for c in have.columns)
            theirs = ", ".join(f"{c.name} {c.type}" for c in table.columns)
            raise StoreError(
                f"table {table.name} has columns ({theirs}) in the archive but ({ours}) in "
                "the schema this store was created with"
            )
    imported: list[ImportedTable] = []
    try:
        with store.transaction():
            for position, (table, path) in enumerate(tables):
                if on_table:
                    on_table(table, position, len(tables))
                created = table.name not in existing
                if created:
                    store.con.execute(table.sql)
                    made = next(t for t in catalog(store) if t.name == table.name)
                    if made.columns != table.columns:
                        raise StoreError(
                            f"the archived definition of table {table.name} does not make "
                            "the archived columns"
                        )
                file_digest = _digest(store.con, table.columns, _parquet(path))
                names = ", ".join(_ident(c.name) for c in table.columns)
                values = ", ".join(f"CAST({_ident(c.name)} AS {c.type})" for c in table.columns)
                store.con.execute(f"DELETE FROM {_ident(table.name)}")
                if table.columns:
                    store.con.execute(
                        f"INSERT INTO {_ident(table.name)} ({names}) "
                        f"SELECT {values} FROM {_parquet(path)}"
                    )
                imported.append(
                    ImportedTable(table.name, file_digest, table_digest(store, table), created)
                )
            have_views = views(store)
            for name, sql in (views_sql or {}).items():
                if name not in have_views:
                    store.con.execute(sql)
    except duckdb.Error as exc:
        raise StoreError(f"cannot load the archived tables: {exc}") from exc
    return imported


def checkpoint(store: Store) -> None:
    """Write the database file whole (no write-ahead log left beside it)."""
    store.con.execute("CHECKPOINT")
