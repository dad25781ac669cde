"""``carewarden cases …``: incident cases, their tasks and their tamper-evident history.

Exit codes: 0 ok; 1 ``verify`` found the history or the cases altered; 2 usage errors (an
unknown case or task id, a bad option, an invalid settings file).
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sys
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
import typer
from rich.table import Table

from carewarden.cli.common import (
    EXIT_FINDINGS,
    EXIT_USAGE,
    StoreOption,
    console,
    fail,
    open_store,
    user_errors,
)
from carewarden.prepare import cases as ops
from carewarden.prepare.case_audit import verify_cases
from carewarden.prepare.case_settings import load_case_settings
from carewarden.prepare.correlate import CorrelationSummary, correlate
from carewarden.services.cases import CaseDetail, CaseSummary, case_detail, list_cases
from carewarden.store import Store

app = typer.Typer(
    help="Incident cases: alerts grouped by entity and time, playbook tasks with deadlines, "
    "notes, owner, status, and a hash-chained history of every change.",
    no_args_is_help=True,
)

CasesConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--cases-config",
        help="Case settings YAML (correlation window, entity precedence, extra playbooks); "
        "default: the shipped cases.yaml.",
    ),
]
WindowOption = Annotated[
    str | None,
    typer.Option("--window", help="Correlation window, e.g. 7d, 36h, 90m (overrides the file)."),
]
ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor",
        help="Who makes the change, for the history (default: $CAREWARDEN_ACTOR, else the "
        "login name).",
        show_default=False,
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Flag tasks overdue as of this time (ISO; default now). Times without an "
        "offset are in the site's zone.",
    ),
]
CaseArg = Annotated[str, typer.Argument(help="The case id, e.g. C-0001.")]


def actor_name(option: str | None) -> str:
    return option or os.environ.get("CAREWARDEN_ACTOR") or getpass.getuser()


def parse_time(text: str | None, store: Store, what: str) -> dt.datetime | None:
    """An ISO date or time as naive UTC; without an offset, in the site's time zone."""
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(f"{what}: not an ISO date or time: {text!r}", EXIT_USAGE)
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(store.setting("site_tz") or "UTC"))
    return when.astimezone(dt.UTC).replace(tzinfo=None)


def _utc(value: dt.datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


def render_correlation(summary: CorrelationSummary) -> None:
    line = (
        f"Cases: [bold]{summary.opened:,}[/] opened, {summary.updated:,} updated "
        f"({summary.linked:,} alert(s) linked)"
    )
    if summary.without_entity:
        line += f"; {summary.without_entity:,} alert(s) name no entity and stay out of cases"
    console.print(line + ".", highlight=False)


@app.command("list")
def list_command(
    store: StoreOption = None,
    status: Annotated[
        str | None, typer.Option("--status", help="open, investigating, contained or closed.")
    ] = None,
    entity: Annotated[
        str | None, typer.Option("--entity", help="user, host, device or patient.")
    ] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only cases with overdue tasks.")] = (
        False
    ),
    format: Annotated[str, typer.Option("--format", help="table or jsonl.")] = "table",
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many (0: all).")] = 0,
    as_of: AsOfOption = None,
) -> None:
    """Cases, highest risk first (repeat offenders first), open before closed."""
    if format not in ("table", "jsonl"):
        fail("--format must be table or jsonl", EXIT_USAGE)
    if status is not None and status not in ops.STATUSES:
        fail(f"--status must be one of {', '.join(ops.STATUSES)}", EXIT_USAGE)
    with open_store(store, read_only=True) as opened, user_errors():
        now = parse_time(as_of, opened, "--as-of")
        found = list_cases(
            opened,
            status=status,
            entity_kind=entity,
            overdue_only=overdue,
            now=now,
            limit=limit or None,
        )
    if format == "jsonl":
        for case in found:
            sys.stdout.write(orjson.dumps(case.as_json()).decode() + "\n")
        return
    table = Table(show_edge=False)
    for column in ("case", "status", "severity", "risk", "entity", "alerts", "tasks", "owner"):
        table.add_column(column, justify="right" if column in ("risk", "alerts") else "left")
    table.add_column("opened (UTC)")
    table.add_column("title")
    for c in found:
        table.add_row(
            c.case_id,
            c.status if c.status != "closed" else f"closed: {c.disposition}",
            c.severity,
            str(c.risk),
            f"{c.entity_kind} {c.entity_id}",
            str(c.alerts),
            _task_counts(c),
            c.owner or "",
            _utc(c.opened_at),
            c.title,
        )
    console.print(table)
    console.print(f"{len(found):,} case(s)")


def _task_counts(case: CaseSummary) -> str:
    if not case.open_tasks:
        return "-"
    overdue = f", [bold red]{case.overdue_tasks} overdue[/]" if case.overdue_tasks else ""
    return f"{case.open_tasks} open{overdue}"


