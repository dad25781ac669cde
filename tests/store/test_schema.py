"""The store's schema, migrations and table contracts."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from carewarden.errors import StoreBusyError, StoreError
from carewarden.store import Store
from carewarden.store.schema import LATEST_VERSION, MIGRATIONS
from carewarden.store.store import DB_FILE
from carewarden.tables import SCHEMAS


def test_new_store_is_at_latest_version(store: Store) -> None:
    """A new store has every migration applied and recorded."""
    assert store.schema_version() == LATEST_VERSION
    recorded = [r[0] for r in store.query("SELECT version FROM schema_version ORDER BY 1")]
    assert recorded == [m.version for m in MIGRATIONS]


def test_old_store_is_upgraded_on_open(tmp_path: Path) -> None:
    """Opening a store made by an older release applies the missing migrations, once."""
    folder = tmp_path / "old"
    folder.mkdir()
    con = duckdb.connect(str(folder / DB_FILE))
    con.execute("CREATE TABLE legacy_marker (x INTEGER)")  # a version-0 store: no schema_version
    con.close()
    with Store.open(folder) as opened:
        assert opened.schema_version() == LATEST_VERSION
        assert opened.query("SELECT count(*) FROM legacy_marker") == [(0,)]
    with Store.open(folder) as reopened:
        assert reopened.migrate() == []


def test_arrow_schemas_match_store_tables(store: Store) -> None:
    """Every connector-facing Arrow schema has exactly the store table's columns (+ file_id)."""
    for table, schema in SCHEMAS.items():
        columns = [
            r[0]
            for r in store.query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position",
                [table],
            )
        ]
        assert columns == [*schema.names, "file_id"], table


def test_read_only_open_of_missing_store_fails_clearly(tmp_path: Path) -> None:
    """Reading a store that does not exist says so instead of creating one."""
    with pytest.raises(StoreError, match="no store"):
        Store.open(tmp_path / "nothing", read_only=True)


def test_second_writer_gets_a_clear_message(tmp_path: Path) -> None:
    """A store held by another process gives StoreBusyError, not a raw lock error."""
    import subprocess
    import sys
    import time

    folder = tmp_path / "busy"
    Store.open(folder).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from carewarden.store import Store; "
            f"s = Store.open(Path({str(folder)!r})); print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        time.sleep(0.2)
        with pytest.raises(StoreBusyError, match="held for writing"):
            Store.open(folder)
    finally:
        holder.kill()
        holder.wait()


def test_read_only_open_of_an_old_store_asks_for_an_upgrade(tmp_path: Path) -> None:
    """A store at an older schema version, opened read-only, says how to upgrade it."""
    folder = tmp_path / "old"
    with Store.open(folder) as opened:
        opened.query("DELETE FROM schema_version WHERE version = ?", [LATEST_VERSION])
    # The version before the latest (numbers may skip: branches reserve their own).
    with pytest.raises(StoreError, match=f"schema version {MIGRATIONS[-2].version}"):
        Store.open(folder, read_only=True)


def test_security_events_keep_every_row_when_raw_moves_to_zstd(tmp_path: Path) -> None:
    """Migration 16 rebuilds ``security_event`` with ``raw`` in zstd: a store made before it
    keeps every row, in order, and new rows land in the new layout."""
    folder = tmp_path / "telemetry"
    columns = [f.name for f in SCHEMAS["security_event"]]
    values = {c: None for c in columns} | {"class_uid": 1, "event_id": 4624, "record_id": 1}
    with Store.open(folder, migrate_to=15) as old:
        old.query(
            f"INSERT INTO security_event ({', '.join(columns)}) "
            f"SELECT {', '.join('?' for _ in columns)} FROM range(3)",
            [
                {**values, "event_uid": "h/Security/1", "time": "2026-03-02 08:00:00"}[c]
                if c != "raw"
                else '{"Event": {"System": {}}}'
                for c in columns
            ],
        )
        before = old.query("SELECT * FROM security_event ORDER BY rowid")
    with Store.open(folder) as upgraded:
        assert upgraded.schema_version() == LATEST_VERSION
        assert upgraded.query("SELECT * FROM security_event ORDER BY rowid") == before
        upgraded.query("CHECKPOINT")
        compression = {
            row[0]
            for row in upgraded.query(
                "SELECT compression FROM pragma_storage_info('security_event') "
                "WHERE column_name = 'raw' AND segment_type = 'VARCHAR'"
            )
        }
        assert compression == {"ZSTD"}
