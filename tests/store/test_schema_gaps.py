"""Migrations numbered ahead of release: a store that has a later one still gets an earlier."""

from __future__ import annotations

from pathlib import Path

import pytest

from carewarden.errors import StoreError
from carewarden.store import Store
from carewarden.store.schema import MIGRATIONS


def _drop_patch_plan(folder: Path) -> None:
    """Make the store look like one created before migration 14 was released (15 applied)."""
    with Store.open(folder) as opened:
        opened.query("DROP TABLE patch_snapshot_item")
        opened.query("DROP TABLE patch_snapshot")
        opened.query("DELETE FROM schema_version WHERE version = 14")


def test_missing_lower_migration_is_applied_on_open(tmp_path: Path) -> None:
    """A store at version 15 lacking migration 14 gets it when opened writable, once."""
    assert [m.version for m in MIGRATIONS] == sorted(m.version for m in MIGRATIONS)
    folder = tmp_path / "gap"
    _drop_patch_plan(folder)
    with Store.open(folder) as opened:
        assert 14 in opened.applied_versions()
        assert opened.query("SELECT count(*) FROM patch_snapshot") == [(0,)]
    with Store.open(folder) as reopened:
        assert reopened.migrate() == []


def test_read_only_open_names_the_missing_migration(tmp_path: Path) -> None:
    """Read-only, the same store asks for an upgrade and names the migration it lacks."""
    folder = tmp_path / "gap"
    _drop_patch_plan(folder)
    with pytest.raises(StoreError, match="without migration\\(s\\) 14"):
        Store.open(folder, read_only=True)
