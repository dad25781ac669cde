"""Alerts made by hand, for the case and playbook tests, and a fixed clock."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from casekit import T0, AddAlert

from carewarden.detect.engine import Alert, alerts_table
from carewarden.prepare.case_settings import CaseSettings, load_case_settings
from carewarden.store import Store


@pytest.fixture
def add_alert(store: Store) -> AddAlert:
    """``add_alert(user=…, patient=…, rule=…, severity=…, score=…, at=…, last=…, mapping=…)``
    stores one open alert and returns its id."""
    counter = itertools.count(1)

    def add(
        user: str | None = "u1",
        patient: str | None = "p1",
        rule: str = "privacy.vip",
        severity: str = "high",
        score: int = 80,
        at: dt.datetime = T0,
        last: dt.datetime | None = None,
        mapping: list[str] | None = None,
    ) -> str:
        alert_id = f"a{next(counter):03d}"
        alert = Alert(
            alert_id=alert_id,
            rule_id=rule,
            title=f"Rule {rule}",
            severity=severity,
            score=score,
            user_id=user,
            patient_id=patient,
            first_seen=at,
            last_seen=last or at,
            event_ids=[f"event-{alert_id}"],
            explanation=f"explanation of {alert_id}",
            mapping=mapping or [],
        )
        with store.transaction():
            store.add_alerts(alerts_table([alert]))
        return alert_id

    return add


@pytest.fixture
def settings() -> CaseSettings:
    """The shipped settings: a 7-day window, users first, the six playbooks."""
    return load_case_settings()
