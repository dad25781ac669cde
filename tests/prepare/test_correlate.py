"""Correlation: alerts grouped into cases by entity and time, once."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from casekit import NOW, T0, AddAlert

from carewarden.connectors.fhir import FhirConnector
from carewarden.prepare import cases as ops
from carewarden.prepare.case_settings import CaseSettings, load_case_settings
from carewarden.prepare.correlate import correlate
from carewarden.services.cases import list_cases
from carewarden.services.detect import detect
from carewarden.services.ingest import ingest
from carewarden.store import Store

DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)


def members(store: Store) -> dict[str, set[str]]:
    """case id -> its alert ids."""
    found: dict[str, set[str]] = {}
    for case_id, alert_id in store.query("SELECT case_id, alert_id FROM case_alert"):
        found.setdefault(case_id, set()).add(alert_id)
    return found


def case_of(store: Store, alert_id: str) -> str:
    return str(store.query("SELECT case_id FROM case_alert WHERE alert_id = ?", [alert_id])[0][0])


def test_window_edge_is_inclusive(
    store: Store, add_alert: AddAlert, settings: CaseSettings
) -> None:
    """An alert exactly one window after the case's last alert joins it; one second later
    opens a new case. A chain of alerts each within the window stays one case."""
    first = add_alert(at=T0)
    edge = add_alert(at=T0 + 7 * DAY)
    beyond = add_alert(at=T0 + 14 * DAY + SECOND)
    summary = correlate(store, settings, now=NOW)
    assert summary.opened == 2 and summary.linked == 3
    assert case_of(store, first) == case_of(store, edge) != case_of(store, beyond)


def test_window_from_settings_and_overlap(
    tmp_path: Path, store: Store, add_alert: AddAlert
) -> None:
    """The window comes from cases.yaml (or --window); an alert spanning into the case's
    window joins it even when it started earlier than the window before the case."""
    config = tmp_path / "cases.yaml"
    config.write_text("correlation_window: 36h\n", encoding="utf-8")
    settings = load_case_settings(config)
    assert settings.window == dt.timedelta(hours=36)
    a = add_alert(at=T0)
    near = add_alert(at=T0 + dt.timedelta(hours=36))
    far = add_alert(at=T0 + dt.timedelta(hours=72, seconds=1))
    long_running = add_alert(at=T0 - 10 * DAY, last=T0 - dt.timedelta(hours=30))
    correlate(store, settings, now=NOW)
    assert case_of(store, a) == case_of(store, near) == case_of(store, long_running)
    assert case_of(store, far) != case_of(store, a)
    override = load_case_settings(config, window="90m")
    assert override.window == dt.timedelta(minutes=90)


def test_entities_are_kept_apart(store: Store, add_alert: AddAlert, settings: CaseSettings) -> None:
    """Two users' alerts at the same time make two cases; an alert naming only a patient
    makes a patient case; one naming no entity stays out of cases and is counted."""
    u1 = add_alert(user="u1", patient="p1")
    u2 = add_alert(user="u2", patient="p1")
    patient_only = add_alert(user=None, patient="p9", rule="other.rule")
    nobody = add_alert(user=None, patient=None, rule="other.rule")
    summary = correlate(store, settings, now=NOW)
    assert summary.opened == 3 and summary.without_entity == 1
    entities = dict(
        store.query(
            "SELECT ca.alert_id, c.entity_kind || ':' || c.entity_id FROM case_alert ca "
            "JOIN incident_case c USING (case_id)"
        )
    )
    assert entities == {u1: "user:u1", u2: "user:u2", patient_only: "patient:p9"}
    assert nobody not in entities


def test_rerun_adds_nothing_and_new_alerts_update(
    store: Store, add_alert: AddAlert, settings: CaseSettings
) -> None:
    """Correlating again adds no case, link or history record; a later alert joins the
    open case, raises its severity to the highest and records why."""
    add_alert(severity="medium", score=55)
    correlate(store, settings, now=NOW)
    counts = [
        store.query(f"SELECT count(*) FROM {t}")[0][0]
        for t in ("incident_case", "case_alert", "case_event")
    ]
    again = correlate(store, settings, now=NOW)
    assert (again.opened, again.updated, again.linked) == (0, 0, 0)
    assert counts == [
        store.query(f"SELECT count(*) FROM {t}")[0][0]
        for t in ("incident_case", "case_alert", "case_event")
    ]
    (case_id,) = members(store)
    later = add_alert(severity="critical", score=95, at=T0 + 2 * DAY)
    summary = correlate(store, settings, now=NOW + DAY)
    assert (summary.opened, summary.updated, summary.case_ids) == (0, 1, [case_id])
    assert case_of(store, later) == case_id
    assert ops.get_case(store, case_id).severity == "critical"
    kinds = [
        r[0]
        for r in store.query(
            "SELECT kind FROM case_event WHERE case_id = ? ORDER BY seq", [case_id]
        )
    ]
    assert kinds == ["created", "alert-linked", "alert-linked", "severity"]


def test_closed_case_is_not_reopened(
    store: Store, add_alert: AddAlert, settings: CaseSettings
) -> None:
    """An alert for an entity whose case was closed opens a new case."""
    add_alert(at=T0)
    correlate(store, settings, now=NOW)
    (closed,) = members(store)
    ops.set_status(store, closed, "closed", actor="t", disposition="false-positive", now=NOW)
    assert store.query("SELECT DISTINCT status FROM alert") == [("closed",)]
    new = add_alert(at=T0 + DAY)
    correlate(store, settings, now=NOW)
    assert case_of(store, new) != closed


def test_playbook_by_rule_and_later_match(
    store: Store, add_alert: AddAlert, settings: CaseSettings
) -> None:
    """A privacy alert opens a case with the PHI-snooping playbook's tasks; a case opened
    by an alert no playbook matches gets one when a matching alert joins it."""
    add_alert(user="u1")
    unmatched = add_alert(user="u2", rule="custom.odd")
    correlate(store, settings, now=NOW)
    by_user = {c.entity_id: c for c in list_cases(store, now=NOW)}
    assert by_user["u1"].playbook_id == "phi-snooping"
    assert by_user["u1"].open_tasks == len(
        next(p for p in settings.playbooks if p.id == "phi-snooping").tasks()
    )
    assert by_user["u2"].playbook_id is None and by_user["u2"].open_tasks == 0
    add_alert(user="u2", at=T0 + DAY)
    correlate(store, settings, now=NOW)
    case = ops.get_case(store, case_of(store, unmatched))
    assert case.playbook_id == "phi-snooping"
    assert store.query("SELECT count(*) FROM case_task WHERE case_id = ?", [case.case_id])[0][0]


def test_device_and_host_alerts_when_detectors_name_them(
    store: Store, add_alert: AddAlert, settings: CaseSettings
) -> None:
    """Once the alert table has device and host columns, alerts naming them go to device
    and host cases, with the playbook their rule or ATT&CK mapping selects."""
    store.query("ALTER TABLE alert ADD COLUMN IF NOT EXISTS device_id VARCHAR")
    store.query("ALTER TABLE alert ADD COLUMN IF NOT EXISTS host VARCHAR")  # Sigma adds it
    pump = add_alert(user=None, patient=None, rule="iomt.pump_beacon")
    host = add_alert(user=None, patient=None, rule="sigma.x", mapping=["T1486"])
    store.query("UPDATE alert SET device_id = 'pump-7' WHERE alert_id = ?", [pump])
    store.query("UPDATE alert SET host = 'ws-12' WHERE alert_id = ?", [host])
    correlate(store, settings, now=NOW)
    found = {(c.entity_kind, c.entity_id): c.playbook_id for c in list_cases(store, now=NOW)}
    assert found == {
        ("device", "pump-7"): "compromised-iomt-device",
        ("host", "ws-12"): "ransomware",
    }
    # With hosts before users, an alert naming both goes to the host's case.
    both = add_alert(user="u5", patient=None, rule="sigma.y")
    store.query("UPDATE alert SET host = 'ws-99' WHERE alert_id = ?", [both])
    host_first = dataclasses.replace(settings, entity_precedence=("host", "user"))
    correlate(store, host_first, now=NOW)
    assert ops.get_case(store, case_of(store, both)).entity_id == "ws-99"


def test_repeat_offenders_rank_first(
    store: Store, add_alert: AddAlert, settings: CaseSettings
) -> None:
    """Risk: highest score + 5 per other rule + 3 per other day, + 10 per other standing
    case of the entity; a user with several kinds of violation on several days outranks a
    single alert with a higher score."""
    add_alert(user="single", score=85)
    add_alert(user="repeat", score=80, rule="privacy.family")
    add_alert(user="repeat", score=70, rule="privacy.coworker", at=T0 + DAY)
    add_alert(user="repeat", score=60, rule="privacy.neighbour", at=T0 + 2 * DAY)
    correlate(store, settings, now=NOW)
    ranked = list_cases(store, now=NOW)
    assert [c.entity_id for c in ranked] == ["repeat", "single"]
    assert [c.risk for c in ranked] == [80 + 5 * 2 + 3 * 2, 85]
    add_alert(user="single", score=50, at=T0 + 30 * DAY)  # beyond the window: a second case
    correlate(store, settings, now=NOW)
    singles = list_cases(store, entity_kind="user", now=NOW)
    assert [(c.entity_id, c.risk, c.other_cases) for c in singles if c.entity_id == "single"] == [
        ("single", 95, 1),
        ("single", 60, 1),
    ]


def test_detect_opens_cases_once(store: Store, data: Path) -> None:
    """`detect` ends by correlating: every alert lands in exactly one case, and a second
    detect opens none."""
    ingest(store, FhirConnector(), [data / "fhir" / "export"])
    first = detect(store)
    alerts = store.query("SELECT count(*) FROM alert")[0][0]
    assert alerts and first.cases.linked == alerts and first.cases.opened >= 1
    assert store.query("SELECT count(DISTINCT alert_id) FROM case_alert")[0][0] == alerts
    second = detect(store)
    assert (second.cases.opened, second.cases.linked) == (0, 0)
