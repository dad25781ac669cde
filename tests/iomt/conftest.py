"""Fixtures for the IoMT tests: the handwritten documents and the shared real corpora."""

from __future__ import annotations

from pathlib import Path

import pytest

IOMT_DATA = Path(__file__).parent / "data"
# The shared corpora sit beside the repository: <repo>/../shared/corpora/iomt
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpora" / "iomt"


@pytest.fixture
def iomt_data() -> Path:
    return IOMT_DATA


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"../shared/corpora not present: {CORPUS.resolve()}")
    return CORPUS.resolve()
