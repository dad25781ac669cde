"""``carewarden breach …``: HIPAA breach assessment and notification drafts.

``assess`` and ``letters`` read an incident file (JSON or YAML, ``--input``) or the
incident recorded for a case (``breach record CASE --input FILE``). Exit codes: 0 assessed
(breach or not), 2 an invalid incident file, an unknown case or a case without an incident.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from carewarden.cli.cases import ActorOption, actor_name
from carewarden.cli.common import EXIT_USAGE, StoreOption, console, fail, open_store, user_errors
from carewarden.prepare.breach import Assessment, assess, load_incident
from carewarden.prepare.cases import case_incident, record_breach
from carewarden.prepare.letters import render_drafts

app = typer.Typer(
    help="HIPAA breach assessment (45 CFR 164.400-414): determination, notices and their "
    "dates, letter drafts. Decision support, not legal advice.",
    no_args_is_help=True,
)

InputOption = Annotated[
    Path | None,
    typer.Option(
        "--input",
        help="Incident file, JSON (.json) or YAML; fields in the README (Breach assessment).",
    ),
]
CaseArg = Annotated[
    str | None,
    typer.Argument(
        help="A case whose incident was recorded (instead of --input).", show_default=False
    ),
]


def _assessed(case_id: str | None, path: Path | None, store: Path | None) -> Assessment:
    if (case_id is None) == (path is None):
        fail("give either a CASE or --input FILE", EXIT_USAGE)
    if path is not None:
        with user_errors():
            return assess(load_incident(path))
    assert case_id is not None
    with open_store(store, read_only=True) as opened, user_errors():
        return assess(case_incident(opened, case_id))


@app.command("record")
def record_command(
    case_id: Annotated[str, typer.Argument(help="The case, e.g. C-0001.")],
    input: Annotated[Path, typer.Option("--input", help="Incident file, JSON (.json) or YAML.")],
    store: StoreOption = None,
    actor: ActorOption = None,
) -> None:
    """Attach an incident description to a case (replacing any earlier one), in its history."""
    with user_errors():
        incident = load_incident(input)
    with open_store(store) as opened, user_errors():
        record_breach(opened, case_id, incident, actor=actor_name(actor))
    console.print(
        f"recorded the incident for {case_id}; `carewarden breach assess {case_id}` assesses it",
        highlight=False,
    )


@app.command("assess")
def assess_command(
    case_id: CaseArg = None,
    input: InputOption = None,
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    store: StoreOption = None,
) -> None:
    """Is the incident a breach of unsecured PHI, and which notices are due by when."""
    if format not in ("text", "json"):
        fail("--format must be text or json", EXIT_USAGE)
    assessment = _assessed(case_id, input, store)
    if format == "json":
        typer.echo(orjson.dumps(assessment.as_json(), option=orjson.OPT_INDENT_2).decode())
        return
    render_assessment(assessment)


def render_assessment(assessment: Assessment) -> None:
    colour = "red" if assessment.breach else "green"
    console.print(
        f"[bold {colour}]{_sentence(assessment.determination)}[/] "
        f"({assessment.total_affected:,} affected, clock from {assessment.clock_start})",
        highlight=False,
    )
    console.print("[bold]Reasoning[/]")
    for number, line in enumerate(assessment.reasoning, 1):
        console.print(f"{number:>3}. {line}", highlight=False)
    if assessment.obligations:
        table = Table(title="Obligations", show_edge=False)
        for column in ("due", "kind", "recipient", "citation"):
            table.add_column(column)
        for o in assessment.obligations:
            table.add_row(o.due.isoformat(), o.kind, o.recipient, o.citation)
        console.print(table)
    console.print(
        "[dim]Decision support, not legal advice: confirm the determination and the state "
        "rules with counsel.[/]"
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


@app.command("letters")
def letters_command(
    case_id: CaseArg = None,
    input: InputOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder to write the drafts to (default: print them)."),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Draft the individual notice letter (164.404(c)) and the HHS breach portal fields."""
    assessment = _assessed(case_id, input, store)
    drafts = render_drafts(assessment)
    if not drafts.files:
        console.print(
            f"{_sentence(assessment.determination)}: no notice to draft.", highlight=False
        )
        return
    if out is None:
        for name, text in drafts.files.items():
            console.rule(name)
            typer.echo(text)
        return
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in drafts.files.items():
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    if drafts.portal is not None:
        portal = out / "hhs_portal.json"
        portal.write_bytes(orjson.dumps(drafts.portal, option=orjson.OPT_INDENT_2) + b"\n")
        written.append(portal)
    for path in written:
        console.print(f"wrote {path}", highlight=False)
