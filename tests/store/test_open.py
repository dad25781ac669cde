"""How a store file is opened: its row-group size, and several opens in one process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from carewarden.errors import StoreError
from carewarden.store import Store
from carewarden.store.store import DB_FILE, ROW_GROUP_ROWS


def test_tables_are_written_in_row_groups_of_the_store_size(
    tmp_path: Path, rows_per_row_group: Callable[[Store, str], list[int]]
) -> None:
    """DuckDB's default is 122,880 rows; the store writes ROW_GROUP_ROWS (a smaller last
    row group is compressed sooner after a file's parse ends)."""
    assert ROW_GROUP_ROWS < 122_880
    with Store.open(tmp_path / "s") as store:
        store.query(
            f"CREATE TABLE numbers AS SELECT range AS n FROM range({ROW_GROUP_ROWS * 2 + 5})"
        )
        assert rows_per_row_group(store, "numbers") == [ROW_GROUP_ROWS, ROW_GROUP_ROWS, 5]


def test_the_store_file_opens_in_plain_duckdb(tmp_path: Path) -> None:
    """The row-group size is not a property of the file: any DuckDB reads the store, and a
    file written by plain DuckDB opens as a store."""
    with Store.open(tmp_path / "s") as store:
        store.query("CREATE TABLE marker AS SELECT 42 AS answer")
    with duckdb.connect(str(tmp_path / "s" / DB_FILE), read_only=True) as con:
        assert con.execute("SELECT answer FROM marker").fetchall() == [(42,)]


def test_two_opens_in_one_process_share_the_store(tmp_path: Path) -> None:
    """As with ``duckdb.connect(file)``: a second open of the same folder in the process is
    another connection to the same database, each with its own transactions, and the store
    stays open until the last one closes."""
    first = Store.open(tmp_path / "s")
    second = Store.open(tmp_path / "s")
    try:
        first.query("CREATE TABLE shared (n INTEGER)")
        with first.transaction():
            first.query("INSERT INTO shared VALUES (1)")
            assert second.query("SELECT count(*) FROM shared") == [(0,)]  # not committed yet
        assert second.query("SELECT count(*) FROM shared") == [(1,)]
        first.close()
        second.query("INSERT INTO shared VALUES (2)")
    finally:
        second.close()
    with Store.open(tmp_path / "s", read_only=True) as reopened:
        assert reopened.query("SELECT sum(n) FROM shared") == [(3,)]


def test_cursors_and_row_batches_read_the_store(tmp_path: Path) -> None:
    """A cursor is a new connection to the instance: it reads the store's tables, not
    DuckDB's in-memory default database."""
    with Store.open(tmp_path / "s") as store:
        store.query("CREATE TABLE numbers AS SELECT range AS n FROM range(25)")
        with store.cursor() as cursor:
            assert cursor.query("SELECT count(*) FROM numbers") == [(25,)]
        sizes = [len(b) for b in store.row_batches("SELECT n FROM numbers", size=10)]
        assert sizes == [10, 10, 5]


def test_read_only_and_writable_at_once_in_one_process_fail_clearly(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s"), pytest.raises(StoreError, match="cannot open store"):
        Store.open(tmp_path / "s", read_only=True)


def test_a_folder_whose_name_holds_a_quote_opens(tmp_path: Path) -> None:
    folder = tmp_path / "st. mary's store"
    with Store.open(folder) as store:
        store.query("CREATE TABLE marker AS SELECT 1 AS one")
    with Store.open(folder, read_only=True) as store:
        assert store.query("SELECT one FROM marker") == [(1,)]


def test_a_file_that_is_no_database_fails_clearly(tmp_path: Path) -> None:
    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / DB_FILE).write_bytes(b"not a database " * 1000)
    with pytest.raises(StoreError, match=r"cannot open store .*not a valid DuckDB"):
        Store.open(folder)
