"""Playbook tasks on a case: due dates from discovery, overdue flags on a fixed clock."""

from __future__ import annotations

import datetime as dt

import pytest
from casekit import NOW, AddAlert

from carewarden.errors import RequestError
from carewarden.prepare import cases as ops
from carewarden.prepare.case_settings import CaseSettings
from carewarden.prepare.correlate import correlate
from carewarden.prepare.playbooks import Playbook
from carewarden.services.cases import case_tasks, list_cases, overdue_tasks, preparedness
from carewarden.store import Store

HOUR = dt.timedelta(hours=1)


def playbook(settings: CaseSettings, playbook_id: str) -> Playbook:
    return next(p for p in settings.playbooks if p.id == playbook_id)


def test_tasks_fall_due_counting_from_discovery(
    store: Store, add_alert: AddAlert, settings: CaseSettings
) -> None:
    """A case opened from a privacy alert at NOW gets the PHI-snooping tasks, in the
    playbook's order, each due its hours after NOW, none done."""
    add_alert()
    correlate(store, settings, now=NOW)
    tasks = case_tasks(store, "C-0001", now=NOW)
    expected = playbook(settings, "phi-snooping").tasks()
    assert [(t.phase, t.task_id) for t in tasks] == [(ph, t.id) for ph, t in expected]
    assert [t.due_at for t in tasks] == [
        NOW + dt.timedelta(hours=t.due_hours_after_discovery) for _, t in expected
    ]
    assert [t.evidence_required for t in tasks] == [list(t.evidence) for _, t in expected]
    assert not any(t.overdue or t.done_at for t in tasks)


def test_overdue_flags_on_a_fixed_clock(
    store: Store, add_alert: AddAlert, settings: CaseSettings
) -> None:
    """Overdue = not done and due before now: a task due at 24 h is on time at exactly 24 h,
    overdue a second later, and no longer listed once done."""
    add_alert()
    correlate(store, settings, now=NOW)
    day_tasks = {
        t.id
        for _, t in playbook(settings, "phi-snooping").tasks()
        if t.due_hours_after_discovery <= 24
    }
    assert day_tasks == {"review-accesses", "restrict-access"}
    at_deadline = NOW + 24 * HOUR
    assert not [t for t in case_tasks(store, "C-0001", now=at_deadline) if t.overdue]
    after = at_deadline + dt.timedelta(seconds=1)
    assert {t.task_id for t in case_tasks(store, "C-0001", now=after) if t.overdue} == day_tasks
    (summary,) = list_cases(store, now=after)
    assert (summary.overdue_tasks, summary.open_tasks) == (2, 8)
    assert list_cases(store, overdue_only=True, now=NOW) == []
    ops.complete_task(
        store, "C-0001", "restrict-access", "ticket CHG-1", actor="it", now=NOW + 2 * HOUR
    )
    late = overdue_tasks(store, now=after)
    assert [(t.task_id, round(t.hours_overdue, 3)) for t in late] == [
        ("review-accesses", round(1 / 3600, 3))
    ]
    assert [c.case_id for c in list_cases(store, overdue_only=True, now=after)] == ["C-0001"]
    ready = preparedness(store, now=after)
    assert ready.open_count == 1 and [t.task_id for t in ready.overdue] == ["review-accesses"]
    ops.set_status(store, "C-0001", "closed", actor="po", disposition="true-positive", now=after)
    assert overdue_tasks(store, now=after) == []  # a closed case's tasks are not chased


def test_discovery_moves_deadlines(store: Store, settings: CaseSettings) -> None:
    """A case opened by hand with a discovery time counts from it; setting discovery later
    moves every deadline by the same amount."""
    discovered = NOW - 48 * HOUR
    case_id = ops.open_case(
        store,
        entity_kind="device",
        entity_id="LAPTOP-0042",
        title="Laptop stolen from a car",
        severity="high",
        playbook=playbook(settings, "lost-stolen-device"),
        actor="po",
        now=NOW,
        discovery_at=discovered,
    )
    tasks = case_tasks(store, case_id, now=NOW)
    assert tasks[0].due_at == discovered + 4 * HOUR and tasks[0].overdue
    ops.set_discovery(store, case_id, NOW, actor="po", now=NOW)
    moved = case_tasks(store, case_id, now=NOW)
    assert [t.due_at - a.due_at for t, a in zip(moved, tasks, strict=True)] == [48 * HOUR] * len(
        tasks
    )
    assert not any(t.overdue for t in moved)
    assert ops.get_case(store, case_id).discovery_at == NOW


def test_task_and_case_errors_name_what_is_wrong(
    store: Store, add_alert: AddAlert, settings: CaseSettings
) -> None:
    """Evidence is required where the task lists it; unknown ids, a task done twice and
    invalid transitions are refused with their ids named."""
    add_alert()
    correlate(store, settings, now=NOW)
    with pytest.raises(RequestError, match="needs evidence"):
        ops.complete_task(store, "C-0001", "review-accesses", None, actor="po")
    with pytest.raises(RequestError, match=r"no task 'nope'.*review-accesses"):
        ops.complete_task(store, "C-0001", "nope", "x", actor="po")
    with pytest.raises(RequestError, match="no case 'C-0404'"):
        ops.assign(store, "C-0404", "alice", actor="po")
    ops.complete_task(store, "C-0001", "review-accesses", "share/1", actor="po")
    with pytest.raises(RequestError, match="already done"):
        ops.complete_task(store, "C-0001", "review-accesses", "share/1", actor="po")
    with pytest.raises(RequestError, match="disposition"):
        ops.set_status(store, "C-0001", "closed", actor="po")
    with pytest.raises(RequestError, match="already open"):
        ops.set_status(store, "C-0001", "open", actor="po")
    with pytest.raises(RequestError, match="entity kind 'building'"):
        ops.open_case(
            store,
            entity_kind="building",
            entity_id="b",
            title="t",
            severity="low",
            playbook=None,
            actor="po",
        )
