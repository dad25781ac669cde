"""The README's disaster-recovery examples are valid and say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from carewarden.prepare.dr import assess
from carewarden.prepare.dr_inventory import InventoryCsvMapping, read_inventory
from carewarden.synth import SynthConfig
from carewarden.synth.dr import inventory

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    if not README.exists():
        pytest.skip("README.md not found")
    text = README.read_text("utf-8")
    start = text.index("## Disaster-recovery readiness")
    return text[start : text.index("\n## ", start + 1)]


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", _section(), re.S)


def test_worked_example_reads_and_assesses_as_the_readme_says(tmp_path: Path) -> None:
    """The example inventory imports cleanly; at its as_of the EHR is ready and the
    directory's restore test is overdue with the reason the README quotes."""
    path = tmp_path / "dr_inventory.yaml"
    path.write_text(_yaml_blocks()[0], "utf-8")
    read = read_inventory(path)
    assert not read.rejected and len(read.sets) == 2
    systems = {s.system: s for s in assess([s for _, s in read.sets], read.taken_at)}
    assert systems["Epic EHR"].ready
    (reason,) = systems["Active Directory"].reasons
    assert reason in " ".join(_section().split())


def test_mapping_example_is_a_valid_mapping(tmp_path: Path) -> None:
    path = tmp_path / "backup-tool.yaml"
    path.write_text(_yaml_blocks()[1], "utf-8")
    mapping = InventoryCsvMapping.load(path)
    assert mapping.columns["set"] == "Job Name" and mapping.ignore == ["Job Id", "Size (GB)"]


def test_demo_command_in_the_readme_names_the_inventory_time() -> None:
    """The `dr status --at` the README gives for the default demo is the inventory's time."""
    as_of = str(inventory(SynthConfig())["as_of"])  # e.g. 2026-03-09T11:00:00Z
    assert f"--at {as_of[:16]}Z" in " ".join(_section().split())
