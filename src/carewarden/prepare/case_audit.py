"""``carewarden cases verify``: the history's hash chain, and the cases as it tells them.

The chain check finds a history record edited, deleted, inserted or reordered. The replay
then rebuilds every case from its history (status, owner, disposition, severity, playbook,
discovery, linked alerts, tasks done, recorded incident) and compares it with the case
tables, so an edit to those tables that bypassed Carewarden shows as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from carewarden.prepare import history
from carewarden.prepare.cases import CASE_COLUMNS, CaseRecord, stamp
from carewarden.prepare.history import ChainCheck, HistoryRecord
from carewarden.store import Store


@dataclass
class _Replayed:
    fields: dict[str, Any]
    alerts: set[str] = field(default_factory=set)
    tasks: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)
    incident: dict[str, Any] | None = None


@dataclass(frozen=True)
class Verification:
    chain: ChainCheck
    cases: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def replay(records: list[HistoryRecord]) -> dict[str, _Replayed]:
    """Every case as its history tells it."""
    cases: dict[str, _Replayed] = {}
    for r in records:
        d = r.detail
        if r.kind == "created":
            cases[r.case_id] = _Replayed(
                {
                    "status": d["status"],
                    "owner": None,
                    "disposition": None,
                    "severity": d["severity"],
                    "playbook_id": d["playbook_id"],
                    "discovery_at": d["discovery_at"],
                    "entity": f"{d['entity_kind']}:{d['entity_id']}",
                },
                tasks=set(d["tasks"]),
            )
            continue
        case = cases.get(r.case_id)
        if case is None:
            continue  # reported by the caller: a change to a case never created
        if r.kind == "alert-linked":
            case.alerts.add(d["alert_id"])
        elif r.kind == "severity":
            case.fields["severity"] = d["severity"]
        elif r.kind == "playbook-applied":
            case.fields["playbook_id"] = d["playbook_id"]
            case.tasks |= set(d["tasks"])
        elif r.kind == "assigned":
            case.fields["owner"] = d["owner"]
        elif r.kind == "status":
            case.fields["status"] = d["status"]
            case.fields["disposition"] = d["disposition"]
        elif r.kind == "task-done":
            case.done.add(d["task_id"])
        elif r.kind == "discovery":
            case.fields["discovery_at"] = d["discovery_at"]
        elif r.kind == "breach-recorded":
            case.incident = d["incident"]
    return cases


def _stored(store: Store) -> dict[str, _Replayed]:
    cases: dict[str, _Replayed] = {}
    for row in store.query(f"SELECT {CASE_COLUMNS} FROM incident_case"):
        c = CaseRecord(*row)
        cases[c.case_id] = _Replayed(
            {
                "status": c.status,
                "owner": c.owner,
                "disposition": c.disposition,
                "severity": c.severity,
                "playbook_id": c.playbook_id,
                "discovery_at": stamp(c.discovery_at),
                "entity": f"{c.entity_kind}:{c.entity_id}",
            }
        )
    for case_id, alert_id in store.query("SELECT case_id, alert_id FROM case_alert"):
        cases.setdefault(case_id, _Replayed({})).alerts.add(alert_id)
    for case_id, task_id, done in store.query("SELECT case_id, task_id, done_at FROM case_task"):
        entry = cases.setdefault(case_id, _Replayed({}))
        entry.tasks.add(task_id)
        if done is not None:
            entry.done.add(task_id)
    for case_id, incident in store.query("SELECT case_id, incident FROM case_breach"):
        cases.setdefault(case_id, _Replayed({})).incident = orjson.loads(incident)
    return cases


def _differences(case_id: str, stored: _Replayed, told: _Replayed) -> list[str]:
    problems = []
    for name, value in told.fields.items():
        if stored.fields.get(name) != value:
            problems.append(
                f"case {case_id}: {name} is {stored.fields.get(name)!r} in the store but "
                f"{value!r} in its history"
            )
    for what, have, want in (
        ("linked alerts", stored.alerts, told.alerts),
        ("tasks", stored.tasks, told.tasks),
        ("tasks done", stored.done, told.done),
    ):
        if have != want:
            extra, missing = sorted(have - want), sorted(want - have)
            problems.append(
                f"case {case_id}: {what} differ from its history"
                + (f"; not in the history: {extra}" if extra else "")
                + (f"; missing from the store: {missing}" if missing else "")
            )
    if stored.incident != told.incident:
        problems.append(f"case {case_id}: the recorded incident differs from its history")
    return problems


def verify_cases(store: Store, expect_head: str | None = None) -> Verification:
    """Check the history's chain, then every case against its history."""
    chain = history.verify_chain(store, expect_head)
    problems = list(chain.problems)
    records = history.records(store)
    told = replay(records)
    orphans = sorted({r.case_id for r in records if r.case_id not in told})
    problems += [f"case {c}: history records without its 'created' record" for c in orphans]
    stored = _stored(store)
    for case_id in sorted(stored.keys() | told.keys()):
        if case_id not in told:
            problems.append(f"case {case_id} is in the store but has no history")
        elif case_id not in stored or not stored[case_id].fields:
            problems.append(f"case {case_id} is in the history but not in the store: deleted")
        else:
            problems += _differences(case_id, stored[case_id], told[case_id])
    return Verification(chain, len(stored), problems)
