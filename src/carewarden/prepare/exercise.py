"""Tabletop exercises: scenarios that walk a team through an incident, and their answers.

A **scenario** (YAML, schema in the README) exercises one playbook: a narrative, then
injects ordered by scenario time (``at_minutes`` after the start; the incident is discovered
at ``discovery_at_minutes``, and the playbook's deadlines count from there), each with a
message and zero or more decisions (a question, its options, the option(s) the playbook
expects, an optional deadline ``within_minutes`` of the inject, and the playbook tasks it
relates to). Every task id a scenario names must exist in its playbook.

A run is recorded as a timeline of :class:`Event`: each inject shown, each decision
answered and each playbook task the team marked done, with its scenario minute and its
wall-clock time. It comes from the interactive session (``carewarden exercise run``) or
from an **answers file** (YAML) replaying a run recorded on paper.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from carewarden.errors import ConfigError
from carewarden.prepare.playbooks import Playbook, Slug, Text
from carewarden.prepare.yaml_lines import Loc, YamlDocument

SCENARIO_DIR = Path(__file__).parent / "exercises"
MAX_MINUTES = 366 * 24 * 60  # a year of scenario time
LongText = Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
WallTime = Annotated[dt.datetime, Strict(False)]  # YAML gives a datetime, or an ISO string
EventKind = Literal["inject", "decision", "task-done"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# -- scenarios -------------------------------------------------------------------------------
class DecisionOption(_Strict):
    id: Slug
    text: Text


class Decision(_Strict):
    id: Slug
    question: Text
    options: list[DecisionOption] = Field(min_length=2)
    expected: list[Slug] = Field(min_length=1)
    multiple: bool = False  # the team picks several options (all of ``expected``, no more)
    within_minutes: int | None = Field(default=None, gt=0, le=MAX_MINUTES)
    tasks: list[Slug] = []

    def option_ids(self) -> list[str]:
        return [o.id for o in self.options]


class Inject(_Strict):
    id: Slug
    at_minutes: int = Field(ge=0, le=MAX_MINUTES)
    title: Text
    message: LongText
    decisions: list[Decision] = []


class Scenario(_Strict):
    id: Slug
    playbook: Slug
    title: Text
    narrative: LongText
    discovery_at_minutes: int = Field(default=0, ge=0, le=MAX_MINUTES)
    injects: list[Inject] = Field(min_length=1)

    def decisions(self) -> list[tuple[Inject, Decision]]:
        return [(inject, d) for inject in self.injects for d in inject.decisions]

    def decision(self, decision_id: str) -> tuple[Inject, Decision]:
        return next((i, d) for i, d in self.decisions() if d.id == decision_id)

    def inject(self, inject_id: str) -> Inject:
        return next(i for i in self.injects if i.id == inject_id)


def scenario_problems(scenario: Scenario, playbooks: Iterable[Playbook]) -> list[tuple[Loc, str]]:
    """What is wrong with a structurally valid scenario, each with the field at fault:
    injects out of scenario-time order, a discovery after the last inject, repeated ids,
    expected options that are not options, an unknown playbook or task id."""
    problems: list[tuple[Loc, str]] = []
    known = {p.id: p for p in playbooks}
    playbook = known.get(scenario.playbook)
    if playbook is None:
        problems.append(
            (["playbook"], f"no playbook {scenario.playbook!r} (known: {', '.join(sorted(known))})")
        )
    task_ids = [t.id for _, t in playbook.tasks()] if playbook else []
    last = scenario.injects[-1].at_minutes
    if scenario.discovery_at_minutes > last:
        problems.append(
            (
                ["discovery_at_minutes"],
                f"{scenario.discovery_at_minutes} is after the last inject (at minute {last}); "
                "the incident must be discovered during the scenario",
            )
        )
    seen_injects: set[str] = set()
    seen_decisions: set[str] = set()
    for i, inject in enumerate(scenario.injects):
        if i and inject.at_minutes < scenario.injects[i - 1].at_minutes:
            problems.append(
                (
                    ["injects", i, "at_minutes"],
                    f"{inject.at_minutes} is before the previous inject's "
                    f"{scenario.injects[i - 1].at_minutes}; injects are ordered by scenario time",
                )
            )
        if inject.id in seen_injects:
            problems.append((["injects", i, "id"], f"inject id {inject.id!r} is used twice"))
        seen_injects.add(inject.id)
        for j, decision in enumerate(inject.decisions):
            where: list[int | str] = ["injects", i, "decisions", j]
            if decision.id in seen_decisions:
                problems.append(([*where, "id"], f"decision id {decision.id!r} is used twice"))
            seen_decisions.add(decision.id)
            options = decision.option_ids()
            repeated = sorted({o for o in options if options.count(o) > 1})
            if repeated:
                problems.append(([*where, "options"], f"option id(s) used twice: {repeated}"))
            unknown = [e for e in decision.expected if e not in options]
            if unknown:
                problems.append(
                    ([*where, "expected"], f"{unknown} not among the options {options}")
                )
            if len(set(decision.expected)) != len(decision.expected):
                problems.append(([*where, "expected"], "an option appears twice"))
            if playbook is not None:
                for k, task in enumerate(decision.tasks):
                    if task not in task_ids:
                        problems.append(
                            (
                                [*where, "tasks", k],
                                f"playbook {playbook.id} has no task {task!r} "
                                f"(its tasks: {', '.join(task_ids)})",
                            )
                        )
    return problems


def parse_scenario(doc: YamlDocument, playbooks: Iterable[Playbook]) -> Scenario:
    scenario = doc.validate(Scenario)
    problems = scenario_problems(scenario, playbooks)
    if problems:
        raise doc.error([doc.problem(loc, message) for loc, message in problems])
    return scenario


def load_scenario(path: Path, playbooks: Iterable[Playbook]) -> Scenario:
    """The scenario in ``path``, checked against ``playbooks``; a ConfigError names the file,
    and the field and line of every problem."""
    return parse_scenario(YamlDocument(path, "scenario"), playbooks)


def shipped_scenario_files() -> list[Path]:
    return sorted(SCENARIO_DIR.glob("*.yaml"))


def shipped_scenarios(playbooks: Iterable[Playbook]) -> list[Scenario]:
    """The shipped scenarios: one per shipped playbook, named after it."""
    playbooks = list(playbooks)
    return [load_scenario(path, playbooks) for path in shipped_scenario_files()]


def scenario_for(playbook: Playbook, playbooks: Iterable[Playbook]) -> Scenario:
    """The shipped scenario of ``playbook``; a ConfigError when it has none."""
    path = SCENARIO_DIR / f"{playbook.id}.yaml"
    if not path.exists():
        raise ConfigError(
            f"no shipped scenario exercises playbook {playbook.id!r}: write one and pass it "
            "with --scenario FILE (see `carewarden exercise scenarios` for examples)"
        )
    return load_scenario(path, playbooks)


def content_hash(model: BaseModel) -> str:
    """SHA-256 of the model's canonical JSON: the same content gives the same hash."""
    return hashlib.sha256(canonical(model.model_dump(mode="json"))).hexdigest()


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


