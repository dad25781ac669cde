"""`carewarden cases …` and `breach … CASE` on one store, from detection to verification."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from casekit import NOW, AddAlert
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.prepare.case_settings import CaseSettings
from carewarden.prepare.correlate import correlate
from carewarden.report.html import render_report
from carewarden.services.overview import overview
from carewarden.store import Store
from carewarden.store.store import DB_FILE

runner = CliRunner(env={"COLUMNS": "250", "CAREWARDEN_ACTOR": "privacy-officer"})

INCIDENT: dict[str, Any] = {
    "discovery_date": "2026-03-04",
    "affected_by_state": {"TX": 2},
    "phi_types": ["name", "diagnosis"],
    "encrypted": False,
    "recipient": "workforce",
    "acquired_or_viewed": True,
    "mitigated": False,
}


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def detected_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture hospital ingested and detected once per module: its cases are open."""
    store = str(tmp_path_factory.mktemp("detected") / "store")
    export = Path(__file__).parents[1] / "data" / "fhir" / "export"
    assert invoke("ingest", "fhir", str(export), "--store", store).exit_code == 0
    result = invoke("detect", "--store", store)
    assert result.exit_code == 0, result.output
    assert "opened" in result.output and "alert(s) linked" in result.output
    return Path(store)


@pytest.fixture
def detected(detected_once: Path, tmp_path: Path) -> str:
    """A copy of the detected store, for one test to change."""
    copy = tmp_path / "store"
    shutil.copytree(detected_once, copy)
    return str(copy)


def test_cases_round_trip(detected: str) -> None:
    """list → show → assign → note → task-done → status → close → verify, each change in
    the case's history with its actor."""
    s = ("--store", detected)
    listed = invoke("cases", "list", *s, "--format", "jsonl")
    assert listed.exit_code == 0, listed.output
    cases = [json.loads(line) for line in listed.output.splitlines()]
    assert cases and [c["risk"] for c in cases] == sorted((c["risk"] for c in cases), reverse=True)
    top = cases[0]["case_id"]
    assert invoke("cases", "assign", top, "alice", *s).exit_code == 0
    assert invoke("cases", "note", top, "manager says no job reason", *s).exit_code == 0
    missing = invoke("cases", "task-done", top, "review-accesses", *s)
    assert missing.exit_code == 2 and "--evidence" in missing.output
    done = invoke("cases", "task-done", top, "review-accesses", "--evidence", "share/x", *s)
    assert done.exit_code == 0, done.output
    assert invoke("cases", "status", top, "contained", *s).exit_code == 0
    shown = invoke("cases", "show", top, *s, "--format", "json")
    detail = json.loads(shown.output)
    assert detail["case"]["owner"] == "alice" and detail["case"]["status"] == "contained"
    kinds = [h["kind"] for h in detail["history"]]
    assert kinds[0] == "created" and kinds[-4:] == ["assigned", "note", "task-done", "status"]
    assert {h["actor"] for h in detail["history"][-4:]} == {"privacy-officer"}
    assert len(detail["alerts"]) == cases[0]["alerts"]
    times = [a["first_seen"] for a in detail["alerts"]]
    assert times == sorted(times)
    text = invoke("cases", "show", top, *s, "--as-of", "2099-01-01")
    assert text.exit_code == 0 and "OVERDUE" in text.output and "done" in text.output
    closed = invoke("cases", "close", top, "--disposition", "true-positive", "--note", "HR", *s)
    assert closed.exit_code == 0
    only_closed = invoke("cases", "list", *s, "--status", "closed", "--format", "jsonl")
    assert [json.loads(x)["case_id"] for x in only_closed.output.splitlines()] == [top]
    verified = invoke("cases", "verify", *s)
    assert verified.exit_code == 0 and "verified" in verified.output
    head = verified.output.split("head ")[1].split()[0]
    assert invoke("cases", "verify", *s, "--expect", head).exit_code == 0
    overdue = invoke("cases", "list", *s, "--overdue", "--as-of", "2099-01-01", "--format", "jsonl")
    assert top not in overdue.output and overdue.output.strip()


def test_tampering_makes_verify_exit_1(detected: str) -> None:
    """An edit made with DuckDB behind Carewarden's back is reported, exit 1."""
    with duckdb.connect(str(Path(detected) / DB_FILE)) as con:
        con.execute("UPDATE case_event SET actor = 'mallory' WHERE seq = 1")
    result = invoke("cases", "verify", "--store", detected)
    assert result.exit_code == 1
    assert "record 1" in result.output and "edited" in result.output


