"""``carewarden segmentation``: observed flows against the zone policy, and the policy as
firewall rules."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from carewarden.cli.cases import parse_time
from carewarden.cli.common import (
    EXIT_FINDINGS,
    EXIT_USAGE,
    QuietOption,
    StoreOption,
    console,
    err_console,
    fail,
    open_store,
    user_errors,
)
from carewarden.iomt.segmentation import Violation, nftables, rules_json
from carewarden.iomt.segmentation_policy import EXAMPLE_POLICY, UNZONED, SegmentationPolicy
from carewarden.services.segmentation import run_check

app = typer.Typer(
    help="Network segmentation: zones and allowed flows (YAML) checked against observed "
    "traffic, and exported as nftables rules.",
    no_args_is_help=True,
)

PolicyOption = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        help="Segmentation policy YAML (default: the one saved in the store).",
        show_default=False,
    ),
]
TodayOption = Annotated[
    str | None,
    typer.Option(
        "--today",
        help="Apply the exceptions in force on this date (YYYY-MM-DD; default today, UTC).",
        show_default=False,
    ),
]


def _today(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"--today: not a date (YYYY-MM-DD): {text!r}", EXIT_USAGE)


@app.command("check")
def check_command(
    policy: PolicyOption = None,
    store: StoreOption = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only connections from this time (ISO; without an offset, the site's zone).",
            show_default=False,
        ),
    ] = None,
    format: Annotated[str, typer.Option("--format", help="table or jsonl.")] = "table",
    save_policy: Annotated[
        bool,
        typer.Option(
            "--save-policy",
            help="Copy the policy into the store, so `carewarden detect` checks it too.",
        ),
    ] = False,
    today: TodayOption = None,
    quiet: QuietOption = False,
) -> None:
    """Check every observed connection (Zeek conn, Suricata flow) against the policy and
    record each violation as an alert (re-runs add none). Exit 1 when violations exist."""
    if format not in ("table", "jsonl"):
        fail("--format must be table or jsonl", EXIT_USAGE)
    day = _today(today)
    with open_store(store) as opened, user_errors():
        start = parse_time(since, opened, "--since")
        run = run_check(opened, policy, since=start, today=day, save=save_policy)
    result = run.result
    if format == "jsonl":
        for violation in result.violations:
            sys.stdout.write(
                orjson.dumps(violation.as_dict(), option=orjson.OPT_NAIVE_UTC).decode() + "\n"
            )
    else:
        render(result.violations)
    if not quiet:
        for name in result.expired_exceptions:
            err_console.print(f"[yellow]expired exception ignored:[/] {name}", highlight=False)
        if save_policy:
            err_console.print(f"policy saved in the store: {run.policy_path}", highlight=False)
        seconds = sum(result.seconds.values())
        err_console.print(
            f"{result.events:,} connection(s) in {result.flows:,} distinct flow(s) checked "
            f"against {result.policy!r} in {seconds:.2f} s: {len(result.violations):,} "
            f"violating flow(s), {run.new_alerts:,} new alert(s)",
            highlight=False,
        )
    if result.violations:
        raise typer.Exit(EXIT_FINDINGS)


def render(violations: list[Violation]) -> None:
    table = Table(show_edge=False)
    for column in ("severity", "rule", "source", "destination", "service", "events", "last seen"):
        table.add_column(column, justify="right" if column == "events" else "left")
    for v in violations:
        table.add_row(
            v.severity,
            v.rule_id.removeprefix("segmentation."),
            f"{v.src_ip} ({v.src_zone or UNZONED})",
            f"{v.dst_ip} ({v.dst_zone or UNZONED})",
            v.service,
            f"{v.events:,}",
            f"{v.last_seen:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@app.command("export")
def export_command(
    policy: Annotated[
        Path, typer.Option("--policy", help="Segmentation policy YAML.", show_default=False)
    ],
    format: Annotated[str, typer.Option("--format", help="nftables or json.")] = "nftables",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write to this file (default: standard output).", show_default=False
        ),
    ] = None,
    today: TodayOption = None,
) -> None:
    """The policy as firewall rules: an nftables script (``nft -f``; table inet
    carewarden_seg, forward chain) or the same rules as JSON for other firewalls."""
    if format not in ("nftables", "json"):
        fail("--format must be nftables or json", EXIT_USAGE)
    day = _today(today)
    with user_errors():
        loaded = SegmentationPolicy.load(policy)
    if format == "json":
        text = orjson.dumps(rules_json(loaded, day), option=orjson.OPT_INDENT_2).decode() + "\n"
    else:
        text = nftables(loaded, day)
    if out is None:
        sys.stdout.write(text)
        return
    partial = out.with_name(out.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(out)


@app.command("example")
def example_command() -> None:
    """Print the example hospital policy (every field documented), to copy and edit."""
    sys.stdout.write(EXAMPLE_POLICY.read_text(encoding="utf-8"))