# -- the timeline of a run -----------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    """One thing that happened in a run, at a scenario minute and a wall-clock time (UTC)."""

    kind: EventKind
    minute: float
    wall_time: dt.datetime
    inject_id: str | None = None
    decision_id: str | None = None
    task_id: str | None = None
    choice: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunLog:
    """A run as conducted: who took part, when, and its timeline, before scoring."""

    scenario: Scenario
    playbook: Playbook
    facilitator: str
    participants: tuple[str, ...]
    mode: Literal["interactive", "replay"]
    started_at: dt.datetime
    finished_at: dt.datetime
    events: tuple[Event, ...] = field(default=())

    def answers(self) -> dict[str, tuple[tuple[str, ...], float]]:
        """decision id -> (the options chosen, the scenario minute)."""
        return {
            e.decision_id: (e.choice, e.minute)
            for e in self.events
            if e.kind == "decision" and e.decision_id
        }

    def tasks_done(self) -> dict[str, float]:
        """task id -> the scenario minute it was completed."""
        return {e.task_id: e.minute for e in self.events if e.kind == "task-done" and e.task_id}


# -- answers files ---------------------------------------------------------------------------
Minute = Annotated[float, Field(ge=0, le=MAX_MINUTES)]


class DecisionAnswer(_Strict):
    id: Slug
    choice: Slug | list[Slug]
    at_minutes: Minute | None = None  # default: the inject's time
    at: WallTime | None = None  # wall-clock time it was decided, if known

    def chosen(self) -> tuple[str, ...]:
        return (self.choice,) if isinstance(self.choice, str) else tuple(self.choice)


class TaskDone(_Strict):
    id: Slug
    at_minutes: Minute | None = None  # default: the inject's time
    at: WallTime | None = None


