"""Incident cases: opening them, and every change a person makes to one.

A case is about one entity (a user, host, device or patient) and holds its linked alerts,
its playbook's tasks, notes, an owner, a status (open, investigating, contained, closed)
and, once closed, a disposition. Every change is made in one transaction together with its
record in the hash-chained history (:mod:`carewarden.prepare.history`), so the tables and
the history cannot disagree unless someone edits the store behind Carewarden's back, which
``carewarden cases verify`` detects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
import pyarrow as pa

from carewarden.config import validate_model
from carewarden.errors import RequestError
from carewarden.prepare import history
from carewarden.prepare.history import Change
from carewarden.prepare.incident import Incident
from carewarden.prepare.playbooks import ENTITY_KINDS, Playbook
from carewarden.store import Store
from carewarden.store.store import utcnow

STATUSES = ("open", "investigating", "contained", "closed")
Status = Literal["open", "investigating", "contained", "closed"]
DISPOSITIONS = ("true-positive", "false-positive", "benign", "duplicate")
SEVERITIES = ("info", "low", "medium", "high", "critical")
SYSTEM_ACTOR = "carewarden"

CASE_SCHEMA = pa.schema(
    [
        ("case_id", pa.string()),
        ("entity_kind", pa.string()),
        ("entity_id", pa.string()),
        ("title", pa.string()),
        ("status", pa.string()),
        ("owner", pa.string()),
        ("severity", pa.string()),
        ("opened_at", pa.timestamp("us")),
        ("updated_at", pa.timestamp("us")),
        ("closed_at", pa.timestamp("us")),
        ("disposition", pa.string()),
        ("playbook_id", pa.string()),
        ("discovery_at", pa.timestamp("us")),
    ]
)
TASK_SCHEMA = pa.schema(
    [
        ("case_id", pa.string()),
        ("task_id", pa.string()),
        ("position", pa.int32()),
        ("phase", pa.string()),
        ("title", pa.string()),
        ("owner_role", pa.string()),
        ("due_at", pa.timestamp("us")),
        ("done_at", pa.timestamp("us")),
        ("done_by", pa.string()),
        ("evidence_required", pa.list_(pa.string())),
        ("evidence_note", pa.string()),
    ]
)


def naive_utc(when: dt.datetime | None) -> dt.datetime:
    """``when`` as the store keeps times (naive UTC); now when None."""
    if when is None:
        return utcnow()
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def stamp(when: dt.datetime) -> str:
    return when.isoformat(timespec="seconds") + "Z"


def severest(a: str, b: str) -> str:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return a if rank.get(a, -1) >= rank.get(b, -1) else b


@dataclass(frozen=True)
class NewCase:
    case_id: str
    entity_kind: str
    entity_id: str
    title: str
    severity: str
    playbook: Playbook | None
    opened_at: dt.datetime
    discovery_at: dt.datetime

    def created(self, actor: str) -> Change:
        return Change(
            self.case_id,
            self.opened_at,
            actor,
            "created",
            {
                "entity_kind": self.entity_kind,
                "entity_id": self.entity_id,
                "title": self.title,
                "severity": self.severity,
                "status": "open",
                "discovery_at": stamp(self.discovery_at),
                "playbook_id": self.playbook.id if self.playbook else None,
                "tasks": [t.id for _, t in self.playbook.tasks()] if self.playbook else [],
            },
        )


def next_case_number(store: Store) -> int:
    """The number of the next case: cases are C-0001, C-0002 … in order of opening."""
    found = store.query("SELECT max(CAST(substr(case_id, 3) AS BIGINT)) FROM incident_case")
    return int(found[0][0] or 0) + 1


def case_id_of(number: int) -> str:
    return f"C-{number:04d}"


def task_rows(case_id: str, playbook: Playbook, discovery_at: dt.datetime) -> list[dict[str, Any]]:
    """The playbook's tasks for a case, due their hours after discovery."""
    return [
        {
            "case_id": case_id,
            "task_id": task.id,
            "position": position,
            "phase": phase,
            "title": task.title,
            "owner_role": task.owner_role,
            "due_at": discovery_at + dt.timedelta(hours=task.due_hours_after_discovery),
            "done_at": None,
            "done_by": None,
            "evidence_required": list(task.evidence),
            "evidence_note": None,
        }
        for position, (phase, task) in enumerate(playbook.tasks(), 1)
    ]


