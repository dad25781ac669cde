"""Scoring a tabletop exercise against its playbook's deadlines (a pure function).

Every time is a scenario minute. A playbook task is due ``due_hours_after_discovery`` after
the scenario's discovery (``discovery_at_minutes``); it is

- **on time** when the team completed it at or before that minute (credit 1),
- **late** when after it (credit 0.5; how late is kept), or
- **missed** when the team never completed it (credit 0).

A decision is **expected** when the team chose what the playbook expects: for a one-option
decision, any of the ``expected`` options; for a ``multiple`` one, exactly the ``expected``
set. It is **in time** when made at or before its deadline (the inject's minute plus
``within_minutes``; always, without one). Credit: 1 expected and in time, 0.5 expected but
late, 0 otherwise (a wrong or unanswered decision).

Scores are percentages of the credit available: a phase's score over its tasks, the task
score over every task, the decision score over every decision, and the **overall** score
over tasks and decisions together (each counts once):
``overall = 100 * (sum of task credits + sum of decision credits) / (tasks + decisions)``.
The **gaps** (the after-action findings) are the late and missed tasks, with their owner
role, in the playbook's order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from carewarden.prepare.exercise import Scenario
from carewarden.prepare.playbooks import PHASES, Playbook

TaskStatus = Literal["on-time", "late", "missed"]
TASK_CREDIT: dict[TaskStatus, float] = {"on-time": 1.0, "late": 0.5, "missed": 0.0}
LATE_DECISION_CREDIT = 0.5


@dataclass(frozen=True)
class TaskResult:
    phase: str
    task_id: str
    title: str
    owner_role: str
    due_minute: float
    done_minute: float | None
    status: TaskStatus
    late_minutes: float | None  # how late (late tasks only)
    credit: float


@dataclass(frozen=True)
class DecisionResult:
    decision_id: str
    inject_id: str
    question: str
    chosen: tuple[str, ...]  # empty: unanswered
    expected: tuple[str, ...]
    minute: float | None
    deadline_minute: float | None
    is_expected: bool
    in_time: bool | None  # None: unanswered
    tasks: tuple[str, ...]
    credit: float


@dataclass(frozen=True)
class ExerciseScore:
    tasks: tuple[TaskResult, ...]
    decisions: tuple[DecisionResult, ...]
    phases: dict[str, float]  # phase -> score (0-100), in the playbook's phase order
    task_score: float
    decision_score: float | None  # None: the scenario asks no decision
    overall: float

    @property
    def gaps(self) -> list[TaskResult]:
        """The after-action findings: late and missed tasks, in the playbook's order."""
        return [t for t in self.tasks if t.status != "on-time"]

    def counts(self) -> dict[str, int]:
        return {
            "on-time": sum(t.status == "on-time" for t in self.tasks),
            "late": sum(t.status == "late" for t in self.tasks),
            "missed": sum(t.status == "missed" for t in self.tasks),
            "decisions": len(self.decisions),
            "decisions-expected": sum(d.is_expected for d in self.decisions),
            "decisions-in-time": sum(bool(d.is_expected and d.in_time) for d in self.decisions),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "overall": self.overall,
            "task_score": self.task_score,
            "decision_score": self.decision_score,
            "phases": self.phases,
            "counts": self.counts(),
            "tasks": [asdict(t) for t in self.tasks],
            "decisions": [asdict(d) for d in self.decisions],
            "gaps": [asdict(t) for t in self.gaps],
        }


def _percent(credits: Sequence[float]) -> float:
    return 100.0 * sum(credits) / len(credits)


def score_exercise(
    playbook: Playbook,
    scenario: Scenario,
    answers: Mapping[str, tuple[Sequence[str], float]],
    tasks_done: Mapping[str, float],
) -> ExerciseScore:
    """Score a run: ``answers`` maps a decision id to (the options chosen, the scenario
    minute), ``tasks_done`` a task id to the scenario minute it was completed."""
    discovery = scenario.discovery_at_minutes
    tasks = []
    for phase, task in playbook.tasks():
        due = discovery + task.due_hours_after_discovery * 60
        done = tasks_done.get(task.id)
        status: TaskStatus
        if done is None:
            status, late = "missed", None
        elif done <= due:
            status, late = "on-time", None
        else:
            status, late = "late", done - due
        tasks.append(
            TaskResult(
                phase=phase,
                task_id=task.id,
                title=task.title,
                owner_role=task.owner_role,
                due_minute=due,
                done_minute=done,
                status=status,
                late_minutes=late,
                credit=TASK_CREDIT[status],
            )
        )
    decisions = []
    for inject, decision in scenario.decisions():
        chosen, minute = answers.get(decision.id, ((), None))
        chosen = tuple(chosen)
        expected = tuple(decision.expected)
        if decision.multiple:
            is_expected = bool(chosen) and set(chosen) == set(expected)
        else:
            is_expected = len(chosen) == 1 and chosen[0] in expected
        deadline = inject.at_minutes + decision.within_minutes if decision.within_minutes else None
        in_time = None if minute is None else (deadline is None or minute <= deadline)
        credit = (1.0 if in_time else LATE_DECISION_CREDIT) if is_expected else 0.0
        decisions.append(
            DecisionResult(
                decision_id=decision.id,
                inject_id=inject.id,
                question=decision.question,
                chosen=chosen,
                expected=expected,
                minute=minute,
                deadline_minute=deadline,
                is_expected=is_expected,
                in_time=in_time,
                tasks=tuple(decision.tasks),
                credit=credit,
            )
        )
    phases = {
        phase: _percent([t.credit for t in tasks if t.phase == phase])
        for phase in PHASES
        if any(t.phase == phase for t in tasks)
    }
    credits = [t.credit for t in tasks] + [d.credit for d in decisions]
    return ExerciseScore(
        tasks=tuple(tasks),
        decisions=tuple(decisions),
        phases=phases,
        task_score=_percent([t.credit for t in tasks]),
        decision_score=_percent([d.credit for d in decisions]) if decisions else None,
        overall=_percent(credits),
    )
