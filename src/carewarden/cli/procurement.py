"""``carewarden procurement``: medical-device procurement checks (MDS2 forms)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from carewarden.cli.common import (
    EXIT_FINDINGS,
    EXIT_USAGE,
    StoreOption,
    console,
    err_console,
    fail,
    open_store,
    user_errors,
)
from carewarden.iomt.mds2_check import Evaluation
from carewarden.services.procurement import check_form, evaluations, save_evaluation

app = typer.Typer(
    help="Procurement checks: a manufacturer's MDS2 form against the hospital's baseline.",
    no_args_is_help=True,
)

_STYLE = {"pass": "green", "fail": "bold red", "review": "yellow"}
_VERDICT_STYLE = {"accept": "bold green", "conditional": "bold yellow", "reject": "bold red"}


@app.command("check")
def check(
    form: Annotated[Path, typer.Argument(help="The MDS2 form: an xlsx workbook or a CSV export.")],
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="Baseline YAML (default: the shipped baseline)."),
    ] = None,
    format: Annotated[str, typer.Option("--format", help="table, json or markdown.")] = "table",
    store: StoreOption = None,
    save: Annotated[
        bool,
        typer.Option("--save", help="Keep the evaluation in the store (see `procurement list`)."),
    ] = False,
) -> None:
    """Check an MDS2 form (2019 layout) against a baseline: pass, fail or needs review per
    requirement, with the question, answer and note behind each, and a verdict (accept,
    conditional, reject). Exit code 1 when the verdict is reject."""
    if format not in ("table", "json", "markdown"):
        fail("--format must be table, json or markdown", EXIT_USAGE)
    if store is not None and not save:
        fail("--store is only used with --save", EXIT_USAGE)
    with user_errors():
        evaluation = check_form(form, baseline)
    if save:
        with open_store(store) as opened, user_errors():
            evaluation_id = save_evaluation(opened, evaluation)
        err_console.print(f"saved evaluation {evaluation_id}", highlight=False)
    if format == "json":
        sys.stdout.write(orjson.dumps(evaluation.to_dict(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
    elif format == "markdown":
        sys.stdout.write(render_markdown(evaluation))
    else:
        render_table(evaluation)
    if evaluation.verdict == "reject":
        raise typer.Exit(EXIT_FINDINGS)


def render_table(evaluation: Evaluation) -> None:
    form = evaluation.form
    console.print(
        f"[bold]{form.manufacturer or '?'}[/] {form.device_model or ''} "
        f"({form.device_description or 'no description'}), document {form.document_id or '?'}"
        f" of {form.release_date or '?'}",
        highlight=False,
    )
    table = Table(show_edge=False)
    for column in ("requirement", "severity", "outcome", "reasons"):
        table.add_column(column)
    for result in evaluation.results:
        table.add_row(
            result.id,
            result.severity,
            f"[{_STYLE[result.outcome]}]{result.outcome}[/]",
            "\n".join(str(reason) for reason in result.reasons),
        )
    console.print(table)
    for issue in form.issues:
        console.print(f"[yellow]form issue[/] {issue}", highlight=False)
    console.print(
        f"Verdict: [{_VERDICT_STYLE[evaluation.verdict]}]{evaluation.verdict.upper()}[/]",
        highlight=False,
    )
    console.print(evaluation.summary, highlight=False)


def _md(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def render_markdown(evaluation: Evaluation) -> str:
    form = evaluation.form
    lines = [
        f"# MDS2 procurement check: {_md(form.manufacturer) or '?'} "
        f"{_md(form.device_model)}".rstrip(),
        "",
        f"- File: `{form.path}`",
        f"- Device: {_md(form.device_description) or '?'}",
        f"- Document: {_md(form.document_id) or '?'} ({_md(form.release_date) or 'no date'})",
        f"- Baseline: {_md(evaluation.baseline)}",
        f"- **Verdict: {evaluation.verdict.upper()}**",
        "",
        "| Requirement | Severity | Outcome | Reasons |",
        "|---|---|---|---|",
    ]
    for result in evaluation.results:
        reasons = "<br>".join(_md(str(reason)) for reason in result.reasons)
        lines.append(f"| {result.id} | {result.severity} | {result.outcome} | {reasons} |")
    if form.issues:
        lines += ["", "## Form issues", ""]
        lines += [f"- {_md(str(issue))}" for issue in form.issues]
    lines += ["", evaluation.summary, ""]
    return "\n".join(lines)


@app.command("list")
def list_command(
    store: StoreOption = None,
    verdict: Annotated[
        str | None, typer.Option("--verdict", help="Only accept, conditional or reject.")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """The products whose MDS2 forms were checked with --save, newest first."""
    if format not in ("table", "json"):
        fail("--format must be table or json", EXIT_USAGE)
    if verdict not in (None, "accept", "conditional", "reject"):
        fail("--verdict must be accept, conditional or reject", EXIT_USAGE)
    with open_store(store, read_only=True) as opened, user_errors():
        rows = evaluations(opened, verdict=verdict)
    if format == "json":
        sys.stdout.write(
            orjson.dumps(rows, option=orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC).decode() + "\n"
        )
        return
    table = Table(show_edge=False)
    for column in ("evaluated (UTC)", "manufacturer", "model", "document", "verdict"):
        table.add_column(column)
    for column in ("must fail", "should fail", "review"):
        table.add_column(column, justify="right")
    table.add_column("file")
    for row in rows:
        table.add_row(
            f"{row['evaluated_at']:%Y-%m-%d %H:%M}",
            row["manufacturer"] or "",
            row["device_model"] or "",
            row["document_id"] or "",
            f"[{_VERDICT_STYLE[row['verdict']]}]{row['verdict']}[/]",
            str(row["must_fail"]),
            str(row["should_fail"]),
            str(row["needs_review"]),
            Path(row["form_path"]).name,
        )
    console.print(table)
    console.print(f"{len(rows):,} evaluation(s)")