def insert_cases(store: Store, cases: Sequence[NewCase]) -> None:
    """Write new cases and their playbook tasks (inside the caller's transaction)."""
    if not cases:
        return
    rows = [
        {
            "case_id": c.case_id,
            "entity_kind": c.entity_kind,
            "entity_id": c.entity_id,
            "title": c.title,
            "status": "open",
            "owner": None,
            "severity": c.severity,
            "opened_at": c.opened_at,
            "updated_at": c.opened_at,
            "closed_at": None,
            "disposition": None,
            "playbook_id": c.playbook.id if c.playbook else None,
            "discovery_at": c.discovery_at,
        }
        for c in cases
    ]
    store.append("incident_case", pa.Table.from_pylist(rows, schema=CASE_SCHEMA))
    tasks = [
        t for c in cases if c.playbook for t in task_rows(c.case_id, c.playbook, c.discovery_at)
    ]
    insert_tasks(store, tasks)


def insert_tasks(store: Store, tasks: list[dict[str, Any]]) -> None:
    if tasks:
        store.append("case_task", pa.Table.from_pylist(tasks, schema=TASK_SCHEMA))


@dataclass(frozen=True)
class CaseRecord:
    case_id: str
    entity_kind: str
    entity_id: str
    title: str
    status: str
    owner: str | None
    severity: str
    opened_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    disposition: str | None
    playbook_id: str | None
    discovery_at: dt.datetime


CASE_COLUMNS = ", ".join(CASE_SCHEMA.names)


def get_case(store: Store, case_id: str) -> CaseRecord:
    """The case ``case_id``; a RequestError naming it when there is none."""
    found = store.query(f"SELECT {CASE_COLUMNS} FROM incident_case WHERE case_id = ?", [case_id])
    if not found:
        raise RequestError(f"no case {case_id!r} in this store (see `carewarden cases list`)")
    return CaseRecord(*found[0])


def _change(store: Store, case: CaseRecord, change: Change, sql: str, params: list[Any]) -> None:
    """Apply one update to the case and record it in its history, atomically."""
    with store.transaction():
        store.query(sql, params)
        store.query(
            "UPDATE incident_case SET updated_at = ? WHERE case_id = ?", [change.at, case.case_id]
        )
        history.append(store, [change])


def open_case(
    store: Store,
    *,
    entity_kind: str,
    entity_id: str,
    title: str,
    severity: str,
    playbook: Playbook | None,
    actor: str,
    now: dt.datetime | None = None,
    discovery_at: dt.datetime | None = None,
) -> str:
    """Open a case by hand (a loss reported by phone, a business associate's letter)."""
    if entity_kind not in ENTITY_KINDS:
        raise RequestError(f"entity kind {entity_kind!r} is not one of {list(ENTITY_KINDS)}")
    if severity not in SEVERITIES:
        raise RequestError(f"severity {severity!r} is not one of {list(SEVERITIES)}")
    if not entity_id.strip() or not title.strip():
        raise RequestError("a case needs an entity id and a title")
    at = naive_utc(now)
    with store.transaction():
        case_id = case_id_of(next_case_number(store))
        case = NewCase(
            case_id,
            entity_kind,
            entity_id,
            title,
            severity,
            playbook,
            at,
            naive_utc(discovery_at) if discovery_at else at,
        )
        insert_cases(store, [case])
        history.append(store, [case.created(actor)])
    return case_id


def assign(
    store: Store, case_id: str, owner: str, *, actor: str, now: dt.datetime | None = None
) -> None:
    case = get_case(store, case_id)
    if not owner.strip():
        raise RequestError("the owner is empty")
    change = Change(
        case_id, naive_utc(now), actor, "assigned", {"owner": owner, "previous": case.owner}
    )
    _change(
        store,
        case,
        change,
        "UPDATE incident_case SET owner = ? WHERE case_id = ?",
        [owner, case_id],
    )


def add_note(
    store: Store, case_id: str, text: str, *, actor: str, now: dt.datetime | None = None
) -> None:
    case = get_case(store, case_id)
    if not text.strip():
        raise RequestError("the note is empty")
    with store.transaction():
        at = naive_utc(now)
        store.query("UPDATE incident_case SET updated_at = ? WHERE case_id = ?", [at, case_id])
        history.append(store, [Change(case.case_id, at, actor, "note", {"text": text})])


