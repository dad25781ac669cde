"""The synthetic hospital's backup inventory."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from carewarden.prepare.dr import assess
from carewarden.prepare.dr_inventory import read_inventory
from carewarden.synth import SynthResult
from carewarden.synth.dr import FILE_NAME, inventory, write_inventory
from conftest import SMALL


def test_inventory_is_written_with_the_hospital(small_run: SynthResult) -> None:
    """generate() writes dr_inventory.yaml and lists it among its files."""
    assert small_run.dr_inventory == small_run.out_dir / FILE_NAME
    assert small_run.dr_inventory in small_run.files


def test_inventory_is_deterministic_per_seed(tmp_path: Path) -> None:
    """The same config writes the same bytes; another seed other times."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    a, b = write_inventory(tmp_path / "a", SMALL), write_inventory(tmp_path / "b", SMALL)
    assert a.read_bytes() == b.read_bytes()
    assert inventory(SMALL) != inventory(replace(SMALL, seed=SMALL.seed + 1))


def test_inventory_reads_cleanly_with_the_planted_gaps(small_run: SynthResult) -> None:
    """Every row validates; at the inventory's time every system is ready but two: the
    directory's restore test is overdue and the PACS image archive has no immutable or
    offline copy."""
    assert small_run.dr_inventory is not None
    read = read_inventory(small_run.dr_inventory)
    end = SMALL.start + dt.timedelta(days=SMALL.days)
    assert not read.rejected and len(read.sets) >= 7
    assert read.taken_at.date() == end
    systems = {s.system: s for s in assess([s for _, s in read.sets], read.taken_at)}
    assert {"Epic EHR", "PACS", "Active Directory"} <= set(systems)
    assert {"ehr", "pacs", "directory", "lab", "pharmacy"} <= {
        s.system_kind for s in systems.values()
    }
    assert sorted(name for name, s in systems.items() if not s.ready) == [
        "Active Directory",
        "PACS",
    ]
    findings = {
        (a.backup_set.system, f.check)
        for s in systems.values()
        for a in s.sets
        for f in a.findings
        if f.blocking
    }
    assert findings == {
        ("Active Directory", "restore_test_overdue"),
        ("PACS", "no_immutable_copy"),
    }
