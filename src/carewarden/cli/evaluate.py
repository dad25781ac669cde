"""``carewarden evaluate``: recall and precision of the store's alerts against the synthetic
hospital's labels (``labels.jsonl``). The figures and the matching rule are defined in
:mod:`carewarden.services.evaluate`.

Exit codes: 0 after an evaluation (whatever the figures); 2 for a usage error (bad option,
missing labels file, malformed labels line); 1 when the store does not exist or cannot be read.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from carewarden.cli.common import EXIT_USAGE, StoreOption, console, fail, open_store, user_errors
from carewarden.services.evaluate import DEFAULT_BUDGET, Evaluation, evaluate, load_labels


def evaluate_command(
    labels: Annotated[
        Path,
        typer.Option(
            "--labels", help="labels.jsonl written by `carewarden synth`.", show_default=False
        ),
    ],
    budget: Annotated[
        int,
        typer.Option(min=1, help="Alerts a reviewer works through, highest score first."),
    ] = DEFAULT_BUDGET,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    store: StoreOption = None,
) -> None:
    """Recall per violation kind, precision, precision at a review budget and alert volume,
    against the labels the synthetic hospital planted."""
    if format not in ("table", "json"):
        fail("--format must be table or json", EXIT_USAGE)
    with user_errors():
        planted = load_labels(labels)
    with open_store(store, read_only=True) as opened, user_errors():
        figures = evaluate(opened, planted, budget)
    if format == "json":
        sys.stdout.write(orjson.dumps(figures.to_dict()).decode() + "\n")
    else:
        render_evaluation(figures)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def render_evaluation(figures: Evaluation) -> None:
    kinds = Table(title="recall by violation kind", show_edge=False)
    for column in ("kind", "planted", "detected", "recall"):
        kinds.add_column(column, justify="left" if column == "kind" else "right")
    for k in figures.by_kind:
        kinds.add_row(k.kind, f"{k.planted:,}", f"{k.detected:,}", _percent(k.recall))
    kinds.add_section()
    kinds.add_row(
        "[bold]all[/]",
        f"{figures.labels:,}",
        f"{figures.detected:,}",
        f"[bold]{_percent(figures.recall)}[/]",
    )
    console.print(kinds)

    rules = Table(title="precision by rule", show_edge=False)
    for column in ("rule", "alerts", "true positives", "precision"):
        rules.add_column(column, justify="left" if column == "rule" else "right")
    for r in figures.by_rule:
        rules.add_row(r.rule_id, f"{r.alerts:,}", f"{r.true_positives:,}", _percent(r.precision))
    if not figures.by_rule:
        rules.add_row("(no alerts)", "0", "0", "n/a")
    console.print(rules)

    per_1000 = figures.alerts_per_1000_accesses
    console.print(
        f"Recall: [bold]{_percent(figures.recall)}[/] "
        f"({figures.detected:,} of {figures.labels:,} planted violations detected)",
        highlight=False,
    )
    console.print(
        f"Precision: [bold]{_percent(figures.precision)}[/] "
        f"({figures.true_positives:,} of {figures.alerts:,} alerts match a label)",
        highlight=False,
    )
    console.print(
        f"Precision at budget {figures.budget:,}: "
        f"[bold]{_percent(figures.precision_at_budget)}[/] "
        f"({figures.budget_true_positives:,} of the top {figures.budget_alerts:,} alerts)",
        highlight=False,
    )
    console.print(
        "Alerts per 1,000 accesses: "
        + ("n/a" if per_1000 is None else f"[bold]{per_1000:.2f}[/]")
        + f" ({figures.alerts:,} alerts, {figures.accesses:,} accesses)",
        highlight=False,
    )
