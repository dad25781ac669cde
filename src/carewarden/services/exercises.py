"""Tabletop exercises as evidence: the after-action report of a run, and which playbooks
were exercised when (the report's preparedness section)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from carewarden.prepare.exercise import clock_text, content_hash, duration_text, naive_utc
from carewarden.prepare.exercise_runs import RunSummary, StoredRun, get_run, last_runs
from carewarden.prepare.exercise_scoring import DecisionResult, TaskResult
from carewarden.prepare.playbooks import Playbook, load_playbooks
from carewarden.store import Store
from carewarden.store.store import utcnow

STALE_AFTER = dt.timedelta(days=365)
"""A playbook not exercised for this long is flagged (exercise at least once a year)."""


@dataclass(frozen=True)
class Control:
    framework: str
    control: str
    shows: str


COMPLIANCE: tuple[Control, ...] = (
    Control(
        "HIPAA Security Rule",
        "45 CFR 164.308(a)(7)(ii)(D)",
        "Testing and revision procedures: the response plan was tested in an exercise; the "
        "findings are the revisions it calls for.",
    ),
    Control(
        "HIPAA Security Rule",
        "45 CFR 164.308(a)(6)(ii)",
        "Response and reporting: the response to a security incident was rehearsed against "
        "the playbook's deadlines and documented.",
    ),
    Control(
        "NIST CSF 2.0",
        "ID.IM-02",
        "Improvements are identified from security tests and exercises (the findings).",
    ),
    Control(
        "NIST CSF 2.0",
        "ID.IM-04",
        "Incident response plans are maintained and improved: the playbook version exercised "
        "is identified by its hash.",
    ),
    Control(
        "NIST CSF 2.0",
        "RS.MA",
        "Incident management: the playbook's tasks, owners and deadlines were executed.",
    ),
    Control(
        "HHS 405(d) HICP",
        "Practice 8 (incident response)",
        "Incident response playbooks are exercised with the people who own their tasks.",
    ),
)


def _stamp(value: dt.datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def _utc(value: dt.datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True)
class RunReport:
    """One run as evidence: the stored run, its checked scores, and whether the playbook
    has been revised since (``None``: the playbook is no longer known)."""

    run: StoredRun
    playbook_revised: bool | None

    @property
    def ok(self) -> bool:
        return not self.run.problems

    def timeline(self) -> list[dict[str, Any]]:
        """The events in scenario-time order (then as recorded), each with a sentence."""
        titles = {i.id: i.title for i in self.run.scenario.injects}
        questions = {d.id: d.question for _, d in self.run.scenario.decisions()}
        tasks = {t.id: t.title for _, t in self.run.playbook.tasks()}
        found = []
        for e in sorted(self.run.events, key=lambda e: (e["scenario_minute"], e["seq"])):
            if e["kind"] == "inject":
                text = f"Inject {e['inject_id']}: {titles.get(e['inject_id'], '')}"
            elif e["kind"] == "decision":
                text = (
                    f"Decision {e['decision_id']} ({questions.get(e['decision_id'], '')}): "
                    f"{', '.join(e['choice'] or [])}"
                )
            else:
                text = f"Task done {e['task_id']}: {tasks.get(e['task_id'], '')}"
            found.append({**e, "clock": clock_text(e["scenario_minute"]), "text": text})
        return found

    def as_json(self) -> dict[str, Any]:
        row = self.run.row
        score = self.run.score
        return {
            "run_id": row["run_id"],
            "playbook": {
                "id": row["playbook_id"],
                "title": self.run.playbook.title,
                "hash": row["playbook_hash"],
                "revised_since": self.playbook_revised,
            },
            "scenario": {
                "id": row["scenario_id"],
                "title": row["scenario_title"],
                "hash": row["scenario_hash"],
                "discovery_at_minutes": self.run.scenario.discovery_at_minutes,
            },
            "facilitator": row["facilitator"],
            "participants": row["participants"],
            "mode": row["mode"],
            "started_at": _stamp(row["started_at"]),
            "finished_at": _stamp(row["finished_at"]),
            "recorded_at": _stamp(row["recorded_at"]),
            "recorded_by": row["recorded_by"],
            "scores": score.as_json(),
            "timeline": [
                {
                    "seq": e["seq"],
                    "kind": e["kind"],
                    "scenario_minute": e["scenario_minute"],
                    "wall_time": _stamp(e["wall_time"]),
                    "inject_id": e["inject_id"],
                    "decision_id": e["decision_id"],
                    "task_id": e["task_id"],
                    "choice": e["choice"],
                }
                for e in self.timeline()
            ],
            "compliance": [asdict(c) for c in COMPLIANCE],
            "integrity": {
                "record_hash": row["record_hash"],
                "ok": self.ok,
                "problems": self.run.problems,
            },
        }

    def markdown(self) -> str:
        return after_action_markdown(self)


def run_report(store: Store, run_id: str, playbooks: Iterable[Playbook] = ()) -> RunReport:
    """The after-action report of run ``run_id``; ``playbooks`` (default: the shipped ones)
    tell whether its playbook was revised since."""
    run = get_run(store, run_id)
    known = {p.id: p for p in (playbooks or load_playbooks())}
    current = known.get(run.playbook.id)
    revised = None if current is None else content_hash(current) != run.row["playbook_hash"]
    return RunReport(run, revised)


# -- the after-action report in Markdown -------------------------------------------------------
def _cell(value: object) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def task_finding(task: TaskResult) -> str:
    if task.status == "on-time":
        return "on time"
    if task.status == "late" and task.late_minutes is not None:
        return f"late by {duration_text(task.late_minutes)}"
    return "missed"


def decision_finding(decision: DecisionResult) -> str:
    if not decision.chosen:
        return "unanswered"
    if not decision.is_expected:
        return "not the expected decision"
    return "expected, in time" if decision.in_time else "expected, after its deadline"


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def after_action_markdown(report: RunReport) -> str:
    run, row, score = report.run, report.run.row, report.run.score
    counts = score.counts()
    out = [
        f"# After-action report: {run.scenario.title}",
        "",
        f"Tabletop exercise **{row['run_id']}** of the **{run.playbook.title}** playbook "
        f"(`{row['playbook_id']}`, SHA-256 `{row['playbook_hash'][:16]}…`), scenario "
        f"`{row['scenario_id']}` (SHA-256 `{row['scenario_hash'][:16]}…`).",
        "",
        f"- Conducted: {_utc(row['started_at'])} to {_utc(row['finished_at'])}"
        + (" (entered from an answers file)" if row["mode"] == "replay" else ""),
        f"- Facilitator: {row['facilitator']}",
        f"- Participants: {', '.join(row['participants']) or '(not recorded)'}",
        f"- Recorded: {_utc(row['recorded_at'])} by {row['recorded_by']}",
        f"- Discovery at {clock_text(run.scenario.discovery_at_minutes)}; task deadlines "
        "count from there.",
    ]
    if report.playbook_revised:
        out.append("- The playbook has been revised since this exercise.")
    out += [
        "",
        "## Scenario",
        "",
        " ".join(run.scenario.narrative.split()),
        "",
        "## Scores",
        "",
        f"**Overall {_score(score.overall)} / 100** (tasks {_score(score.task_score)}, "
        f"decisions {_score(score.decision_score)}). Tasks: {counts['on-time']} on time, "
        f"{counts['late']} late, {counts['missed']} missed. Decisions: "
        f"{counts['decisions-expected']} of {counts['decisions']} as the playbook expects, "
        f"{counts['decisions-in-time']} of them in time.",
        "",
        *_table(["Phase", "Score"], [(p, _score(s)) for p, s in score.phases.items()]),
        "",
        "Credit: a task on time 1, late 0.5, missed 0; a decision as expected and in time 1, "
        "as expected but late 0.5, otherwise 0. A phase scores its tasks; the overall score "
        "is the credit earned over the credit available for every task and decision.",
        "",
        "## Findings",
        "",
    ]
    if score.gaps:
        out += _table(
            ["Task", "Phase", "Owner role", "Due", "Completed", "Finding"],
            [
                (
                    f"{t.task_id}: {t.title}",
                    t.phase,
                    t.owner_role,
                    clock_text(t.due_minute),
                    clock_text(t.done_minute) if t.done_minute is not None else "-",
                    task_finding(t),
                )
                for t in score.gaps
            ],
        )
    else:
        out.append("Every playbook task was completed on time.")
    wrong = [d for d in score.decisions if d.credit < 1]
    if wrong:
        out += [
            "",
            *_table(
                ["Decision", "Chosen", "Expected", "Finding"],
                [
                    (
                        d.question,
                        ", ".join(d.chosen) or "-",
                        ", ".join(d.expected),
                        decision_finding(d),
                    )
                    for d in wrong
                ],
            ),
        ]
    out += ["", "## Decisions", ""]
    if score.decisions:
        out += _table(
            ["Inject", "Question", "Chosen", "Expected", "Decided", "Deadline", "Result"],
            [
                (
                    d.inject_id,
                    d.question,
                    ", ".join(d.chosen) or "-",
                    ", ".join(d.expected),
                    clock_text(d.minute) if d.minute is not None else "-",
                    clock_text(d.deadline_minute) if d.deadline_minute is not None else "-",
                    decision_finding(d),
                )
                for d in score.decisions
            ],
        )
    else:
        out.append("The scenario asks no decision.")
    out += [
        "",
        "## Playbook tasks",
        "",
        *_table(
            ["Phase", "Task", "Owner role", "Due", "Completed", "Result"],
            [
                (
                    t.phase,
                    f"{t.task_id}: {t.title}",
                    t.owner_role,
                    clock_text(t.due_minute),
                    clock_text(t.done_minute) if t.done_minute is not None else "-",
                    task_finding(t),
                )
                for t in score.tasks
            ],
        ),
        "",
        "## Timeline",
        "",
        *_table(
            ["Scenario time", "Wall clock (UTC)", "Event"],
            [
                (e["clock"], f"{e['wall_time']:%Y-%m-%d %H:%M:%S}", e["text"])
                for e in report.timeline()
            ],
        ),
        "",
        "## Compliance evidence",
        "",
        *_table(
            ["Framework", "Control", "What this exercise shows"],
            [(c.framework, c.control, c.shows) for c in COMPLIANCE],
        ),
        "",
        "## Integrity",
        "",
        f"Record SHA-256 `{row['record_hash']}` over the run, its timeline and its scores.",
    ]
    if report.ok:
        out.append("The record is intact and its scores follow from its timeline.")
    else:
        out += [f"- **{p}**" for p in run.problems]
    return "\n".join(out) + "\n"


# -- the report's preparedness section -------------------------------------------------------
@dataclass(frozen=True)
class PlaybookExercise:
    playbook_id: str
    title: str
    last: RunSummary | None  # the most recent run
    stale: bool  # never exercised, or not within STALE_AFTER


@dataclass(frozen=True)
class ExerciseReadiness:
    """The last exercise of each playbook, and those not exercised in the last 12 months."""

    playbooks: list[PlaybookExercise]
    as_of: dt.datetime

    @property
    def exercised(self) -> list[PlaybookExercise]:
        return [p for p in self.playbooks if p.last is not None]

    @property
    def stale(self) -> list[PlaybookExercise]:
        return [p for p in self.playbooks if p.stale]


def exercise_readiness(
    store: Store, playbooks: Iterable[Playbook] = (), *, now: dt.datetime | None = None
) -> ExerciseReadiness:
    """Per playbook (default: the shipped ones, plus any other that was exercised), its
    last run, and whether it went unexercised for a year as of ``now``."""
    at = naive_utc(now) if now else utcnow()
    known = list(playbooks) or load_playbooks()
    last = last_runs(store)
    rows = [(p.id, p.title) for p in known]
    rows += [(pid, pid) for pid in sorted(last) if pid not in {p.id for p in known}]
    return ExerciseReadiness(
        [
            PlaybookExercise(
                pid,
                title,
                last.get(pid),
                pid not in last or last[pid].started_at < at - STALE_AFTER,
            )
            for pid, title in rows
        ],
        at,
    )
