"""Shared fixtures: an empty store in a temporary folder and the hand-written test data."""

from __future__ import annotations

from collections.abc import Iterator
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
