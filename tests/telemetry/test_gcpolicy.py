"""The collector's bulk thresholds hold inside the block only, also when it raises."""

from __future__ import annotations

import gc

import pytest

from carewarden.gcpolicy import BULK_THRESHOLDS, bulk_allocation


def test_bulk_thresholds_inside_the_block_and_restored_after() -> None:
    before = gc.get_threshold()
    with bulk_allocation():
        assert gc.get_threshold() == BULK_THRESHOLDS
    assert gc.get_threshold() == before


def test_restored_when_the_block_raises() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), bulk_allocation():
        raise RuntimeError("bad batch")
    assert gc.get_threshold() == before
