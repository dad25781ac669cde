"""The built-in SQL privacy rules: each with a positive and a negative case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from carewarden.connectors.fhir import FhirConnector
from carewarden.detect.engine import SqlRule, builtin_detectors, run_detectors
from carewarden.errors import ConfigError
from carewarden.services.detect import detect
from carewarden.services.ingest import ingest
from carewarden.store import Store


@pytest.fixture
def hospital(store: Store, data: Path) -> Store:
    ingest(store, FhirConnector(), [data / "fhir" / "export"])
    return store


def _alerts(store: Store, rule: str) -> list[dict[str, Any]]:
    return list(
        store.arrow(
            "SELECT * FROM alert WHERE rule_id = ? ORDER BY user_id, patient_id", [rule]
        ).to_pylist()
    )


def _add(store: Store, tmp_path: Path, name: str, *resources: dict[str, Any]) -> None:
    path = tmp_path / f"{name}.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in resources))
    ingest(store, FhirConnector(), [path])


def _access(event_id: str, user: str, patient: str, when: str) -> dict[str, Any]:
    return {
        "resourceType": "AuditEvent",
        "id": event_id,
        "recorded": when,
        "action": "R",
        "agent": [{"who": {"reference": f"Practitioner/{user}"}, "requestor": True}],
        "entity": [{"what": {"reference": f"Patient/{patient}"}}],
    }


def test_self_access_fires_on_own_chart_only(hospital: Store) -> None:
    """Julia Alvarez opening her own chart alerts; opening her relative Maria's does not
    (that is for the family rule), nor does anyone else opening Julia's chart."""
    detect(hospital, site_tz="America/Chicago")
    alerts = _alerts(hospital, "privacy.self_access")
    assert [(a["user_id"], a["patient_id"]) for a in alerts] == [("pr-alvarez", "pt-self")]
    alert = alerts[0]
    assert alert["event_ids"] == ["ae-4"]
    assert alert["severity"] == "medium"
    assert (
        "Julia M. Alvarez (Nurse, Intensive Care Unit) opened their own chart"
        in (alert["explanation"])
    )
    assert "04:00 CST" in alert["explanation"]  # 10:00 UTC in the site's zone


def test_deceased_patient_fires_long_after_death_without_later_encounter(
    hospital: Store, tmp_path: Path
) -> None:
    """Opening the chart of a patient dead 9 months alerts; a recently deceased patient or one
    with an encounter after death (e.g. organ donation, autopsy) does not."""
    _add(
        hospital,
        tmp_path,
        "more",
        {"resourceType": "Patient", "id": "pt-recent", "deceasedDateTime": "2026-02-20"},
        {"resourceType": "Patient", "id": "pt-autopsy", "deceasedDateTime": "2025-01-01"},
        {
            "resourceType": "Encounter",
            "id": "e-autopsy",
            "subject": {"reference": "Patient/pt-autopsy"},
            "period": {"start": "2025-01-02", "end": "2025-01-03"},
        },
        _access("x1", "pr-okafor", "pt-recent", "2026-03-03T12:00:00Z"),
        _access("x2", "pr-okafor", "pt-autopsy", "2026-03-03T12:00:00Z"),
    )
    detect(hospital)
    alerts = _alerts(hospital, "privacy.deceased_patient")
    assert {(a["user_id"], a["patient_id"]) for a in alerts} == {
        ("pr-okafor", "pt-late"),
        ("pr-gone", "pt-late"),
    }
    assert all("died on 1 June 2025" in a["explanation"] for a in alerts)


def test_terminated_account_fires_after_employment_ended(hospital: Store, tmp_path: Path) -> None:
    """Access after the last role ended alerts; a current employee's access does not, nor does a
    user with one ended and one current role."""
    _add(
        hospital,
        tmp_path,
        "transfer",
        {
            "resourceType": "PractitionerRole",
            "id": "r-old",
            "practitioner": {"reference": "Practitioner/pr-moved"},
            "period": {"start": "2018-01-01", "end": "2025-12-31"},
        },
        {
            "resourceType": "PractitionerRole",
            "id": "r-new",
            "practitioner": {"reference": "Practitioner/pr-moved"},
            "period": {"start": "2026-01-01"},
        },
        _access("x3", "pr-moved", "pt-maria", "2026-03-03T12:00:00Z"),
    )
    detect(hospital)
    alerts = _alerts(hospital, "privacy.terminated_account")
    assert [(a["user_id"], a["patient_id"]) for a in alerts] == [("pr-gone", "pt-late")]
    assert "ended on 15 February 2026" in alerts[0]["explanation"]
    assert alerts[0]["score"] == 85


