"""The cases' history: hash chain and replay find every kind of tampering."""

from __future__ import annotations

import pytest
from casekit import NOW, AddAlert

from carewarden.prepare import cases as ops
from carewarden.prepare import history
from carewarden.prepare.case_audit import verify_cases
from carewarden.prepare.case_settings import CaseSettings
from carewarden.prepare.correlate import correlate
from carewarden.store import Store


@pytest.fixture
def worked(store: Store, add_alert: AddAlert, settings: CaseSettings) -> Store:
    """Two cases with a few changes each: 2 created + 3 alert-linked + 4 manual = 9 records."""
    add_alert(user="u1")
    add_alert(user="u1", rule="privacy.family")
    add_alert(user="u2")
    correlate(store, settings, now=NOW)
    ops.assign(store, "C-0001", "alice", actor="bob", now=NOW)
    ops.add_note(store, "C-0001", "called the manager", actor="alice", now=NOW)
    ops.complete_task(store, "C-0001", "review-accesses", "share/c1", actor="alice", now=NOW)
    ops.set_status(store, "C-0002", "investigating", actor="alice", now=NOW)
    return store


def test_untouched_history_verifies(worked: Store) -> None:
    """The chain links, the head and the replayed cases all agree."""
    result = verify_cases(worked)
    assert result.ok, result.problems
    assert result.chain.records == 9 and result.cases == 2
    assert verify_cases(worked, expect_head=result.chain.head).ok
    assert [r.seq for r in history.records(worked)] == list(range(1, 10))


def test_edited_record_is_found(worked: Store) -> None:
    """Changing the note's text breaks its hash; only that record is blamed."""
    worked.query(
        "UPDATE case_event SET detail = '{\"text\": \"nothing to see\"}' WHERE kind = 'note'"
    )
    problems = verify_cases(worked).problems
    assert problems == ["record 7 (case C-0001, note) does not match its hash: edited"]


def test_edited_actor_or_time_is_found(worked: Store) -> None:
    """The actor and the time are part of the hashed record too."""
    worked.query("UPDATE case_event SET actor = 'eve' WHERE seq = 6")
    worked.query("UPDATE case_event SET recorded_at = recorded_at + INTERVAL 1 DAY WHERE seq = 8")
    problems = verify_cases(worked).problems
    assert any("record 6" in p and "edited" in p for p in problems)
    assert any("record 8" in p and "edited" in p for p in problems)


def test_deleted_record_is_found(worked: Store) -> None:
    """Deleting a record in the middle leaves a gap and a broken link, and the replayed
    case no longer matches the store."""
    worked.query("DELETE FROM case_event WHERE kind = 'assigned'")
    problems = verify_cases(worked).problems
    assert any("record(s) 6 missing" in p and "deleted" in p for p in problems)
    assert any("record 7" in p and "does not follow" in p for p in problems)
    assert any("owner is 'alice' in the store but None in its history" in p for p in problems)


def test_reordered_records_are_found(worked: Store) -> None:
    """Swapping two records' places breaks both links."""
    worked.query("UPDATE case_event SET seq = -1 WHERE seq = 6")
    worked.query("UPDATE case_event SET seq = 6 WHERE seq = 7")
    worked.query("UPDATE case_event SET seq = 7 WHERE seq = -1")
    problems = verify_cases(worked).problems
    assert any("record 6" in p and "does not follow" in p for p in problems)
    assert any("record 7" in p and "does not follow" in p for p in problems)


def test_deleted_tail_and_rewritten_head_are_found(worked: Store) -> None:
    """Dropping the newest records leaves a chain that links, but not to the recorded
    head; an expected head kept outside the store catches even a rewritten setting."""
    head = verify_cases(worked).chain.head
    worked.query("DELETE FROM case_event WHERE seq = 9")
    problems = verify_cases(worked).problems
    assert any("records at the end deleted" in p for p in problems)
    chained = history.head(worked)
    worked.set_setting(history.HEAD_SETTING, f"{chained[0]}:{chained[1]}")
    assert not any("records at the end" in p for p in verify_cases(worked).problems)
    assert any("not the expected" in p for p in verify_cases(worked, expect_head=head).problems)


def test_tables_edited_behind_the_history_are_found(worked: Store) -> None:
    """Edits to the case tables that bypass Carewarden disagree with the replayed history:
    status, a task marked done, a linked alert removed, a case deleted or added."""
    worked.query("UPDATE incident_case SET status = 'closed' WHERE case_id = 'C-0002'")
    worked.query("UPDATE case_task SET done_at = now() WHERE task_id = 'restrict-access'")
    worked.query("DELETE FROM case_alert WHERE alert_id = 'a002'")
    problems = verify_cases(worked).problems
    assert any("C-0002: status is 'closed' in the store but 'investigating'" in p for p in problems)
    assert any("tasks done differ" in p and "restrict-access" in p for p in problems)
    assert any("linked alerts differ" in p and "a002" in p for p in problems)
    worked.query("DELETE FROM incident_case WHERE case_id = 'C-0002'")
    worked.query(
        "INSERT INTO incident_case SELECT 'C-0099', entity_kind, entity_id, title, status, "
        "owner, severity, opened_at, updated_at, closed_at, disposition, playbook_id, "
        "discovery_at FROM incident_case WHERE case_id = 'C-0001'"
    )
    problems = verify_cases(worked).problems
    assert any("C-0002 is in the history but not in the store" in p for p in problems)
    assert any("C-0099 is in the store but has no history" in p for p in problems)
