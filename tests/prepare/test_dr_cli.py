"""`carewarden dr import|status|history`: output formats and exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from drkit import AS_OF, problems, row, write_inventory
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.store import Store

runner = CliRunner(env={"COLUMNS": "250"})
AT = AS_OF.strftime("%Y-%m-%dT%H:%MZ")


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_import_then_status_exits_1_when_a_critical_system_is_not_ready(tmp_path: Path) -> None:
    """The table names each not-ready system with its reasons; exit 1 (a tier-1 system is not
    ready)."""
    store = str(tmp_path / "store")
    path = write_inventory(tmp_path / "inv.yaml", problems())
    result = invoke("dr", "import", str(path), "--store", store)
    assert result.exit_code == 0, result.output
    assert "imported, snapshot of 2026-03-09 12:00 UTC with 5 backup set(s)" in result.output
    result = invoke("dr", "import", str(path), "--store", store)
    assert result.exit_code == 0 and "already imported" in result.output
    result = invoke("dr", "status", "--store", store, "--at", AT)
    assert result.exit_code == 1, result.output
    assert "not ready critical system PACS:" in result.output
    assert "no immutable or offline copy" in result.output
    assert "not ready critical system Active Directory:" in result.output
    assert "1 of 5 system(s) ready; critical (tier 1): 1 of 5 ready." in result.output


def test_status_exits_0_when_every_critical_system_is_ready(tmp_path: Path) -> None:
    """A tier-2 system that is not ready does not fail the check."""
    store = str(tmp_path / "store")
    rows = [row("Epic EHR"), row("ERP", system_kind="erp", tier=2, immutable_copy=False)]
    invoke("dr", "import", str(write_inventory(tmp_path / "inv.yaml", rows)), "--store", store)
    result = invoke("dr", "status", "--store", store, "--at", AT)
    assert result.exit_code == 0, result.output
    assert "not ready ERP:" in result.output
    assert "critical (tier 1): 1 of 1 ready" in result.output


def test_status_jsonl_has_one_object_per_set(tmp_path: Path) -> None:
    """jsonl: system, set, the four flags, the findings and ready, per backup set."""
    store = str(tmp_path / "store")
    invoke("dr", "import", str(write_inventory(tmp_path / "i.yaml", problems())), "--store", store)
    result = invoke("dr", "status", "--store", store, "--at", AT, "--format", "jsonl")
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [r["system"] for r in records] == [
        "Active Directory",
        "Epic EHR",
        "Lab",
        "PACS",
        "Pharmacy",
    ]
    by_system = {r["system"]: r for r in records}
    pacs = by_system["PACS"]
    assert pacs["set"] == "images" and pacs["ready"] is False and pacs["system_ready"] is False
    assert (pacs["rpo_met"], pacs["rto_met"], pacs["restore_test_overdue"]) == (True, True, False)
    assert pacs["immutable_or_offline"] is False
    (finding,) = pacs["findings"]
    assert finding["check"] == "no_immutable_copy" and finding["rule_id"] == "dr.no_immutable_copy"
    assert finding["severity"] == "high" and finding["blocking"] is True
    assert by_system["Lab"]["rto_met"] is False
    assert (
        by_system["Epic EHR"]["rpo_met"] is False
        and by_system["Epic EHR"]["backup_age_hours"] == 30
    )
    assert by_system["Pharmacy"]["ready"] is True and by_system["Pharmacy"]["findings"] == []
    assert by_system["Active Directory"]["restore_test_overdue"] is True
    assert pacs["rule_32110"]["immutable_or_offline"] is False


def test_status_csv(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    invoke("dr", "import", str(write_inventory(tmp_path / "i.yaml", problems())), "--store", store)
    result = invoke("dr", "status", "--store", store, "--at", AT, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 5
    lab = next(r for r in rows if r["system"] == "Lab")
    assert lab["rto_met"] == "False" and lab["findings"].startswith("rto_exceeded: the last")


def test_import_reports_quarantined_rows_and_exits_1(tmp_path: Path) -> None:
    """A quarantined row is printed as FILE:LINE: reason, and the import exits 1."""
    path = write_inventory(tmp_path / "inv.yaml", [row("Epic EHR"), row("PACS", rpo_hours=0)])
    result = invoke("dr", "import", str(path), "--store", str(tmp_path / "s"))
    assert result.exit_code == 1
    assert f"quarantined {path}:18: rpo_hours: Input should be greater than 0" in result.output
    assert "1 backup set(s), 1 quarantined" in result.output


def test_import_refuses_unknown_csv_columns_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("system,colour\nEpic,red\n", encoding="utf-8")
    result = invoke("dr", "import", str(path), "--store", str(tmp_path / "s"))
    assert result.exit_code == 1
    assert f"{path}:1: unknown column(s) ['colour']" in result.output
    assert "Traceback" not in result.output


def test_import_csv_with_mapping_and_at(tmp_path: Path) -> None:
    """--mapping reads a backup tool's export; --at dates the snapshot (site zone: UTC)."""
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "columns: {system: App, system_kind: Kind, tier: Tier, rpo_hours: RPO, rto_hours: RTO,"
        " last_successful_backup: Last, immutable_copy: WORM, offline_copy: Tape,"
        " copies: Copies, offsite: Offsite}\n",
        encoding="utf-8",
    )
    export = tmp_path / "report.csv"
    export.write_text(
        "App,Kind,Tier,RPO,RTO,Last,WORM,Tape,Copies,Offsite\n"
        "Epic,ehr,1,24,8,2026-03-09T06:00:00Z,true,false,2,true\n",
        encoding="utf-8",
    )
    store = str(tmp_path / "s")
    result = invoke(
        "dr", "import", str(export), "--store", store, "--mapping", str(mapping), "--at", AT
    )
    assert result.exit_code == 0, result.output
    assert "snapshot of 2026-03-09 12:00 UTC with 1 backup set(s)" in result.output
    result = invoke("dr", "status", "--store", store, "--at", AT, "--format", "jsonl")
    (record,) = [json.loads(line) for line in result.output.splitlines()]
    assert record["restore_test_overdue"] is True and record["rto_met"] is None


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    """Nothing imported, a bad format or a bad mapping: exit 2 with a message."""
    store = str(tmp_path / "s")
    invoke(
        "dr", "import", str(write_inventory(tmp_path / "i.yaml", [row("Epic")])), "--store", store
    )
    Store.open(tmp_path / "empty").close()
    result = invoke("dr", "status", "--store", str(tmp_path / "empty"))
    assert result.exit_code == 2 and "no DR inventory imported yet" in result.output
    bad_mapping = tmp_path / "m.yaml"
    bad_mapping.write_text("columns: {colour: Colour}\n", encoding="utf-8")
    result = invoke(
        "dr", "import", str(tmp_path / "i.yaml"), "--store", store, "--mapping", str(bad_mapping)
    )
    assert result.exit_code == 2 and "unknown inventory field(s) ['colour']" in result.output
    result = invoke("dr", "status", "--store", store, "--format", "xml")
    assert result.exit_code == 2
    result = invoke("dr", "status", "--store", store, "--at", "2020-01-01")
    assert result.exit_code == 2 and "no DR inventory snapshot at or before" in result.output
    result = invoke("dr", "status", "--store", store, "--at", "soon")
    assert result.exit_code == 2 and "not an ISO date or time" in result.output


def test_history_shows_readiness_over_time(tmp_path: Path) -> None:
    store = str(tmp_path / "s")
    invoke("dr", "import", str(write_inventory(tmp_path / "a.yaml", problems())), "--store", store)
    result = invoke("dr", "history", "--store", store, "--format", "jsonl")
    assert result.exit_code == 0
    (point,) = [json.loads(line) for line in result.output.splitlines()]
    assert point["taken_at"] == "2026-03-09T12:00:00Z"
    assert (point["systems"], point["ready"], point["critical_ready"]) == (5, 1, 1)
    assert point["not_ready"] == ["Active Directory", "Epic EHR", "Lab", "PACS"]
