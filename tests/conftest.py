"""Shared fixtures: an empty store in a temporary folder and the hand-written test data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from carewarden.store import Store

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "store") as opened:
        yield opened


@pytest.fixture
def data() -> Path:
    return DATA


def _rows_per_row_group(store: Store, table: str) -> list[int]:
    found = store.query(
        f"SELECT row_group_id, sum(count) FROM pragma_storage_info('{table}') "
        "WHERE column_id = 0 AND column_path = '[0]' GROUP BY 1 ORDER BY 1"
    )
    return [int(rows) for _, rows in found]


@pytest.fixture
def rows_per_row_group() -> Callable[[Store, str], list[int]]:
    """The rows of each row group of a stored table, in order."""
    return _rows_per_row_group