def set_status(
    store: Store,
    case_id: str,
    status: str,
    *,
    actor: str,
    now: dt.datetime | None = None,
    disposition: str | None = None,
) -> None:
    """Move a case to ``status``; closing needs a disposition, reopening clears it. Closing
    a case closes its alerts too (and reopening reopens them)."""
    case = get_case(store, case_id)
    if status not in STATUSES:
        raise RequestError(f"status {status!r} is not one of {list(STATUSES)}")
    if status == case.status:
        raise RequestError(f"case {case_id} is already {status}")
    if status == "closed" and disposition not in DISPOSITIONS:
        raise RequestError(f"closing needs a disposition, one of {list(DISPOSITIONS)}")
    if status != "closed" and disposition is not None:
        raise RequestError("a disposition is given only when closing")
    at = naive_utc(now)
    detail = {"status": status, "previous": case.status, "disposition": disposition}
    closed_at = at if status == "closed" else None
    with store.transaction():
        _change(
            store,
            case,
            Change(case_id, at, actor, "status", detail),
            "UPDATE incident_case SET status = ?, closed_at = ?, disposition = ? WHERE case_id = ?",
            [status, closed_at, disposition, case_id],
        )
        if status == "closed" or case.status == "closed":
            store.query(
                "UPDATE alert SET status = ? WHERE alert_id IN "
                "(SELECT alert_id FROM case_alert WHERE case_id = ?)",
                ["closed" if status == "closed" else "open", case_id],
            )


def complete_task(
    store: Store,
    case_id: str,
    task_id: str,
    evidence: str | None,
    *,
    actor: str,
    now: dt.datetime | None = None,
) -> None:
    """Mark a task done; a task that lists evidence needs a note of where the evidence is."""
    case = get_case(store, case_id)
    found = store.query(
        "SELECT done_at, evidence_required FROM case_task WHERE case_id = ? AND task_id = ?",
        [case_id, task_id],
    )
    if not found:
        tasks = [
            r[0]
            for r in store.query(
                "SELECT task_id FROM case_task WHERE case_id = ? ORDER BY position", [case_id]
            )
        ]
        raise RequestError(f"case {case_id} has no task {task_id!r} (its tasks: {tasks or 'none'})")
    done_at, required = found[0]
    if done_at is not None:
        raise RequestError(f"task {task_id} of case {case_id} is already done")
    if required and not (evidence and evidence.strip()):
        raise RequestError(
            f"task {task_id} needs evidence ({'; '.join(required)}): say where it is with "
            "--evidence"
        )
    at = naive_utc(now)
    _change(
        store,
        case,
        Change(case_id, at, actor, "task-done", {"task_id": task_id, "evidence": evidence}),
        "UPDATE case_task SET done_at = ?, done_by = ?, evidence_note = ? "
        "WHERE case_id = ? AND task_id = ?",
        [at, actor, evidence, case_id, task_id],
    )


def set_discovery(
    store: Store,
    case_id: str,
    discovery_at: dt.datetime,
    *,
    actor: str,
    now: dt.datetime | None = None,
) -> None:
    """Set when the incident was discovered; every task deadline moves with it."""
    case = get_case(store, case_id)
    when = naive_utc(discovery_at)
    shift = when - case.discovery_at
    detail = {"discovery_at": stamp(when), "previous": stamp(case.discovery_at)}
    with store.transaction():
        _change(
            store,
            case,
            Change(case_id, naive_utc(now), actor, "discovery", detail),
            "UPDATE incident_case SET discovery_at = ? WHERE case_id = ?",
            [when, case_id],
        )
        store.query("UPDATE case_task SET due_at = due_at + ? WHERE case_id = ?", [shift, case_id])


def record_breach(
    store: Store, case_id: str, incident: Incident, *, actor: str, now: dt.datetime | None = None
) -> None:
    """Attach (or replace) the incident description a breach assessment reads."""
    case = get_case(store, case_id)
    data = incident.model_dump(mode="json", exclude_none=True)
    at = naive_utc(now)
    with store.transaction():
        _change(
            store,
            case,
            Change(case_id, at, actor, "breach-recorded", {"incident": data}),
            "DELETE FROM case_breach WHERE case_id = ?",
            [case_id],
        )
        store.query(
            "INSERT INTO case_breach VALUES (?, ?, ?, ?)",
            [case_id, orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode(), at, actor],
        )


def case_incident(store: Store, case_id: str) -> Incident:
    """The incident recorded for a case; a RequestError when none was recorded."""
    get_case(store, case_id)
    found = store.query("SELECT incident FROM case_breach WHERE case_id = ?", [case_id])
    if not found:
        raise RequestError(
            f"case {case_id} has no incident recorded: run `carewarden breach record "
            f"{case_id} --input FILE` first"
        )
    return incident_from_json(case_id, str(found[0][0]))


def incident_from_json(case_id: str, text: str) -> Incident:
    return validate_model(Incident, orjson.loads(text), Path(f"case {case_id} (case_breach)"))