def test_unknown_ids_and_bad_options_exit_2(detected: str) -> None:
    """An unknown case, task or status, or a bad option: a message naming it, exit 2."""
    s = ("--store", detected)
    for args in (
        ("cases", "show", "C-0404"),
        ("cases", "assign", "C-0404", "alice"),
        ("cases", "note", "C-0404", "x"),
        ("cases", "close", "C-0404", "--disposition", "benign"),
        ("cases", "task-done", "C-0404", "t", "--evidence", "x"),
        ("breach", "assess", "C-0404"),
    ):
        result = invoke(*args, *s)
        assert result.exit_code == 2 and "C-0404" in result.output, (args, result.output)
    assert invoke("cases", "task-done", "C-0001", "nope", "--evidence", "x", *s).exit_code == 2
    assert invoke("cases", "close", "C-0001", "--disposition", "maybe", *s).exit_code == 2
    assert invoke("cases", "status", "C-0001", "closed", *s).exit_code == 2
    assert invoke("cases", "list", "--format", "xml", *s).exit_code == 2
    assert invoke("cases", "list", "--status", "done", *s).exit_code == 2
    assert invoke("cases", "show", "C-0001", "--as-of", "yesterday", *s).exit_code == 2
    assert invoke("cases", "correlate", "--window", "soon", *s).exit_code == 2
    opened = invoke("cases", "open", "--entity", "device:X", "--title", "t", "--playbook", "no", *s)
    assert opened.exit_code == 2 and "no playbook 'no'" in opened.output


def test_breach_record_assess_and_letters_for_a_case(detected: str, tmp_path: Path) -> None:
    """`breach record CASE --input FILE` attaches a validated incident; `breach assess CASE`
    gives the same determination as the file; `breach letters CASE` writes the drafts."""
    s = ("--store", detected)
    path = tmp_path / "incident.json"
    path.write_text(json.dumps(INCIDENT), encoding="utf-8")
    without = invoke("breach", "assess", "C-0001", *s)
    assert without.exit_code == 2 and "breach record C-0001" in without.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**INCIDENT, "encrypted": "no"}), encoding="utf-8")
    refused = invoke("breach", "record", "C-0001", "--input", str(bad), *s)
    assert refused.exit_code == 2 and "bad.json" in refused.output and "encrypted" in refused.output
    assert invoke("breach", "record", "C-0001", "--input", str(path), *s).exit_code == 0
    from_case = invoke("breach", "assess", "C-0001", "--format", "json", *s)
    from_file = invoke("breach", "assess", "--input", str(path), "--format", "json")
    assert from_case.exit_code == 0, from_case.output
    assert json.loads(from_case.output) == json.loads(from_file.output)
    assert json.loads(from_case.output)["breach"] is True
    text = invoke("breach", "assess", "C-0001", *s)
    assert "Reasoning" in text.output and "Breach of unsecured PHI" in text.output
    both = invoke("breach", "assess", "C-0001", "--input", str(path), *s)
    assert both.exit_code == 2
    out = tmp_path / "drafts"
    letters = invoke("breach", "letters", "C-0001", "--out", str(out), *s)
    assert letters.exit_code == 0 and (out / "individual_notice.txt").exists()
    shown = invoke("cases", "show", "C-0001", *s)
    assert "Breach assessment: breach of unsecured PHI" in shown.output
    assert invoke("cases", "verify", *s).exit_code == 0


def test_open_by_hand(detected: str) -> None:
    """`cases open` starts a case with a playbook for an incident no detector sees."""
    s = ("--store", detected)
    opened = invoke(
        "cases",
        "open",
        "--entity",
        "device:LAPTOP-0042",
        "--title",
        "Laptop stolen",
        "--playbook",
        "lost-stolen-device",
        "--severity",
        "high",
        "--discovery",
        "2026-03-05T08:00:00+00:00",
        *s,
    )
    assert opened.exit_code == 0, opened.output
    case_id = opened.output.split()[-1]
    detail = json.loads(invoke("cases", "show", case_id, "--format", "json", *s).output)
    assert detail["case"]["entity_kind"] == "device" and detail["alerts"] == []
    assert detail["tasks"][0]["due_at"] == "2026-03-05T12:00:00Z"  # record-report: 4 h


def test_report_preparedness_section(
    store: Store, add_alert: AddAlert, settings: CaseSettings
) -> None:
    """The report's Preparedness section lists open cases, overdue tasks (on the clock
    given) and the breach determination of a case with a recorded incident."""
    from carewarden.prepare import cases as ops
    from carewarden.prepare.incident import Incident

    add_alert(user="u1")
    add_alert(user="u2")
    correlate(store, settings, now=NOW)
    ops.record_breach(store, "C-0002", Incident.model_validate(INCIDENT), actor="po", now=NOW)
    ops.set_status(store, "C-0001", "closed", actor="po", disposition="benign", now=NOW)
    later = NOW + dt.timedelta(days=2)
    figures = overview(store, now=later)
    html = render_report(figures)
    section = html[html.index("<h2>Preparedness</h2>") : html.index("Highest-scoring alerts")]
    assert figures.preparedness is not None
    assert figures.preparedness.open_count == 1 and figures.preparedness.by_status["closed"] == 1
    assert "C-0002" in section and "restrict-access" in section and "C-0001" not in section
    assert "breach of unsecured PHI" in section
    assert f"{figures.preparedness.overdue[0].hours_overdue:.0f}" in section
    assert "<script" not in html
    users = {u.case_id: u.status for u in figures.top_users}
    assert users == {"C-0002": "open", "C-0001": "closed"}
