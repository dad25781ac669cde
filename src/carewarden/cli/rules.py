"""``carewarden rules …``: import Sigma rules (SigmaHQ layout) and list them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from carewarden.cli.common import (
    EXIT_USAGE,
    QuietOption,
    StoreOption,
    console,
    fail,
    open_store,
    user_errors,
)
from carewarden.services.rules import import_builtin_rules, import_rules, list_rules

app = typer.Typer(
    help="Sigma rules: import a rule folder, list what compiled.", no_args_is_help=True
)


@app.command("import")
def import_command(
    folder: Annotated[
        Path | None,
        typer.Argument(help="A SigmaHQ checkout (its rules* folders) or a rule folder."),
    ] = None,
    builtin: Annotated[
        bool,
        typer.Option(
            "--builtin",
            help="Import Carewarden's built-in pack of SigmaHQ rules (Detection Rule License "
            "1.1) instead of a folder.",
        ),
    ] = False,
    source: Annotated[
        str | None,
        typer.Option(help="Name of the rule source in alert references (default: the folder)."),
    ] = None,
    store: StoreOption = None,
    quiet: QuietOption = False,
) -> None:
    """Compile every rule and store it; rules that cannot compile are stored with the reason.

    Importing the same rules again replaces them: alerts are never duplicated."""
    if builtin == (folder is not None):
        fail("give a rule FOLDER or --builtin (one of them)", EXIT_USAGE)
    if folder is not None and not folder.exists():
        fail(f"no such folder: {folder}", EXIT_USAGE)
    with open_store(store) as opened, user_errors():
        if folder is None:
            summary = import_builtin_rules(opened)
        else:
            summary = import_rules(opened, folder, source)
    if quiet:
        return
    rate = summary.compiled / summary.total if summary.total else 0.0
    console.print(
        f"[bold]{summary.total:,}[/] rules: [green]{summary.compiled:,} compiled[/] "
        f"({rate:.1%}), [red]{summary.failed:,} failed[/]."
    )
    if summary.reasons:
        table = Table(title="why rules did not compile", show_edge=False)
        table.add_column("rules", justify="right")
        table.add_column("reason")
        for reason, count in summary.reasons.most_common():
            table.add_row(f"{count:,}", reason)
        console.print(table)
        console.print("`carewarden rules list --failed` names each rule.")


@app.command("list")
def list_command(
    failed: Annotated[
        bool, typer.Option("--failed", help="Only rules that did not compile.")
    ] = False,
    format: Annotated[str, typer.Option("--format", help="table or jsonl.")] = "table",
    store: StoreOption = None,
) -> None:
    """Imported rules: id, title, level, log source, and the reason for those that failed."""
    if format not in ("table", "jsonl"):
        fail("--format must be table or jsonl", EXIT_USAGE)
    with open_store(store, read_only=True) as opened:
        rows = list_rules(opened, failed_only=failed)
    if format == "jsonl":
        for row in rows:
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
        return
    table = Table(show_edge=False)
    for name in ("rule id", "title", "level", "log source", "status"):
        table.add_column(name)
    for row in rows:
        table.add_row(
            str(row["rule_id"]),
            str(row["title"]),
            str(row["level"] or ""),
            str(row["logsource"] or ""),
            "compiled" if row["compiled"] else f"[red]failed[/]: {row['error']}",
        )
    console.print(table)
    console.print(f"{len(rows):,} rule(s)")