class InjectResponse(_Strict):
    id: Slug
    shown_at: WallTime | None = None
    decisions: list[DecisionAnswer] = []
    tasks_done: list[TaskDone] = []


class AnswersFile(_Strict):
    scenario: Slug | None = None  # when given, must be the scenario's id
    facilitator: Name | None = None
    participants: list[Name] = []
    started_at: WallTime | None = None
    finished_at: WallTime | None = None
    injects: list[InjectResponse] = []


def answer_problems(
    answers: AnswersFile, scenario: Scenario, playbook: Playbook
) -> list[tuple[Loc, str]]:
    """What in an answers file does not fit the scenario: unknown injects, decisions, options
    or tasks, a decision taken before its inject, a task marked done twice."""
    problems: list[tuple[Loc, str]] = []
    if answers.scenario is not None and answers.scenario != scenario.id:
        problems.append(
            (["scenario"], f"the answers are for {answers.scenario!r}, not {scenario.id!r}")
        )
    injects = {i.id: i for i in scenario.injects}
    task_ids = [t.id for _, t in playbook.tasks()]
    seen_injects: set[str] = set()
    seen_decisions: set[str] = set()
    seen_tasks: set[str] = set()
    for i, response in enumerate(answers.injects):
        where: list[int | str] = ["injects", i]
        inject = injects.get(response.id)
        if inject is None:
            problems.append(
                (
                    [*where, "id"],
                    f"scenario {scenario.id} has no inject {response.id!r} "
                    f"(its injects: {', '.join(injects)})",
                )
            )
            continue
        if response.id in seen_injects:
            problems.append(([*where, "id"], f"inject {response.id!r} is answered twice"))
        seen_injects.add(response.id)
        decisions = {d.id: d for d in inject.decisions}
        for j, answer in enumerate(response.decisions):
            at: list[int | str] = [*where, "decisions", j]
            decision = decisions.get(answer.id)
            if decision is None:
                problems.append(
                    (
                        [*at, "id"],
                        f"inject {inject.id} has no decision {answer.id!r} "
                        f"(its decisions: {', '.join(decisions) or 'none'})",
                    )
                )
                continue
            if answer.id in seen_decisions:
                problems.append(([*at, "id"], f"decision {answer.id!r} is answered twice"))
            seen_decisions.add(answer.id)
            problems += [
                ([*at, "choice"], message) for message in choice_problems(decision, answer.chosen())
            ]
            if answer.at_minutes is not None and answer.at_minutes < inject.at_minutes:
                problems.append(
                    (
                        [*at, "at_minutes"],
                        f"{answer.at_minutes:g} is before the inject (at minute "
                        f"{inject.at_minutes}): a decision follows its inject",
                    )
                )
        for j, done in enumerate(response.tasks_done):
            at = [*where, "tasks_done", j, "id"]
            if done.id not in task_ids:
                problems.append(
                    (at, f"playbook {playbook.id} has no task {done.id!r} ({', '.join(task_ids)})")
                )
            elif done.id in seen_tasks:
                problems.append((at, f"task {done.id!r} is marked done twice"))
            seen_tasks.add(done.id)
    return problems


def choice_problems(decision: Decision, chosen: Sequence[str]) -> list[str]:
    """Why ``chosen`` is not a valid answer to ``decision`` (empty when it is)."""
    options = decision.option_ids()
    problems = []
    unknown = [c for c in chosen if c not in options]
    if unknown:
        problems.append(f"{unknown} not among the options {options}")
    if not chosen:
        problems.append("no option chosen")
    elif not decision.multiple and len(chosen) > 1:
        problems.append(f"decision {decision.id} takes one option, not {list(chosen)}")
    if len(set(chosen)) != len(chosen):
        problems.append("an option is chosen twice")
    return problems


def load_answers(path: Path, scenario: Scenario, playbook: Playbook) -> AnswersFile:
    """The answers file ``path``, checked against the scenario and its playbook."""
    doc = YamlDocument(path, "answers")
    answers = doc.validate(AnswersFile)
    problems = answer_problems(answers, scenario, playbook)
    if problems:
        raise doc.error([doc.problem(loc, message) for loc, message in problems])
    return answers


