"""The alert queue: listing with filters, one alert with its evidence, and triage
(acknowledge, assign, close with a disposition, reopen), each change kept in
``alert_history``. The web console, the API and `carewarden alerts` call these."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from carewarden.errors import CarewardenError
from carewarden.store import Store
from carewarden.store.store import utcnow

SEVERITIES = ("critical", "high", "medium", "low", "info")
MAX_PAGE_SIZE = 200
MAX_BULK = 1000
EVIDENCE_LIMIT = 200


class Status(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class Disposition(StrEnum):
    TRUE_POSITIVE = "true-positive"  # a violation: goes on to a case / breach assessment
    FALSE_POSITIVE = "false-positive"  # the rule was wrong
    AUTHORIZED = "authorized"  # a legitimate access the records did not explain
    DUPLICATE = "duplicate"


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    CLOSE = "close"
    REOPEN = "reopen"


class TriageError(CarewardenError):
    """A triage request that cannot be applied (the message says why)."""


@dataclass(frozen=True)
class AlertFilter:
    status: str | None = None  # open | acknowledged | closed | active (open + acknowledged)
    severity: str | None = None
    rule_id: str | None = None
    layer: str | None = None  # the rule id's prefix, e.g. 'privacy'
    user_id: str | None = None
    patient_id: str | None = None
    assignee: str | None = None
    min_score: int | None = None
    since: dt.datetime | None = None  # first_seen >= since (UTC)
    until: dt.datetime | None = None  # first_seen < until (UTC)

    def where(self) -> tuple[str, list[Any]]:
        """The SQL condition and its parameters."""
        terms: list[str] = []
        params: list[Any] = []
        if self.status == "active":
            terms.append("status <> 'closed'")
        elif self.status:
            terms.append("status = ?")
            params.append(self.status)
        for column in ("severity", "rule_id", "user_id", "patient_id", "assignee"):
            value = getattr(self, column)
            if value:
                terms.append(f"{column} = ?")
                params.append(value)
        if self.layer:
            terms.append("split_part(rule_id, '.', 1) = ?")
            params.append(self.layer)
        if self.min_score is not None:
            terms.append("score >= ?")
            params.append(self.min_score)
        if self.since is not None:
            terms.append("first_seen >= ?")
            params.append(self.since)
        if self.until is not None:
            terms.append("first_seen < ?")
            params.append(self.until)
        return (" AND ".join(terms) or "true"), params


@dataclass
class AlertPage:
    total: int
    page: int
    page_size: int
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


LIST_COLUMNS = (
    "alert_id, rule_id, title, severity, score, user_id, patient_id, first_seen, last_seen, "
    "len(event_ids) AS events, explanation, status, assignee, disposition, updated_at"
)


def list_alerts(
    store: Store, filters: AlertFilter | None = None, *, page: int = 1, page_size: int = 50
) -> AlertPage:
    """One page of alerts matching ``filters``, highest score first."""
    page = max(1, page)
    page_size = max(1, min(MAX_PAGE_SIZE, page_size))
    where, params = (filters or AlertFilter()).where()
    total = int(store.query(f"SELECT count(*) FROM alert WHERE {where}", params)[0][0])
    items = store.arrow(
        f"SELECT {LIST_COLUMNS} FROM alert WHERE {where} "
        "ORDER BY score DESC, first_seen DESC, alert_id LIMIT ? OFFSET ?",
        [*params, page_size, (page - 1) * page_size],
    ).to_pylist()
    return AlertPage(total, page, page_size, items)


def rule_ids(store: Store) -> list[str]:
    return [str(r[0]) for r in store.query("SELECT DISTINCT rule_id FROM alert ORDER BY 1")]


def get_alert(store: Store, alert_id: str) -> dict[str, Any] | None:
    """One alert with its evidence rows (the EHR accesses it names) and its triage history."""
    rows = store.arrow(
        "SELECT alert_id, rule_id, title, severity, score, user_id, patient_id, first_seen, "
        "last_seen, event_ids, explanation, mapping, status, assignee, disposition, "
        "created_at, updated_at FROM alert WHERE alert_id = ?",
        [alert_id],
    ).to_pylist()
    if not rows:
        return None
    alert = dict(rows[0])
    alert["evidence"] = store.arrow(
        """
        SELECT a.time, a.event_id, a.user_id,
               coalesce(w.given_name || ' ' || w.family_name, a.user_id) AS user_name,
               a.patient_id,
               coalesce(p.given_name || ' ' || p.family_name, a.patient_id) AS patient_name,
               a.action, a.outcome, a.workstation, a.purpose, a.reason
        FROM ehr_access a
        LEFT JOIN workforce w ON w.user_id = a.user_id
        LEFT JOIN patient p ON p.patient_id = a.patient_id
        WHERE a.event_id IN (SELECT unnest(event_ids) FROM alert WHERE alert_id = $id)
          AND ($patient IS NULL OR a.patient_id = $patient)
        ORDER BY a.time, a.event_id
        LIMIT $limit
        """,
        {"id": alert_id, "patient": alert["patient_id"], "limit": EVIDENCE_LIMIT},
    ).to_pylist()
    alert["history"] = history(store, alert_id)
    return alert


def history(store: Store, alert_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = store.arrow(
        "SELECT changed_at, actor, action, status, assignee, disposition, note "
        "FROM alert_history WHERE alert_id = ? ORDER BY changed_at",
        [alert_id],
    ).to_pylist()
    return rows


def triage(
    store: Store,
    alert_ids: list[str],
    action: str,
    actor: str,
    *,
    assignee: str | None = None,
    disposition: str | None = None,
    note: str | None = None,
) -> list[str]:
    """Apply one triage action to alerts; return the ids of those that exist (unknown ids
    are skipped). Closing needs a disposition; assigning needs an assignee."""
    try:
        act = Action(action)
    except ValueError:
        raise TriageError(f"unknown action {action!r}") from None
    ids = list(dict.fromkeys(alert_ids))
    if not ids:
        raise TriageError("no alerts selected")
    if len(ids) > MAX_BULK:
        raise TriageError(f"at most {MAX_BULK} alerts at a time")
    if note is not None and len(note) > 2000:
        raise TriageError("a note has at most 2000 characters")
    sets: dict[str, Any] = {}
    if act is Action.ACKNOWLEDGE:
        sets["status"] = Status.ACKNOWLEDGED.value
    elif act is Action.ASSIGN:
        if not assignee:
            raise TriageError("assign needs an assignee")
        sets["assignee"] = assignee
    elif act is Action.CLOSE:
        try:
            sets["disposition"] = Disposition(disposition or "").value
        except ValueError:
            choices = ", ".join(d.value for d in Disposition)
            raise TriageError(f"close needs a disposition ({choices})") from None
        sets["status"] = Status.CLOSED.value
    else:
        sets.update(status=Status.OPEN.value, disposition=None)
    now = utcnow()
    assignments = ", ".join(f"{column} = ?" for column in sets)
    with store.transaction():
        found = [
            str(r[0])
            for r in store.query(
                "SELECT alert_id FROM alert WHERE alert_id IN (SELECT unnest(?::VARCHAR[]))",
                [ids],
            )
        ]
        if not found:
            return []
        store.query(
            f"UPDATE alert SET {assignments}, updated_at = ? "
            "WHERE alert_id IN (SELECT unnest(?::VARCHAR[]))",
            [*sets.values(), now, found],
        )
        store.query(
            "INSERT INTO alert_history SELECT alert_id, ?, ?, ?, status, assignee, disposition, ? "
            "FROM alert WHERE alert_id IN (SELECT unnest(?::VARCHAR[]))",
            [now, actor, act.value, note, found],
        )
    return found