@app.command("show")
def show_command(
    case_id: CaseArg,
    store: StoreOption = None,
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    as_of: AsOfOption = None,
) -> None:
    """One case: its alerts in time order, tasks (overdue flagged), history and breach."""
    if format not in ("text", "json"):
        fail("--format must be text or json", EXIT_USAGE)
    with open_store(store, read_only=True) as opened, user_errors():
        detail = case_detail(opened, case_id, parse_time(as_of, opened, "--as-of"))
    if format == "json":
        typer.echo(orjson.dumps(detail.as_json(), option=orjson.OPT_INDENT_2).decode())
        return
    render_case(detail)


def render_case(detail: CaseDetail) -> None:
    c = detail.case
    state = c.status if c.status != "closed" else f"closed ({c.disposition})"
    console.print(f"[bold]{c.case_id}[/] {c.title}", highlight=False)
    console.print(
        f"{state} · severity {c.severity} · risk {c.risk} · {c.entity_kind} {c.entity_id} · "
        f"owner {c.owner or '(none)'} · playbook {c.playbook_id or '(none)'}",
        highlight=False,
    )
    console.print(
        f"discovered {_utc(c.discovery_at)} UTC · opened {_utc(c.opened_at)} · updated "
        f"{_utc(c.updated_at)}" + (f" · closed {_utc(c.closed_at)}" if c.closed_at else ""),
        highlight=False,
    )
    if c.other_cases:
        console.print(f"[yellow]{c.other_cases} other case(s) about this {c.entity_kind}[/]")
    alerts = Table(title="Alerts (timeline)", show_edge=False)
    for column in ("first seen (UTC)", "rule", "severity", "score", "patient", "events"):
        alerts.add_column(column)
    alerts.add_column("explanation")
    for a in detail.alerts:
        alerts.add_row(
            _utc(a["first_seen"]),
            a["rule_id"],
            a["severity"],
            str(a["score"]),
            a["patient_id"] or "",
            str(a["events"]),
            a["explanation"],
        )
    console.print(alerts if detail.alerts else "No alerts linked (opened by hand).")
    if detail.tasks:
        tasks = Table(title="Tasks", show_edge=False)
        for column in ("phase", "task", "owner role", "due (UTC)", "state", "evidence"):
            tasks.add_column(column)
        for t in detail.tasks:
            if t.done_at:
                state_text = f"done {_utc(t.done_at)} by {t.done_by}"
            else:
                state_text = "[bold red]OVERDUE[/]" if t.overdue else "open"
            evidence = t.evidence_note or "; ".join(t.evidence_required)
            tasks.add_row(
                t.phase,
                f"{t.task_id}: {t.title}",
                t.owner_role,
                _utc(t.due_at),
                state_text,
                evidence,
            )
        console.print(tasks)
    history = Table(title="History", show_edge=False)
    for column in ("#", "at (UTC)", "actor", "change", "detail"):
        history.add_column(column)
    for r in detail.history:
        history.add_row(str(r.seq), _utc(r.at), r.actor, r.kind, _detail_text(r.detail))
    console.print(history)
    if detail.assessment is not None:
        found = detail.assessment
        colour = "red" if found.breach else "green"
        console.print(
            f"Breach assessment: [bold {colour}]{found.determination}[/] "
            f"({found.total_affected:,} affected); `carewarden breach assess {c.case_id}` for "
            "the reasoning.",
            highlight=False,
        )


def _detail_text(detail: dict[str, Any]) -> str:
    shown: dict[str, Any] = {
        k: f"{len(v)} items" if isinstance(v, list) and len(v) > 3 else v
        for k, v in detail.items()
        if v not in (None, [], "") and k != "incident"
    }
    if "incident" in detail:
        shown["incident"] = "(recorded)"
    return ", ".join(f"{k}={v}" for k, v in shown.items())