def naive_utc(when: dt.datetime) -> dt.datetime:
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def replay(
    answers: AnswersFile,
    scenario: Scenario,
    playbook: Playbook,
    *,
    facilitator: str,
    participants: Sequence[str],
    clock: Callable[[], dt.datetime],
) -> RunLog:
    """The run an answers file records: every inject shown in scenario order, followed by
    its answers and the tasks marked done with it. A wall-clock time the file does not give
    is the time of the replay (``clock``, naive UTC): when the event was entered. The end is
    ``finished_at``, else the last time the file gives when it gives a start, else now."""
    started = naive_utc(answers.started_at) if answers.started_at else clock()
    responses = {r.id: r for r in answers.injects}
    events: list[Event] = []
    for inject in scenario.injects:
        response = responses.get(inject.id, InjectResponse(id=inject.id))
        shown = naive_utc(response.shown_at) if response.shown_at else clock()
        events.append(Event("inject", inject.at_minutes, shown, inject_id=inject.id))
        for answer in response.decisions:
            events.append(
                Event(
                    "decision",
                    answer.at_minutes if answer.at_minutes is not None else inject.at_minutes,
                    naive_utc(answer.at) if answer.at else clock(),
                    inject_id=inject.id,
                    decision_id=answer.id,
                    choice=answer.chosen(),
                )
            )
        for done in response.tasks_done:
            events.append(
                Event(
                    "task-done",
                    done.at_minutes if done.at_minutes is not None else inject.at_minutes,
                    naive_utc(done.at) if done.at else clock(),
                    inject_id=inject.id,
                    task_id=done.id,
                )
            )
    if answers.finished_at:
        finished = naive_utc(answers.finished_at)
    elif answers.started_at:  # a past run: it ended with the last time the file gives
        finished = max([started, *(naive_utc(t) for t in _wall_times(answers))])
    else:
        finished = clock()
    return RunLog(
        scenario=scenario,
        playbook=playbook,
        facilitator=facilitator,
        participants=tuple(participants),
        mode="replay",
        started_at=started,
        finished_at=finished,
        events=tuple(events),
    )


def answers_from_log(log: RunLog) -> AnswersFile:
    """The answers file that replays ``log`` (an interactive run kept as a file, to replay
    when it could not be recorded, or to keep beside the store)."""
    responses: dict[str, dict[str, Any]] = {}
    for e in log.events:
        if e.inject_id is None:
            continue
        response = responses.setdefault(
            e.inject_id, {"id": e.inject_id, "decisions": [], "tasks_done": []}
        )
        at = e.wall_time.replace(tzinfo=dt.UTC)
        if e.kind == "inject":
            response["shown_at"] = at
        elif e.kind == "decision":
            choice: str | list[str] = list(e.choice)
            if len(e.choice) == 1 and not log.scenario.decision(str(e.decision_id))[1].multiple:
                choice = e.choice[0]
            response["decisions"].append(
                {"id": e.decision_id, "choice": choice, "at_minutes": e.minute, "at": at}
            )
        else:
            response["tasks_done"].append({"id": e.task_id, "at_minutes": e.minute, "at": at})
    return AnswersFile.model_validate(
        {
            "scenario": log.scenario.id,
            "facilitator": log.facilitator,
            "participants": list(log.participants),
            "started_at": log.started_at.replace(tzinfo=dt.UTC),
            "finished_at": log.finished_at.replace(tzinfo=dt.UTC),
            "injects": list(responses.values()),
        }
    )


def answers_yaml(answers: AnswersFile) -> str:
    """An answers file as YAML (times in UTC)."""
    data = answers.model_dump(mode="json", exclude_none=True)
    for response in data["injects"]:
        for key in ("decisions", "tasks_done"):
            if not response[key]:
                del response[key]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _wall_times(answers: AnswersFile) -> list[dt.datetime]:
    found = []
    for response in answers.injects:
        found += [response.shown_at] if response.shown_at else []
        found += [a.at for a in response.decisions if a.at]
        found += [t.at for t in response.tasks_done if t.at]
    return found


def clock_text(minute: float) -> str:
    """A scenario minute as the clock on the wall of the exercise: ``T+02:30``, ``T+3d 04:00``
    (a fraction of a minute is dropped)."""
    whole = int(minute)
    days, rest = divmod(whole, 24 * 60)
    hours, minutes = divmod(rest, 60)
    return f"T+{days}d {hours:02d}:{minutes:02d}" if days else f"T+{hours:02d}:{minutes:02d}"


def duration_text(minutes: float) -> str:
    """A span of scenario time, rounded up to the minute: ``1 min``, ``2 h 05 min``,
    ``3 d 4 h``."""
    whole = math.ceil(minutes - 1e-9)
    if whole < 60:
        return f"{whole} min"
    days, rest = divmod(whole, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    return f"{hours} h {mins:02d} min" if mins else f"{hours} h"
