"""Scoring an exercise against its playbook's deadlines: a table of cases, then the formula."""

from __future__ import annotations

from typing import Any

import pytest

from carewarden.prepare.exercise import Scenario
from carewarden.prepare.exercise_scoring import ExerciseScore, score_exercise
from carewarden.prepare.playbooks import Playbook

PLAYBOOK = Playbook.model_validate(
    {
        "id": "drill",
        "title": "Drill",
        "phases": [
            {
                "name": "identify",
                "tasks": [
                    {"id": "t1", "title": "One", "owner_role": "analyst",
                     "due_hours_after_discovery": 1},
                    {"id": "t2", "title": "Two", "owner_role": "privacy-officer",
                     "due_hours_after_discovery": 2},
                ],
            },
            {
                "name": "contain",
                "tasks": [
                    {"id": "t3", "title": "Three", "owner_role": "it-operations",
                     "due_hours_after_discovery": 0.5},
                ],
            },
        ],
    }
)  # fmt: skip
# Discovered at minute 10: t1 is due at 70, t2 at 130, t3 at 40.
SCENARIO = Scenario.model_validate(
    {
        "id": "drill",
        "playbook": "drill",
        "title": "Drill",
        "narrative": "A drill.",
        "discovery_at_minutes": 10,
        "injects": [
            {
                "id": "i1",
                "at_minutes": 0,
                "title": "Start",
                "message": "It starts.",
                "decisions": [
                    {
                        "id": "d1",
                        "question": "Which?",
                        "options": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"},
                                    {"id": "c", "text": "C"}],
                        "expected": ["a", "c"],  # either is right
                        "within_minutes": 30,
                        "tasks": ["t1"],
                    }
                ],
            },
            {
                "id": "i2",
                "at_minutes": 60,
                "title": "Later",
                "message": "More.",
                "decisions": [
                    {
                        "id": "d2",
                        "question": "Which ones?",
                        "options": [{"id": "x", "text": "X"}, {"id": "y", "text": "Y"},
                                    {"id": "z", "text": "Z"}],
                        "expected": ["x", "y"],
                        "multiple": True,
                    }
                ],
            },
        ],
    }
)  # fmt: skip


def _score(
    answers: dict[str, tuple[list[str], float]] | None = None,
    done: dict[str, float] | None = None,
) -> ExerciseScore:
    return score_exercise(PLAYBOOK, SCENARIO, answers or {}, done or {})


TASKS: list[tuple[str, float | None, str, float | None, float]] = [
    # (what, t1 done at, status, late by, credit)
    ("on time, exactly at the deadline", 70, "on-time", None, 1.0),
    ("on time, early", 20, "on-time", None, 1.0),
    ("on time, before the discovery", 5, "on-time", None, 1.0),
    ("late by a minute", 71, "late", 1, 0.5),
    ("late by a fraction of a minute", 70.5, "late", 0.5, 0.5),
    ("late by a day", 70 + 1440, "late", 1440, 0.5),
    ("missed", None, "missed", None, 0.0),
]


@pytest.mark.parametrize(("what", "done", "status", "late", "credit"), TASKS)
def test_task_outcomes(
    what: str, done: float | None, status: str, late: float | None, credit: float
) -> None:
    """A task is on time at or before discovery + its due hours, late after, missed if never
    done; credit 1, 0.5, 0."""
    score = _score(done={} if done is None else {"t1": done})
    t1 = next(t for t in score.tasks if t.task_id == "t1")
    assert (t1.due_minute, t1.done_minute, t1.status, t1.late_minutes, t1.credit) == (
        70,
        done,
        status,
        late,
        credit,
    ), what
    assert (t1 in score.gaps) == (status != "on-time")


