"""``carewarden procurement``: medical-device procurement checks (MDS2 forms)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from carewarden.cli.common import EXIT_FINDINGS, EXIT_USAGE, console, fail, user_errors
from carewarden.iomt.mds2 import parse_mds2
from carewarden.iomt.mds2_check import Evaluation, evaluate, load_baseline

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
) -> None:
    """Check an MDS2 form (2019 layout) against a baseline: pass, fail or needs review per
    requirement, with the question, answer and note behind each, and a verdict (accept,
    conditional, reject). Exit code 1 when the verdict is reject."""
    if format not in ("table", "json", "markdown"):
        fail("--format must be table, json or markdown", EXIT_USAGE)
    with user_errors():
        rules = load_baseline(baseline)
    with user_errors():
        evaluation = evaluate(parse_mds2(form), rules)
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
