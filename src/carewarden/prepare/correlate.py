"""Correlation: open alerts become cases, by entity and time.

Each open alert not yet in a case is given its entity, the first of the settings'
``entity_precedence`` that it names (a privacy alert names a user, so it goes to the user's
case). It joins an open (not closed) case of the same entity whose alerts lie within the
correlation window of it, the gap counted between the alert's and the case's first and last
seen times, the window's edge included; among several, the one active most recently. Else
it opens a case, with the playbook that matches it, whose tasks fall due counting from the
case's discovery (its opening). Alerts are taken in order of first seen, so a run of alerts
each within the window of the last stays one case. Running it again adds nothing.

Detectors that name a host or a device fill the alert columns ``host`` and ``device_id``;
until their migration adds them, alerts name users and patients only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa

from carewarden.detect.engine import user_descriptions
from carewarden.prepare import history
from carewarden.prepare.case_settings import CaseSettings
from carewarden.prepare.cases import (
    SYSTEM_ACTOR,
    NewCase,
    case_id_of,
    insert_cases,
    insert_tasks,
    naive_utc,
    next_case_number,
    severest,
    stamp,
    task_rows,
)
from carewarden.prepare.history import Change
from carewarden.prepare.playbooks import Playbook, choose_playbook
from carewarden.store import Store

#: The alert column that names each kind of entity.
ENTITY_COLUMNS = {"user": "user_id", "host": "host", "device": "device_id", "patient": "patient_id"}


@dataclass
class CorrelationSummary:
    opened: int = 0  # new cases
    updated: int = 0  # existing cases that gained alerts
    linked: int = 0  # alerts put in a case
    without_entity: int = 0  # alerts naming no entity, left out of cases
    case_ids: list[str] = field(default_factory=list)  # the cases opened or updated


@dataclass
class _OpenCase:
    case_id: str
    first: dt.datetime
    last: dt.datetime
    severity: str
    playbook_id: str | None
    discovery_at: dt.datetime
    new: bool

    def near(self, first: dt.datetime, last: dt.datetime, window: dt.timedelta) -> bool:
        return first <= self.last + window and last >= self.first - window


def _uncased_alerts(store: Store) -> list[dict[str, Any]]:
    present = {
        r[0]
        for r in store.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'alert'"
        )
    }
    entities = ", ".join(
        f"{column if column in present else 'NULL'} AS {kind}"
        for kind, column in ENTITY_COLUMNS.items()
    )
    table: pa.Table = store.arrow(
        f"SELECT alert_id, rule_id, title, severity, first_seen, last_seen, "
        f"coalesce(mapping, []) AS mapping, {entities} FROM alert a "
        "WHERE status = 'open' "
        "AND NOT EXISTS (SELECT 1 FROM case_alert c WHERE c.alert_id = a.alert_id) "
        "ORDER BY first_seen, alert_id"
    )
    return list(table.to_pylist())


def _open_cases(store: Store) -> dict[tuple[str, str], list[_OpenCase]]:
    rows = store.query(
        """
        SELECT c.case_id, c.entity_kind, c.entity_id, c.severity, c.playbook_id,
               c.discovery_at, coalesce(min(a.first_seen), c.discovery_at),
               coalesce(max(a.last_seen), c.discovery_at)
        FROM incident_case c
        LEFT JOIN case_alert ca ON ca.case_id = c.case_id
        LEFT JOIN alert a ON a.alert_id = ca.alert_id
        WHERE c.status <> 'closed'
        GROUP BY c.case_id, c.entity_kind, c.entity_id, c.severity, c.playbook_id, c.discovery_at
        """
    )
    found: dict[tuple[str, str], list[_OpenCase]] = {}
    for case_id, kind, entity, severity, playbook, discovery, first, last in rows:
        found.setdefault((kind, entity), []).append(
            _OpenCase(case_id, first, last, severity, playbook, discovery, new=False)
        )
    return found


def _title(
    kind: str,
    entity: str,
    alert_title: str,
    playbook: Playbook | None,
    people: dict[str, tuple[str, str]],
) -> str:
    what = playbook.title if playbook else alert_title
    if kind == "user" and entity in people:
        name, role = people[entity]
        return f"{what}: {name} ({role})"
    return f"{what}: {kind} {entity}"


def correlate(
    store: Store,
    settings: CaseSettings,
    *,
    now: dt.datetime | None = None,
    actor: str = SYSTEM_ACTOR,
) -> CorrelationSummary:
    """Put every open alert not yet in a case into one; see the module's description."""
    at = naive_utc(now)
    summary = CorrelationSummary()
    alerts = _uncased_alerts(store)
    if not alerts:
        return summary
    cases = _open_cases(store)
    users = sorted({str(a["user"]) for a in alerts if a["user"] is not None})
    people = user_descriptions(store, users)
    new_cases: list[NewCase] = []
    changes: list[Change] = []
    links: list[tuple[str, str]] = []
    updated: dict[str, _OpenCase] = {}
    late_tasks: list[dict[str, Any]] = []
    fresh: dict[str, _OpenCase] = {}
    number = next_case_number(store)
    for alert in alerts:
        entity = next(
            ((kind, str(alert[kind])) for kind in settings.entity_precedence if alert[kind]),
            None,
        )
        if entity is None:
            summary.without_entity += 1
            continue
        first, last = alert["first_seen"], alert["last_seen"]
        kind = entity[0]
        playbook = choose_playbook(settings.playbooks, alert["rule_id"], alert["mapping"], kind)
        near = [c for c in cases.get(entity, []) if c.near(first, last, settings.window)]
        if near:
            case = max(near, key=lambda c: (c.last, c.case_id))
            case.first, case.last = min(case.first, first), max(case.last, last)
            if not case.new:
                updated[case.case_id] = case
            if case.playbook_id is None and playbook is not None:
                case.playbook_id = playbook.id
                late_tasks += task_rows(case.case_id, playbook, case.discovery_at)
                changes.append(
                    Change(
                        case.case_id,
                        at,
                        actor,
                        "playbook-applied",
                        {
                            "playbook_id": playbook.id,
                            "tasks": [t.id for _, t in playbook.tasks()],
                            "alert_id": alert["alert_id"],
                        },
                    )
                )
        else:
            case_id = case_id_of(number)
            number += 1
            title = _title(kind, entity[1], alert["title"], playbook, people)
            opened = NewCase(case_id, kind, entity[1], title, alert["severity"], playbook, at, at)
            new_cases.append(opened)
            changes.append(opened.created(actor))
            case = _OpenCase(
                case_id,
                first,
                last,
                alert["severity"],
                playbook.id if playbook else None,
                at,
                new=True,
            )
            fresh[case_id] = case
            cases.setdefault(entity, []).append(case)
        links.append((case.case_id, alert["alert_id"]))
        changes.append(
            Change(
                case.case_id,
                at,
                actor,
                "alert-linked",
                {
                    "alert_id": alert["alert_id"],
                    "rule_id": alert["rule_id"],
                    "severity": alert["severity"],
                    "first_seen": stamp(first),
                },
            )
        )
        raised = severest(alert["severity"], case.severity)
        if raised != case.severity:
            changes.append(
                Change(
                    case.case_id,
                    at,
                    actor,
                    "severity",
                    {"severity": raised, "previous": case.severity},
                )
            )
            case.severity = raised
    # New cases are written with the severity their later alerts raised them to.
    new_cases = [replace(c, severity=fresh[c.case_id].severity) for c in new_cases]
    with store.transaction():
        insert_cases(store, new_cases)
        insert_tasks(store, late_tasks)
        for case in updated.values():
            store.query(
                "UPDATE incident_case SET severity = ?, playbook_id = ?, updated_at = ? "
                "WHERE case_id = ?",
                [case.severity, case.playbook_id, at, case.case_id],
            )
        if links:
            store.append(
                "case_alert",
                pa.table(
                    {
                        "case_id": [c for c, _ in links],
                        "alert_id": [a for _, a in links],
                        "linked_at": pa.array([at] * len(links), pa.timestamp("us")),
                    }
                ),
            )
        history.append(store, changes)
    summary.opened = len(new_cases)
    summary.updated = len(updated)
    summary.linked = len(links)
    summary.case_ids = [c.case_id for c in new_cases] + sorted(updated)
    return summary
