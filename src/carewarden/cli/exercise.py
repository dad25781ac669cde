"""``carewarden exercise …``: tabletop exercises of the playbooks, scored and kept as evidence.

Exit codes: 0 ok; 1 ``show`` found the run's record altered (or its scores not following
from its timeline); 2 usage errors (an unknown playbook or run, an invalid scenario or
answers file, an interactive run without a terminal).
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Protocol

import orjson
import typer
from rich.console import RenderableType
from rich.panel import Panel
from rich.prompt import Prompt
from rich.table import Table

from carewarden.cli.cases import ActorOption, CasesConfigOption, actor_name
from carewarden.cli.common import (
    EXIT_FINDINGS,
    EXIT_USAGE,
    StoreOption,
    console,
    fail,
    open_store,
    user_errors,
)
from carewarden.prepare.case_settings import load_case_settings
from carewarden.prepare.exercise import (
    Decision,
    Event,
    RunLog,
    Scenario,
    answers_from_log,
    answers_yaml,
    choice_problems,
    clock_text,
    load_answers,
    load_scenario,
    replay,
    scenario_for,
    shipped_scenario_files,
)
from carewarden.prepare.exercise_runs import list_runs, record_run
from carewarden.prepare.exercise_scoring import ExerciseScore, score_exercise
from carewarden.prepare.playbooks import Playbook, PlaybookTask
from carewarden.services.exercises import RunReport, decision_finding, run_report, task_finding
from carewarden.store.store import utcnow

app = typer.Typer(
    help="Tabletop exercises: walk a team through a playbook's scenario (injects, timed "
    "decisions), score it against the playbook's deadlines, keep it as evidence.",
    no_args_is_help=True,
)

ScenarioOption = Annotated[
    Path | None,
    typer.Option("--scenario", help="A scenario YAML file (default: the shipped one)."),
]


class Prompter(Protocol):
    """What an interactive run needs from the terminal (a test passes a scripted one)."""

    def say(self, message: RenderableType) -> None: ...

    def ask(self, question: str, default: str | None = None) -> str: ...


class RichPrompter:
    def say(self, message: RenderableType) -> None:
        console.print(message, highlight=False)

    def ask(self, question: str, default: str | None = None) -> str:
        if default is None:
            return Prompt.ask(question, console=console)
        return Prompt.ask(question, console=console, default=default, show_default=bool(default))


def _split(text: str) -> list[str]:
    return [p for p in re.split(r"[,\s]+", text.strip()) if p]


def parse_choice(decision: Decision, text: str) -> tuple[tuple[str, ...], str | None]:
    """The options ``text`` names (numbers from 1 or ids), or why it names none validly."""
    ids = decision.option_ids()
    chosen = []
    for part in _split(text):
        if part.isdigit() and 1 <= int(part) <= len(ids):
            chosen.append(ids[int(part) - 1])
        else:
            chosen.append(part)
    problems = choice_problems(decision, chosen)
    return tuple(chosen), "; ".join(problems) or None


def parse_tasks(
    open_tasks: Sequence[PlaybookTask], text: str
) -> tuple[list[PlaybookTask], str | None]:
    by_id = {t.id: t for t in open_tasks}
    picked: list[PlaybookTask] = []
    for part in _split(text):
        if part.isdigit() and 1 <= int(part) <= len(open_tasks):
            task = open_tasks[int(part) - 1]
        elif part in by_id:
            task = by_id[part]
        else:
            return [], f"{part!r} is not one of the open tasks (a number or a task id)"
        if task not in picked:
            picked.append(task)
    return picked, None


_CLOCK = re.compile(r"^T?\+?(?:(\d+)d\s*)?(\d+):(\d{2})$")


def parse_minute(text: str) -> float | None:
    """A scenario time as minutes: ``90``, ``T+01:30`` or ``T+1d 02:00``; None if not one."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        found = _CLOCK.match(text)
        if not found:
            return None
        days, hours, minutes = (int(g) if g else 0 for g in found.groups())
        return float(days * 1440 + hours * 60 + minutes)
    return value if value >= 0 else None


