"""``carewarden playbooks …``: the incident-response playbooks, and checking a new one.

Exit codes: 0 ok; 2 an invalid playbook or settings file, or an unknown playbook id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from carewarden.cli.cases import CasesConfigOption
from carewarden.cli.common import EXIT_USAGE, console, fail, user_errors
from carewarden.prepare.case_settings import load_case_settings
from carewarden.prepare.playbooks import Playbook, load_playbook

app = typer.Typer(
    help="Incident-response playbooks (YAML): phases, tasks with owner roles, deadlines "
    "after discovery and the evidence each needs.",
    no_args_is_help=True,
)


def _playbooks(config: Path | None) -> list[Playbook]:
    with user_errors():
        return list(load_case_settings(config).playbooks)


def _matches(playbook: Playbook) -> str:
    m = playbook.matches
    parts = [*m.rules, *(f"mapping {p}" for p in m.mappings)]
    text = ", ".join(parts) if parts else "(opened by hand)"
    return text + (f" [{'/'.join(m.entities)}]" if m.entities else "")


@app.command("list")
def list_command(config: CasesConfigOption = None) -> None:
    """The playbooks: shipped ones and those the case settings add."""
    table = Table(show_edge=False)
    for column in ("id", "title", "matches", "priority", "tasks", "last deadline"):
        table.add_column(column)
    for p in _playbooks(config):
        hours = max(t.due_hours_after_discovery for _, t in p.tasks())
        table.add_row(
            p.id, p.title, _matches(p), str(p.priority), str(len(p.tasks())), f"{hours:g} h"
        )
    console.print(table)


@app.command("show")
def show_command(
    playbook_id: Annotated[str, typer.Argument(help="The playbook id.")],
    config: CasesConfigOption = None,
) -> None:
    """One playbook's phases and tasks: owner role, deadline after discovery, evidence."""
    playbooks = _playbooks(config)
    found = next((p for p in playbooks if p.id == playbook_id), None)
    if found is None:
        fail(
            f"no playbook {playbook_id!r} (known: {', '.join(p.id for p in playbooks)})",
            EXIT_USAGE,
        )
    render_playbook(found)


def render_playbook(playbook: Playbook) -> None:
    console.print(f"[bold]{playbook.id}[/] {playbook.title}", highlight=False)
    if playbook.description:
        console.print(" ".join(playbook.description.split()), highlight=False)
    console.print(f"Matches: {_matches(playbook)}", highlight=False)
    table = Table(show_edge=False)
    for column in ("phase", "task", "owner role", "due after discovery", "evidence"):
        table.add_column(column)
    for phase, task in playbook.tasks():
        table.add_row(
            phase,
            f"{task.id}: {task.title}",
            task.owner_role,
            f"{task.due_hours_after_discovery:g} h",
            "; ".join(task.evidence) or "-",
        )
    console.print(table)


@app.command("validate")
def validate_command(
    files: Annotated[list[Path], typer.Argument(help="Playbook YAML file(s) to check.")],
) -> None:
    """Check playbook files against the schema; every problem names the file and field."""
    for path in files:
        with user_errors():
            playbook = load_playbook(path)
        console.print(
            f"{path}: valid playbook {playbook.id} ({len(playbook.phases)} phases, "
            f"{len(playbook.tasks())} tasks)",
            highlight=False,
        )
