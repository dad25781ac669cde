"""`carewarden investigate user|patient`: timelines with each access's explanation."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from carewarden.cli.main import app

runner = CliRunner(env={"COLUMNS": "250"})


def _store(tmp_path: Path, data: Path) -> str:
    store = str(tmp_path / "s")
    assert runner.invoke(app, ["ingest", "fhir", str(data / "fhir" / "export"), "--store",
                               store, "-q"]).exit_code == 0
    assert runner.invoke(app, ["detect", "--store", store, "-q"]).exit_code == 0
    return store


def test_user_timeline_shows_explanations_and_alerts(tmp_path: Path, data: Path) -> None:
    """A user's accesses come oldest first, each explained or UNEXPLAINED, with its alerts."""
    store = _store(tmp_path, data)
    result = runner.invoke(app, ["investigate", "user", "pr-alvarez", "--store", store,
                                 "--tz", "America/Chicago"])
    assert result.exit_code == 0, result.output
    assert "Julia M. Alvarez" in result.output and "Nurse (Intensive Care Unit)" in result.output
    lines = [line for line in result.output.splitlines() if "2026-03-0" in line]
    assert len(lines) == 2
    assert "Maria Alvarez" in lines[0] and "department" in lines[0]  # her ICU's patient
    assert "UNEXPLAINED" in lines[1] and "privacy.self_access" in lines[1]
    assert "2026-03-03 02:14" in lines[0]  # shown in the requested zone


def test_patient_timeline_as_jsonl(tmp_path: Path, data: Path) -> None:
    """Everyone who opened a patient's chart, one JSON object per access."""
    store = _store(tmp_path, data)
    result = runner.invoke(app, ["investigate", "patient", "pt-late", "--store", store,
                                 "--format", "jsonl"])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["user_id"] for r in rows] == ["pr-okafor", "pr-gone"]
    assert all(r["explanation"] == "UNEXPLAINED" for r in rows)
    assert "privacy.terminated_account" in rows[1]["alerts"]


def test_unknown_subject_and_bad_dates_are_errors(tmp_path: Path, data: Path) -> None:
    """An id the store does not know exits 1; a malformed --since exits 2."""
    store = _store(tmp_path, data)
    missing = runner.invoke(app, ["investigate", "user", "nobody", "--store", store])
    assert missing.exit_code == 1 and "no user 'nobody'" in missing.output
    bad = runner.invoke(app, ["investigate", "user", "pr-alvarez", "--store", store,
                              "--since", "yesterday"])
    assert bad.exit_code == 2


def test_since_and_until_bound_the_timeline(tmp_path: Path, data: Path) -> None:
    """--since/--until (local times) keep only the accesses in between."""
    store = _store(tmp_path, data)
    result = runner.invoke(app, ["investigate", "user", "pr-alvarez", "--store", store,
                                 "--since", "2026-03-04", "--format", "jsonl"])
    assert [json.loads(x)["event_id"] for x in result.output.splitlines()] == ["ae-4"]