def conduct(
    scenario: Scenario,
    playbook: Playbook,
    io: Prompter,
    clock: Callable[[], dt.datetime],
) -> list[Event]:
    """Walk the team through the scenario: each inject in scenario-time order, each of its
    decisions, then the playbook tasks completed by then. A decision's scenario minute is
    its inject's plus the real minutes the team took (the clock runs while an inject is
    open); a task's is asked (default: the inject's)."""
    io.say(Panel(" ".join(scenario.narrative.split()), title=scenario.title))
    io.say(
        f"Playbook [bold]{playbook.id}[/]: {len(playbook.tasks())} tasks, due after the "
        f"discovery at {clock_text(scenario.discovery_at_minutes)}."
    )
    events: list[Event] = []
    done: set[str] = set()
    for inject in scenario.injects:
        shown = clock()
        events.append(Event("inject", inject.at_minutes, shown, inject_id=inject.id))
        io.say(
            Panel(
                " ".join(inject.message.split()),
                title=f"{clock_text(inject.at_minutes)} · {inject.title}",
            )
        )
        for decision in inject.decisions:
            events.append(_decide(inject.at_minutes, shown, decision, io, clock, inject.id))
        events += _tasks(inject.at_minutes, inject.id, playbook, done, io, clock)
    return events


def _decide(
    at: int,
    shown: dt.datetime,
    decision: Decision,
    io: Prompter,
    clock: Callable[[], dt.datetime],
    inject_id: str,
) -> Event:
    lines = [f"[bold]{decision.question}[/]"]
    lines += [f"  {n}. {o.text} [dim]({o.id})[/]" for n, o in enumerate(decision.options, 1)]
    if decision.within_minutes:
        lines.append(
            f"  Decide within {decision.within_minutes} min "
            f"(by {clock_text(at + decision.within_minutes)})."
        )
    io.say("\n".join(lines))
    several = "; several separated by commas" if decision.multiple else ""
    while True:
        chosen, problem = parse_choice(decision, io.ask(f"Decision (number or id{several})"))
        if problem is None:
            break
        io.say(f"[red]{problem}[/]")
    now = clock()
    minute = round(at + max(0.0, (now - shown).total_seconds() / 60), 2)
    late = decision.within_minutes is not None and minute > at + decision.within_minutes
    io.say(
        f"Decided at {clock_text(minute)}" + (" [yellow](after its deadline)[/]" if late else "")
    )
    return Event(
        "decision", minute, now, inject_id=inject_id, decision_id=decision.id, choice=chosen
    )


def _tasks(
    at: int,
    inject_id: str,
    playbook: Playbook,
    done: set[str],
    io: Prompter,
    clock: Callable[[], dt.datetime],
) -> list[Event]:
    open_tasks = [t for _, t in playbook.tasks() if t.id not in done]
    if not open_tasks:
        return []
    table = Table(title="Open playbook tasks", show_edge=False)
    for column in ("#", "task", "owner role", "due after discovery"):
        table.add_column(column)
    for n, task in enumerate(open_tasks, 1):
        table.add_row(
            str(n),
            f"{task.id}: {task.title}",
            task.owner_role,
            f"{task.due_hours_after_discovery:g} h",
        )
    io.say(table)
    while True:
        picked, problem = parse_tasks(
            open_tasks,
            io.ask("Tasks completed by now (numbers or ids, comma-separated; Enter: none)", ""),
        )
        if problem is None:
            break
        io.say(f"[red]{problem}[/]")
    events = []
    for task in picked:
        while True:
            text = io.ask(f"Scenario minute {task.id} was completed", str(at))
            minute = parse_minute(text)
            if minute is not None:
                break
            io.say(f"[red]{text!r} is not a scenario time (minutes, or T+HH:MM)[/]")
        events.append(Event("task-done", minute, clock(), inject_id=inject_id, task_id=task.id))
        done.add(task.id)
    return events