DECISIONS: list[tuple[str, str, list[str] | None, float | None, bool, bool | None, float]] = [
    # (what, decision, chosen, at minute, expected?, in time?, credit)
    ("expected, in time", "d1", ["a"], 10, True, True, 1.0),
    ("another expected option", "d1", ["c"], 10, True, True, 1.0),
    ("expected, exactly at the deadline", "d1", ["a"], 30, True, True, 1.0),
    ("expected, after the deadline", "d1", ["a"], 31, True, False, 0.5),
    ("wrong decision", "d1", ["b"], 5, False, True, 0.0),
    ("wrong and late", "d1", ["b"], 45, False, False, 0.0),
    ("unanswered", "d1", None, None, False, None, 0.0),
    ("several: exactly the expected set, any order", "d2", ["y", "x"], 500, True, True, 1.0),
    ("several: a subset is not enough", "d2", ["x"], 60, False, True, 0.0),
    ("several: one too many", "d2", ["x", "y", "z"], 60, False, True, 0.0),
    ("no deadline: any time is in time", "d2", ["x", "y"], 99999, True, True, 1.0),
]


@pytest.mark.parametrize(
    ("what", "decision", "chosen", "minute", "expected", "in_time", "credit"), DECISIONS
)
def test_decision_outcomes(
    what: str,
    decision: str,
    chosen: list[str] | None,
    minute: float | None,
    expected: bool,
    in_time: bool | None,
    credit: float,
) -> None:
    """A decision is expected when it matches the playbook's choice (one of the expected
    options, or exactly the expected set for a multiple one), in time when made by the
    inject's minute + within_minutes; credit 1, 0.5 when expected but late, else 0."""
    answers = {} if chosen is None or minute is None else {decision: (chosen, minute)}
    found = next(d for d in _score(answers).decisions if d.decision_id == decision)
    assert (found.is_expected, found.in_time, found.credit) == (expected, in_time, credit), what
    assert found.deadline_minute == (30 if decision == "d1" else None)


def test_phase_task_decision_and_overall_scores() -> None:
    """The documented formula, worked by hand: t1 on time (1), t2 late (0.5), t3 missed (0),
    d1 expected but late (0.5), d2 expected (1)."""
    score = _score(
        answers={"d1": (["a"], 45), "d2": (["x", "y"], 60)},
        done={"t1": 60, "t2": 200},
    )
    assert score.phases == {"identify": 75.0, "contain": 0.0}
    assert score.task_score == pytest.approx(50.0)
    assert score.decision_score == pytest.approx(75.0)
    assert score.overall == pytest.approx(100 * 3 / 5)
    assert [(g.task_id, g.owner_role, g.status) for g in score.gaps] == [
        ("t2", "privacy-officer", "late"),
        ("t3", "it-operations", "missed"),
    ]
    assert score.gaps[0].late_minutes == 70
    counts = score.counts()
    assert (counts["on-time"], counts["late"], counts["missed"]) == (1, 1, 1)
    assert (counts["decisions-expected"], counts["decisions-in-time"]) == (2, 1)
    data: dict[str, Any] = score.as_json()
    assert data["overall"] == score.overall and len(data["gaps"]) == 2


def test_perfect_and_empty_runs() -> None:
    """Everything on time and as expected scores 100; nothing done scores 0."""
    perfect = _score(
        answers={"d1": (["c"], 0), "d2": (["x", "y"], 60)},
        done={"t1": 70, "t2": 130, "t3": 40},
    )
    assert perfect.overall == 100.0 and not perfect.gaps
    nothing = _score()
    assert nothing.overall == 0.0 and len(nothing.gaps) == 3
    assert all(d.in_time is None for d in nothing.decisions)


def test_a_scenario_without_decisions_scores_its_tasks_only() -> None:
    """Without decisions the decision score is None and the overall is the task score."""
    plain = SCENARIO.model_copy(
        update={"injects": [i.model_copy(update={"decisions": []}) for i in SCENARIO.injects]}
    )
    score = score_exercise(PLAYBOOK, plain, {}, {"t1": 1, "t2": 1})
    assert score.decision_score is None
    assert score.overall == score.task_score == pytest.approx(200 / 3)
