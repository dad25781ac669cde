"""What the cases hold, as the CLI, the overview and the report show them.

A case's **risk** (0-100) is the privacy officer's ranking: its highest alert score, plus 5
for each other kind of alert, 3 for each other day with an alert and 10 for each other case
of the same entity not dismissed (closed as false-positive, benign or duplicate), so repeat
offenders rank first. A case without alerts (opened by hand) takes its severity's score.
Open cases come before closed ones.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from carewarden.detect.engine import user_descriptions
from carewarden.errors import ConfigError
from carewarden.prepare import history
from carewarden.prepare.breach import Assessment, assess
from carewarden.prepare.cases import (
    CASE_COLUMNS,
    CaseRecord,
    get_case,
    incident_from_json,
    naive_utc,
)
from carewarden.prepare.history import HistoryRecord
from carewarden.prepare.incident import Incident
from carewarden.store import Store

ALERT_RISK = (
    "max(score) + 5 * (count(DISTINCT rule_id) - 1)"
    " + 3 * (count(DISTINCT date_trunc('day', first_seen)) - 1)"
)
"""Risk over a group of alerts (before the 0-100 clamp): the highest score, plus 5 for each
other kind of violation and 3 for each other day, so repeat offenders rank first."""

SEVERITY_RISK = {"critical": 90, "high": 75, "medium": 50, "low": 25, "info": 10}
DISMISSED = ("false-positive", "benign", "duplicate")


@dataclass(frozen=True)
class CaseSummary(CaseRecord):
    alerts: int
    risk: int
    rules: list[str]
    patients: int
    days: int
    explanations: list[str]
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    open_tasks: int
    overdue_tasks: int
    other_cases: int
    has_incident: bool
    entity_name: str | None = None
    entity_role: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: _json(v) for k, v in self.__dict__.items()}


# The columns CASES_SQL returns, in order: every field but the entity's name and role.
SUMMARY_FIELDS = list(CaseSummary.__dataclass_fields__)[:-2]


def _json(value: Any) -> Any:
    return value.isoformat() + "Z" if isinstance(value, dt.datetime) else value


CASES_SQL = f"""
WITH stats AS (
    SELECT ca.case_id, count(*) AS alerts,
           {ALERT_RISK} AS alert_risk,
           list(DISTINCT a.rule_id ORDER BY a.rule_id) AS rules,
           count(DISTINCT a.patient_id) AS patients,
           count(DISTINCT date_trunc('day', a.first_seen)) AS days,
           list(a.explanation ORDER BY a.score DESC, a.first_seen)[1:3] AS explanations,
           min(a.first_seen) AS first_seen, max(a.last_seen) AS last_seen
    FROM case_alert ca JOIN alert a ON a.alert_id = ca.alert_id
    GROUP BY ca.case_id
), tasks AS (
    SELECT t.case_id, count(*) FILTER (WHERE t.done_at IS NULL) AS open_tasks,
           count(*) FILTER (WHERE t.done_at IS NULL AND t.due_at < $now
                                  AND c.status <> 'closed') AS overdue
    FROM case_task t JOIN incident_case c ON c.case_id = t.case_id
    GROUP BY t.case_id
), standing AS (
    SELECT *, coalesce(status <> 'closed' OR disposition NOT IN {DISMISSED!r}, false) AS stands
    FROM incident_case
), counted AS (
    SELECT *, count(*) FILTER (WHERE stands) OVER (PARTITION BY entity_kind, entity_id)
              - CAST(stands AS INTEGER) AS others
    FROM standing
)
SELECT {", ".join("c." + n for n in CASE_COLUMNS.split(", "))},
       coalesce(s.alerts, 0),
       least(100, coalesce(s.alert_risk, CASE c.severity
                {" ".join(f"WHEN '{k}' THEN {v}" for k, v in SEVERITY_RISK.items())} END)
                  + 10 * c.others),
       coalesce(s.rules, []), coalesce(s.patients, 0), coalesce(s.days, 0),
       coalesce(s.explanations, []), s.first_seen, s.last_seen,
       coalesce(t.open_tasks, 0), coalesce(t.overdue, 0), c.others,
       c.case_id IN (SELECT case_id FROM case_breach)