@app.command("open")
def open_command(
    entity: Annotated[
        str, typer.Option("--entity", help="KIND:ID, e.g. device:LAPTOP-0042 or user:pr7.")
    ],
    title: Annotated[str, typer.Option("--title", help="What happened, in a line.")],
    severity: Annotated[str, typer.Option("--severity", help="info … critical.")] = "medium",
    playbook: Annotated[
        str | None, typer.Option("--playbook", help="Playbook id (see `playbooks list`).")
    ] = None,
    discovery: Annotated[
        str | None,
        typer.Option("--discovery", help="When it was discovered (ISO; default now)."),
    ] = None,
    store: StoreOption = None,
    cases_config: CasesConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Open a case by hand (a lost laptop, a business associate's letter) with a playbook."""
    kind, _, entity_id = entity.partition(":")
    with user_errors():
        settings = load_case_settings(cases_config)
    chosen = None
    if playbook is not None:
        chosen = next((p for p in settings.playbooks if p.id == playbook), None)
        if chosen is None:
            known = ", ".join(p.id for p in settings.playbooks)
            fail(f"no playbook {playbook!r} (known: {known})", EXIT_USAGE)
    with open_store(store) as opened, user_errors():
        case_id = ops.open_case(
            opened,
            entity_kind=kind,
            entity_id=entity_id,
            title=title,
            severity=severity,
            playbook=chosen,
            actor=actor_name(actor),
            discovery_at=parse_time(discovery, opened, "--discovery"),
        )
    console.print(f"opened {case_id}", highlight=False)


@app.command("assign")
def assign_command(
    case_id: CaseArg,
    owner: Annotated[str, typer.Argument(help="Who owns the case now.")],
    store: StoreOption = None,
    actor: ActorOption = None,
) -> None:
    """Give the case an owner."""
    with open_store(store) as opened, user_errors():
        ops.assign(opened, case_id, owner, actor=actor_name(actor))
    console.print(f"{case_id} assigned to {owner}", highlight=False)


@app.command("note")
def note_command(
    case_id: CaseArg,
    text: Annotated[str, typer.Argument(help="The note.")],
    store: StoreOption = None,
    actor: ActorOption = None,
) -> None:
    """Add a note to the case's history."""
    with open_store(store) as opened, user_errors():
        ops.add_note(opened, case_id, text, actor=actor_name(actor))
    console.print(f"note added to {case_id}", highlight=False)


@app.command("status")
def status_command(
    case_id: CaseArg,
    status: Annotated[str, typer.Argument(help="open, investigating or contained.")],
    store: StoreOption = None,
    actor: ActorOption = None,
) -> None:
    """Move the case to another status (reopening a closed case too); close with `close`."""
    if status == "closed":
        fail("use `carewarden cases close ID --disposition …` to close a case", EXIT_USAGE)
    with open_store(store) as opened, user_errors():
        ops.set_status(opened, case_id, status, actor=actor_name(actor))
    console.print(f"{case_id} is {status}", highlight=False)


@app.command("close")
def close_command(
    case_id: CaseArg,
    disposition: Annotated[
        str,
        typer.Option("--disposition", help="true-positive, false-positive, benign or duplicate."),
    ],
    note: Annotated[str | None, typer.Option("--note", help="Why, in the history.")] = None,
    store: StoreOption = None,
    actor: ActorOption = None,
) -> None:
    """Close the case with its disposition (its alerts are closed too)."""
    with open_store(store) as opened, user_errors(), opened.transaction():
        if note:
            ops.add_note(opened, case_id, note, actor=actor_name(actor))
        ops.set_status(opened, case_id, "closed", actor=actor_name(actor), disposition=disposition)
    console.print(f"{case_id} closed: {disposition}", highlight=False)


@app.command("task-done")
def task_done_command(
    case_id: CaseArg,
    task_id: Annotated[str, typer.Argument(help="The task id (see `cases show`).")],
    evidence: Annotated[
        str | None,
        typer.Option("--evidence", help="Where the evidence the task needs is kept."),
    ] = None,
    store: StoreOption = None,
    actor: ActorOption = None,
) -> None:
    """Mark a playbook task done, with a note of its evidence."""
    with open_store(store) as opened, user_errors():
        ops.complete_task(opened, case_id, task_id, evidence, actor=actor_name(actor))
    console.print(f"{case_id}: {task_id} done", highlight=False)


@app.command("discovery")
def discovery_command(
    case_id: CaseArg,
    when: Annotated[str, typer.Argument(help="ISO date or time; without offset, site time.")],
    store: StoreOption = None,
    actor: ActorOption = None,
) -> None:
    """Set when the incident was discovered; the task deadlines move with it."""
    with open_store(store) as opened, user_errors():
        moment = parse_time(when, opened, "WHEN")
        assert moment is not None
        ops.set_discovery(opened, case_id, moment, actor=actor_name(actor))
    console.print(f"{case_id} discovered {_utc(moment)} UTC", highlight=False)


@app.command("correlate")
def correlate_command(
    store: StoreOption = None,
    cases_config: CasesConfigOption = None,
    window: WindowOption = None,
) -> None:
    """Group the open alerts not yet in a case into cases (`detect` does it too)."""
    with user_errors():
        settings = load_case_settings(cases_config, window=window)
    with open_store(store) as opened, user_errors():
        summary = correlate(opened, settings)
    render_correlation(summary)


@app.command("verify")
def verify_command(
    store: StoreOption = None,
    expect: Annotated[
        str | None,
        typer.Option("--expect", help="The head (SEQ:HASH) a previous verify printed."),
    ] = None,
) -> None:
    """Check the history's hash chain and every case against its history (exit 1 if not)."""
    with open_store(store, read_only=True) as opened, user_errors():
        result = verify_cases(opened, expect)
    for problem in result.problems:
        console.print(f"[red]✗[/] {problem}", highlight=False)
    if not result.ok:
        fail(f"{len(result.problems)} problem(s) in the case history", EXIT_FINDINGS)
    console.print(
        f"[green]✓[/] {result.chain.records:,} history record(s) and {result.cases:,} case(s) "
        f"verified; head {result.chain.head}",
        highlight=False,
    )