def test_rerunning_detections_adds_no_duplicates(hospital: Store) -> None:
    """A second run on an unchanged store creates no alert; ids are stable."""
    first = detect(hospital).alerts
    ids = {r[0] for r in hospital.query("SELECT alert_id FROM alert")}
    second = detect(hospital).alerts
    assert first.new_alerts == len(ids) > 0
    assert second.new_alerts == 0
    assert {r[0] for r in hospital.query("SELECT alert_id FROM alert")} == ids


def test_a_broken_detector_does_not_stop_the_others(hospital: Store, tmp_path: Path) -> None:
    """A rule whose SQL fails is reported; the other rules still run."""
    (tmp_path / "broken.yaml").write_text(
        "id: test.broken\ntitle: Broken\nseverity: low\nscore: 1\nexplanation: x\n"
    )
    (tmp_path / "broken.sql").write_text("SELECT * FROM no_such_table")
    broken = SqlRule.load(tmp_path / "broken.yaml")
    detect(hospital)  # explanations for the rules to read
    hospital.query("DELETE FROM alert")
    summary = run_detectors(hospital, [broken, *builtin_detectors()])
    assert "test.broken" in summary.failures
    assert "privacy.deceased_patient" in summary.failures  # its threshold was not given
    assert summary.new_alerts > 0


def test_invalid_rule_headers_are_refused(tmp_path: Path) -> None:
    """A rule with an unknown severity or no SQL file is a ConfigError naming the file."""
    (tmp_path / "r.yaml").write_text(
        "id: t\ntitle: T\nseverity: apocalyptic\nscore: 1\nexplanation: x\n"
    )
    (tmp_path / "r.sql").write_text("SELECT 1")
    with pytest.raises(ConfigError, match="severity"):
        SqlRule.load(tmp_path / "r.yaml")
    (tmp_path / "s.yaml").write_text("id: t\ntitle: T\nseverity: low\nscore: 1\nexplanation: x\n")
    with pytest.raises(ConfigError, match="sql file is missing"):
        SqlRule.load(tmp_path / "s.yaml")


def test_a_role_without_a_start_date_is_not_a_late_start(hospital: Store, tmp_path: Path) -> None:
    """A current role with no start date plus a new role starting later: accesses in between
    are not "before employment began"."""
    _add(
        hospital,
        tmp_path,
        "roles",
        {
            "resourceType": "PractitionerRole",
            "id": "r-a",
            "practitioner": {"reference": "Practitioner/pr-new"},
        },
        {
            "resourceType": "PractitionerRole",
            "id": "r-b",
            "practitioner": {"reference": "Practitioner/pr-new"},
            "period": {"start": "2026-04-01"},
        },
        _access("x4", "pr-new", "pt-maria", "2026-03-03T12:00:00Z"),
    )
    detect(hospital)
    assert [a["user_id"] for a in _alerts(hospital, "privacy.terminated_account")] == ["pr-gone"]


def test_new_evidence_updates_an_alert_instead_of_repeating_it(
    hospital: Store, tmp_path: Path
) -> None:
    """A later export that adds an access to the same (rule, user, patient, day) extends the
    stored alert's evidence; no second alert appears."""
    detect(hospital)
    before = hospital.query(
        "SELECT alert_id, event_ids FROM alert WHERE rule_id = 'privacy.self_access'"
    )
    _add(
        hospital, tmp_path, "more", _access("ae-5", "pr-alvarez", "pt-self", "2026-03-04T11:00:00Z")
    )
    second = detect(hospital)
    after = hospital.query(
        "SELECT alert_id, event_ids FROM alert WHERE rule_id = 'privacy.self_access'"
    )
    assert second.alerts.new_alerts == 0
    assert [a for a, _ in after] == [a for a, _ in before]
    assert after[0][1] == ["ae-4", "ae-5"]