FROM counted c
LEFT JOIN stats s ON s.case_id = c.case_id
LEFT JOIN tasks t ON t.case_id = c.case_id
"""
# Columns: the 13 of the case, then alerts (14), risk (15), rules, patients, days (18), …
ORDER = (
    " ORDER BY c.status = 'closed', 15 DESC, 18 DESC, 14 DESC, CAST(substr(c.case_id, 3) AS BIGINT)"
)


def list_cases(
    store: Store,
    *,
    status: str | None = None,
    entity_kind: str | None = None,
    overdue_only: bool = False,
    case_id: str | None = None,
    now: dt.datetime | None = None,
    limit: int | None = None,
) -> list[CaseSummary]:
    """Cases by rank (see the module), filtered; ``now`` decides which tasks are overdue."""
    where: list[str] = ["TRUE"]
    params: dict[str, Any] = {"now": naive_utc(now)}
    for column, value in (("status", status), ("entity_kind", entity_kind), ("case_id", case_id)):
        if value is not None:
            where.append(f"c.{column} = ${column}")
            params[column] = value
    if overdue_only:
        where.append("coalesce(t.overdue, 0) > 0")
    sql = CASES_SQL + " WHERE " + " AND ".join(where) + ORDER
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = store.arrow(sql, params).to_pylist()
    users = sorted({r["entity_id"] for r in rows if r["entity_kind"] == "user"})
    people = user_descriptions(store, users)
    found = []
    for row in rows:
        values = dict(zip(SUMMARY_FIELDS, row.values(), strict=True))
        if row["entity_kind"] == "user" and row["entity_id"] in people:
            values["entity_name"], values["entity_role"] = people[row["entity_id"]]
        found.append(CaseSummary(**values))
    return found


@dataclass(frozen=True)
class TaskView:
    task_id: str
    phase: str
    title: str
    owner_role: str
    due_at: dt.datetime
    done_at: dt.datetime | None
    done_by: str | None
    evidence_required: list[str]
    evidence_note: str | None
    overdue: bool

    def as_json(self) -> dict[str, Any]:
        return {k: _json(v) for k, v in self.__dict__.items()}


def case_tasks(store: Store, case_id: str, now: dt.datetime | None = None) -> list[TaskView]:
    at = naive_utc(now)
    rows = store.query(
        "SELECT task_id, phase, title, owner_role, due_at, done_at, done_by, "
        "evidence_required, evidence_note FROM case_task WHERE case_id = ? ORDER BY position",
        [case_id],
    )
    return [
        TaskView(
            task_id=task_id,
            phase=phase,
            title=title,
            owner_role=role,
            due_at=due,
            done_at=done,
            done_by=by,
            evidence_required=list(evidence),
            evidence_note=note,
            overdue=done is None and due < at,
        )
        for task_id, phase, title, role, due, done, by, evidence, note in rows
    ]


@dataclass(frozen=True)
class CaseDetail:
    case: CaseSummary
    alerts: list[dict[str, Any]]
    tasks: list[TaskView]
    history: list[HistoryRecord]
    incident: Incident | None
    assessment: Assessment | None

    def as_json(self) -> dict[str, Any]:
        return {
            "case": self.case.as_json(),
            "alerts": [{k: _json(v) for k, v in a.items()} for a in self.alerts],
            "tasks": [t.as_json() for t in self.tasks],
            "history": [
                {
                    "seq": r.seq,
                    "at": _json(r.at),
                    "actor": r.actor,
                    "kind": r.kind,
                    "detail": r.detail,
                    "hash": r.hash,
                }
                for r in self.history
            ],
            "breach": self.assessment.as_json() if self.assessment else None,
        }


def case_detail(store: Store, case_id: str, now: dt.datetime | None = None) -> CaseDetail:
    """One case with its alerts in time order, tasks, history and breach assessment."""
    get_case(store, case_id)
    (summary,) = list_cases(store, case_id=case_id, now=now)
    alerts = store.arrow(
        "SELECT a.alert_id, a.rule_id, a.severity, a.score, a.first_seen, a.last_seen, "
        "a.patient_id, len(a.event_ids) AS events, a.explanation, ca.linked_at "
        "FROM case_alert ca JOIN alert a ON a.alert_id = ca.alert_id WHERE ca.case_id = ? "
        "ORDER BY a.first_seen, a.alert_id",
        [case_id],
    ).to_pylist()
    incident = recorded_incident(store, case_id)
    return CaseDetail(
        summary,
        alerts,
        case_tasks(store, case_id, now),
        history.records(store, case_id),
        incident,
        assess(incident) if incident else None,
    )


def recorded_incident(store: Store, case_id: str) -> Incident | None:
    found = store.query("SELECT incident FROM case_breach WHERE case_id = ?", [case_id])
    return incident_from_json(case_id, str(found[0][0])) if found else None


@dataclass(frozen=True)
class OverdueTask:
    case_id: str
    case_title: str
    task_id: str
    title: str
    owner_role: str
    due_at: dt.datetime
    hours_overdue: float


@dataclass(frozen=True)
class BreachDetermination:
    case_id: str
    case_title: str
    breach: bool
    determination: str
    total_affected: int
    next_due: tuple[str, dt.date] | None  # (obligation kind, due date), the earliest
    error: str | None = None  # an incident that no longer validates


@dataclass
class Preparedness:
    """The report's preparedness section: open cases, overdue tasks, breach findings."""

    open_cases: list[CaseSummary]
    open_count: int
    by_status: dict[str, int]
    by_disposition: dict[str, int]
    overdue: list[OverdueTask]
    determinations: list[BreachDetermination] = field(default_factory=list)


