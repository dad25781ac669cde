"""`carewarden demo` end to end on a small hospital."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.services.demo import run_demo
from carewarden.store import Store
from carewarden.synth import SynthConfig

runner = CliRunner(env={"COLUMNS": "200"})


def test_demo_synthesizes_ingests_detects_and_reports(tmp_path: Path) -> None:
    """The demo's data land without a single quarantined record, every detection runs, and
    every planted self-access, deceased-patient and terminated-account violation is alerted."""
    config = SynthConfig(beds=40, days=3, seed=5, violation_rate=4.0)
    result = run_demo(tmp_path, tmp_path / "store", config)
    assert result.ingest.total("quarantined") == 0 and not result.ingest.failed
    assert not result.detect.alerts.failures
    assert result.detect.explained.explained_share > 0.95
    assert result.overview.tables["ehr_access"] == result.synth.accesses
    html = result.report.read_text("utf-8")
    # the fleet's segmentation policy is saved and checked: the injected pump shows, alone
    segmentation = result.overview.segmentation
    assert segmentation is not None and segmentation.violations == 1
    assert "segmentation.flow_not_allowed" in html
    assert "Carewarden demo" in html and "Cases: users by risk" in html
    # The backup inventory is imported and assessed at its own time, not today.
    assert result.dr is not None and result.dr.status == "imported"
    dr = result.overview.dr
    assert dr is not None and dr.at == result.dr.snapshot.taken_at
    assert sorted(s.system for s in dr.systems if not s.ready) == ["Active Directory", "PACS"]
    assert "Disaster-recovery readiness" in html and "Active Directory" in html
    # the estate's telemetry: ingested cleanly, Sigma findings on the three attacked hosts
    assert result.intrusion is not None and "Endpoint and network detections" in html
    assert all(s.total("quarantined") == 0 and not s.failed for s in result.telemetry)
    assert {h.host.split(".")[0][:7] for h in result.overview.endpoint} == {
        "NURS-WS",
        "FS01",
        "PACS01",
    }
    assert all(u.rules and any(r.startswith("privacy.") for r in u.rules)
               for u in result.overview.top_users)
    labels_path = tmp_path / "hospital" / "labels.jsonl"
    labels = [json.loads(x) for x in labels_path.read_text().splitlines() if x]
    with Store.open(tmp_path / "store", read_only=True) as store:
        alerted = {
            (rule, event)
            for rule, events in store.query("SELECT rule_id, event_ids FROM alert")
            for event in events
        }
    rules = {
        "self": "privacy.self_access",
        "terminated": "privacy.terminated_account",
        "deceased": "privacy.deceased_patient",
    }
    checked = 0
    for label in labels:
        rule = rules.get(label["kind"])
        if rule:
            assert any((rule, e) in alerted for e in label["event_ids"]), label
            checked += 1
    assert checked >= 3


def test_demo_command_prints_summary_and_report_path(tmp_path: Path) -> None:
    """`carewarden demo --out DIR` prints its summary and where the report is; exit code 0."""
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--beds", "20", "--days", "2"])
    assert result.exit_code == 0, result.output
    assert "alerts by rule" in result.output
    assert "Endpoint and network telemetry" in result.output and "FS01" in result.output
    assert f"Report: {tmp_path / 'report.html'}" in result.output
    assert "DR readiness: 5 of 7 systems ready, not ready: Active Directory, PACS" in result.output
    assert (tmp_path / "report.html").exists()


def test_synth_command_writes_fhir_and_labels(tmp_path: Path) -> None:
    """`carewarden synth` writes the NDJSON export and labels.jsonl; --format csv writes the
    access log as CSV."""
    out = tmp_path / "h"
    result = runner.invoke(app, ["synth", "--out", str(out), "--beds", "10", "--days", "1"])
    assert result.exit_code == 0, result.output
    assert (out / "AuditEvent.ndjson").exists() and (out / "labels.jsonl").exists()
    csv_out = tmp_path / "c"
    result = runner.invoke(
        app, ["synth", "--out", str(csv_out), "--beds", "10", "--days", "1", "--format", "csv"]
    )
    assert result.exit_code == 0
    assert (csv_out / "access_log.csv").read_text().startswith("event_id,access_time,user_id")