def _playbook(playbooks: Sequence[Playbook], playbook_id: str) -> Playbook:
    found = next((p for p in playbooks if p.id == playbook_id), None)
    if found is None:
        fail(
            f"no playbook {playbook_id!r} (known: {', '.join(p.id for p in playbooks)})",
            EXIT_USAGE,
        )
    return found


def _participants(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [p.strip() for p in text.split(",") if p.strip()]


@app.command("run")
def run_command(
    playbook_id: Annotated[str, typer.Argument(help="The playbook to exercise.")],
    scenario_file: ScenarioOption = None,
    facilitator: Annotated[
        str | None,
        typer.Option("--facilitator", help="Who runs the exercise (default: the actor)."),
    ] = None,
    participants: Annotated[
        str | None, typer.Option("--participants", help='Who took part: "a,b,c".')
    ] = None,
    answers_file: Annotated[
        Path | None,
        typer.Option(
            "--answers", help="Replay a run recorded in a YAML answers file (no prompts)."
        ),
    ] = None,
    save_answers: Annotated[
        Path | None,
        typer.Option(
            "--save-answers", help="Also write the run as an answers file (to replay it)."
        ),
    ] = None,
    store: StoreOption = None,
    cases_config: CasesConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Run a tabletop exercise of a playbook and record it: interactive in a terminal, or
    replayed from an answers file."""
    with user_errors():
        playbooks = list(load_case_settings(cases_config).playbooks)
    playbook = _playbook(playbooks, playbook_id)
    with user_errors():
        scenario = (
            load_scenario(scenario_file, playbooks)
            if scenario_file
            else scenario_for(playbook, playbooks)
        )
    if scenario.playbook != playbook.id:
        fail(
            f"scenario {scenario.id} exercises playbook {scenario.playbook}, not {playbook.id}",
            EXIT_USAGE,
        )
    people = _participants(participants)
    if answers_file is not None:
        with user_errors():
            answers = load_answers(answers_file, scenario, playbook)
        log = replay(
            answers,
            scenario,
            playbook,
            facilitator=facilitator or answers.facilitator or actor_name(actor),
            participants=people if people is not None else answers.participants,
            clock=utcnow,
        )
    else:
        if not sys.stdin.isatty():
            fail(
                "the input is not a terminal, so the exercise cannot ask its questions: run "
                "it in a terminal, or give the answers with --answers FILE (YAML; see the "
                "README, 'Tabletop exercises')",
                EXIT_USAGE,
            )
        with open_store(store):  # a store that cannot be written fails now, not after
            pass
        log = _interactive(scenario, playbook, facilitator or actor_name(actor), people)
    if save_answers is not None:
        _save(save_answers, log)
    score = score_exercise(playbook, scenario, log.answers(), log.tasks_done())
    try:
        with open_store(store) as opened, user_errors():
            run_id = record_run(opened, log, score, recorded_by=actor_name(actor))
    except typer.Exit:
        if log.mode == "interactive" and save_answers is None:
            kept = Path(f"exercise-{playbook.id}-{log.started_at:%Y%m%dT%H%M%S}.yaml")
            _save(kept, log)
            console.print(
                f"The run was kept in {kept}: record it later with `carewarden exercise run "
                f"{playbook.id} --answers {kept}`.",
                highlight=False,
            )
        raise
    render_score(run_id, score)


def _save(path: Path, log: RunLog) -> None:
    try:
        path.write_text(answers_yaml(answers_from_log(log)), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc}", EXIT_USAGE)
    console.print(f"answers written to {path}", highlight=False)


def _interactive(
    scenario: Scenario, playbook: Playbook, facilitator: str, people: list[str] | None
) -> RunLog:
    io = RichPrompter()
    try:
        if people is None:
            people = _participants(io.ask("Participants (comma-separated)", "")) or []
        started = utcnow()
        events = conduct(scenario, playbook, io, utcnow)
    except EOFError:
        fail("the input ended before the exercise did; nothing was recorded", EXIT_USAGE)
    return RunLog(
        scenario=scenario,
        playbook=playbook,
        facilitator=facilitator,
        participants=tuple(people),
        mode="interactive",
        started_at=started,
        finished_at=utcnow(),
        events=tuple(events),
    )


def render_score(run_id: str, score: ExerciseScore) -> None:
    counts = score.counts()
    console.print(
        f"Recorded [bold]{run_id}[/]: overall score [bold]{score.overall:.0f}[/] / 100 "
        f"(tasks {score.task_score:.0f}, decisions "
        f"{'-' if score.decision_score is None else f'{score.decision_score:.0f}'}); "
        f"{counts['on-time']} task(s) on time, {counts['late']} late, {counts['missed']} "
        f"missed; {counts['decisions-expected']} of {counts['decisions']} decision(s) as "
        "expected.",
        highlight=False,
    )
    if score.gaps:
        console.print(
            f"{len(score.gaps)} finding(s): `carewarden exercise show {run_id}` for the "
            "after-action report.",
            highlight=False,
        )


@app.command("list")
def list_command(
    store: StoreOption = None,
    format: Annotated[str, typer.Option("--format", help="table or jsonl.")] = "table",
    playbook: Annotated[
        str | None, typer.Option("--playbook", help="Only runs of this playbook.")
    ] = None,
) -> None:
    """The recorded exercise runs, newest first, with their scores and findings."""
    if format not in ("table", "jsonl"):
        fail("--format must be table or jsonl", EXIT_USAGE)
    with open_store(store, read_only=True) as opened, user_errors():
        runs = list_runs(opened, playbook_id=playbook)
    if format == "jsonl":
        for run in runs:
            sys.stdout.write(orjson.dumps(run.as_json()).decode() + "\n")
        return
    table = Table(show_edge=False)
    for column in ("run", "started (UTC)", "playbook", "scenario", "facilitator", "people"):
        table.add_column(column)
    for column in ("score", "task gaps"):
        table.add_column(column, justify="right")
    for run in runs:
        table.add_row(
            run.run_id,
            f"{run.started_at:%Y-%m-%d %H:%M}",
            run.playbook_id,
            run.scenario_id + (" (replay)" if run.mode == "replay" else ""),
            run.facilitator,
            str(len(run.participants)),
            f"{run.score:.0f}",
            str(run.gaps),
        )
    console.print(table)
    console.print(f"{len(runs):,} run(s)")


@app.command("show")
def show_command(
    run_id: Annotated[str, typer.Argument(help="The run id, e.g. EX-0001.")],
    store: StoreOption = None,
    format: Annotated[
        str, typer.Option("--format", help="table, json or markdown (the after-action report).")
    ] = "table",
    cases_config: CasesConfigOption = None,
) -> None:
    """One run's after-action report: scores by phase, findings (late and missed tasks with
    their owner role), decisions, timeline, and the controls it evidences."""
    if format not in ("table", "json", "markdown"):
        fail("--format must be table, json or markdown", EXIT_USAGE)
    with user_errors():
        playbooks = list(load_case_settings(cases_config).playbooks)
    with open_store(store, read_only=True) as opened, user_errors():
        report = run_report(opened, run_id, playbooks)
    if format == "json":
        typer.echo(orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2).decode())
    elif format == "markdown":
        sys.stdout.write(report.markdown())
    else:
        render_report(report)
    if not report.ok:
        fail(f"run {run_id}: " + "; ".join(report.run.problems), EXIT_FINDINGS)


def render_report(report: RunReport) -> None:
    run, row, score = report.run, report.run.row, report.run.score
    console.print(f"[bold]{row['run_id']}[/] {run.scenario.title}", highlight=False)
    console.print(
        f"playbook {row['playbook_id']} (sha256 {row['playbook_hash'][:12]}…"
        + (", revised since" if report.playbook_revised else "")
        + f") · scenario {row['scenario_id']} · {row['mode']} · facilitator "
        f"{row['facilitator']} · participants {', '.join(row['participants']) or '-'}",
        highlight=False,
    )
    console.print(
        f"{row['started_at']:%Y-%m-%d %H:%M} to {row['finished_at']:%Y-%m-%d %H:%M} UTC · "
        f"discovery at {clock_text(run.scenario.discovery_at_minutes)}",
        highlight=False,
    )
    decisions = "-" if score.decision_score is None else f"{score.decision_score:.0f}"
    console.print(
        f"Overall score [bold]{score.overall:.0f}[/] / 100 (tasks {score.task_score:.0f}, "
        f"decisions {decisions}) · " + " · ".join(f"{p} {s:.0f}" for p, s in score.phases.items()),
        highlight=False,
    )
    tasks = Table(title="Playbook tasks", show_edge=False)
    for column in ("phase", "task", "owner role", "due", "completed", "result"):
        tasks.add_column(column)
    for t in score.tasks:
        finding = task_finding(t)
        colour = {"on-time": "green", "late": "yellow", "missed": "red"}[t.status]
        tasks.add_row(
            t.phase,
            f"{t.task_id}: {t.title}",
            t.owner_role,
            clock_text(t.due_minute),
            clock_text(t.done_minute) if t.done_minute is not None else "-",
            f"[{colour}]{finding}[/]",
        )
    console.print(tasks)
    if score.decisions:
        table = Table(title="Decisions", show_edge=False)
        for column in ("inject", "question", "chosen", "expected", "decided", "deadline"):
            table.add_column(column)
        table.add_column("result")
        for d in score.decisions:
            table.add_row(
                d.inject_id,
                d.question,
                ", ".join(d.chosen) or "-",
                ", ".join(d.expected),
                clock_text(d.minute) if d.minute is not None else "-",
                clock_text(d.deadline_minute) if d.deadline_minute is not None else "-",
                decision_finding(d),
            )
        console.print(table)
    timeline = Table(title="Timeline", show_edge=False)
    for column in ("scenario time", "wall clock (UTC)", "event"):
        timeline.add_column(column)
    for e in report.timeline():
        timeline.add_row(e["clock"], f"{e['wall_time']:%Y-%m-%d %H:%M:%S}", e["text"])
    console.print(timeline)
    if score.gaps:
        console.print(f"[bold]Findings[/] ({len(score.gaps)}):")
        for t in score.gaps:
            console.print(
                f"  - {t.task_id} ({t.owner_role}, {t.phase}): {task_finding(t)}",
                highlight=False,
            )
    else:
        console.print("[green]Every playbook task was completed on time.[/]")
    if report.ok:
        console.print(
            f"[green]✓[/] record intact, scores reproduced (sha256 {row['record_hash'][:16]}…)",
            highlight=False,
        )


@app.command("scenarios")
def scenarios_command(cases_config: CasesConfigOption = None) -> None:
    """The shipped scenarios, one per shipped playbook."""
    with user_errors():
        playbooks = list(load_case_settings(cases_config).playbooks)
        scenarios = [load_scenario(path, playbooks) for path in shipped_scenario_files()]
    table = Table(show_edge=False)
    for column in ("scenario", "playbook", "title", "injects", "decisions", "discovery", "ends"):
        table.add_column(column)
    for s in scenarios:
        table.add_row(
            s.id,
            s.playbook,
            s.title,
            str(len(s.injects)),
            str(len(s.decisions())),
            clock_text(s.discovery_at_minutes),
            clock_text(s.injects[-1].at_minutes),
        )
    console.print(table)


@app.command("validate")
def validate_command(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML file(s) to check.")],
    cases_config: CasesConfigOption = None,
) -> None:
    """Check scenario files against the schema and their playbook (exit 2 if invalid)."""
    with user_errors():
        playbooks = list(load_case_settings(cases_config).playbooks)
    for path in files:
        with user_errors():
            scenario = load_scenario(path, playbooks)
        console.print(
            f"{path}: valid scenario {scenario.id} of playbook {scenario.playbook} "
            f"({len(scenario.injects)} injects, {len(scenario.decisions())} decisions)",
            highlight=False,
        )