def overdue_tasks(store: Store, now: dt.datetime | None = None) -> list[OverdueTask]:
    at = naive_utc(now)
    rows = store.query(
        "SELECT t.case_id, c.title, t.task_id, t.title, t.owner_role, t.due_at "
        "FROM case_task t JOIN incident_case c ON c.case_id = t.case_id "
        "WHERE t.done_at IS NULL AND t.due_at < ? AND c.status <> 'closed' "
        "ORDER BY t.due_at, t.case_id, t.position",
        [at],
    )
    return [
        OverdueTask(
            case_id, case_title, task_id, title, role, due, (at - due).total_seconds() / 3600
        )
        for case_id, case_title, task_id, title, role, due in rows
    ]


def determinations(store: Store) -> list[BreachDetermination]:
    found = []
    for case_id, title, text in store.query(
        "SELECT b.case_id, c.title, b.incident FROM case_breach b "
        "JOIN incident_case c ON c.case_id = b.case_id ORDER BY b.case_id"
    ):
        try:
            assessment = assess(incident_from_json(case_id, str(text)))
        except ConfigError as exc:
            found.append(BreachDetermination(case_id, title, False, "", 0, None, str(exc)))
            continue
        first = assessment.obligations[0] if assessment.obligations else None
        found.append(
            BreachDetermination(
                case_id,
                title,
                assessment.breach,
                assessment.determination,
                assessment.total_affected,
                (first.kind, first.due) if first else None,
            )
        )
    return found


def preparedness(store: Store, *, now: dt.datetime | None = None, top: int = 10) -> Preparedness:
    by_status = dict(store.query("SELECT status, count(*) FROM incident_case GROUP BY 1"))
    by_disposition = dict(
        store.query(
            "SELECT disposition, count(*) FROM incident_case WHERE status = 'closed' GROUP BY 1"
        )
    )
    open_count = sum(int(n) for s, n in by_status.items() if s != "closed")
    return Preparedness(
        open_cases=[c for c in list_cases(store, now=now, limit=top) if c.status != "closed"],
        open_count=open_count,
        by_status={str(k): int(v) for k, v in by_status.items()},
        by_disposition={str(k): int(v) for k, v in by_disposition.items()},
        overdue=overdue_tasks(store, now),
        determinations=determinations(store),
    )
