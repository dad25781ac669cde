"""``carewarden patch-plan``: device risk and the prioritized patch plan with SLA dates, and
patch compliance over the recorded snapshots."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated, Any

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
from carewarden.services.patch_plan import (
    ITEM_FIELDS,
    DeviceRisk,
    PlanItem,
    build_plan,
    compliance,
    record,
    settings,
)
from carewarden.services.vulns import match

app = typer.Typer(
    help="Device risk and the prioritized patch plan (SLA dates, fixes, compensating "
    "actions); `compliance` shows patch compliance over the recorded snapshots.",
    invoke_without_command=True,
)

DEVICE_FIELDS = ("asset_id", "class", "vendor", "model", "product", "risk", "why", "worst",
                 "findings", "zone", "os", "ips")


@app.callback()
def plan_command(
    ctx: typer.Context,
    store: StoreOption = None,
    format: Annotated[str, typer.Option("--format", help="table, jsonl or csv.")] = "table",
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Risk and SLA settings (YAML; default: the store's "
                     "recorded ones, else the shipped carewarden/iomt/risk.yaml).",
                     show_default=False),
    ] = None,
    models: Annotated[
        Path | None,
        typer.Option("--models", help="YAML {asset model or asset id: SBOM product} for "
                     "devices whose model does not name their SBOM's product.",
                     show_default=False),
    ] = None,
    record_snapshot: Annotated[
        bool,
        typer.Option("--record", help="Store the open items as a dated snapshot (patch "
                     "compliance), and keep --config/--models for `carewarden detect`."),
    ] = False,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Plan as of this ISO time (default now; without an offset, "
                     "the site's time zone).", show_default=False),
    ] = None,
    devices: Annotated[
        bool, typer.Option("--devices", help="List the devices by risk instead of the plan.")
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many rows (0: all).", min=0)] = 0,
    quiet: QuietOption = False,
) -> None:
    """Score every device (exploitability, exposure, clinical impact, end-of-support OS) and
    print the patch plan: one item per (device model, vulnerability), riskiest first, with its
    SLA due date and the fix or the compensating actions. Exit code 1 when an item is overdue.
    """
    if ctx.invoked_subcommand is not None:
        return
    if format not in ("table", "jsonl", "csv"):
        fail("--format must be table, jsonl or csv", EXIT_USAGE)
    with open_store(store) as opened, user_errors():
        when = parse_time(at, opened, "--at")
        loaded, mapping = settings(opened, config, models, save=record_snapshot)
        match(opened)
        plan = build_plan(opened, loaded, mapping, at=when)
        snapshot = record(opened, plan, "patch-plan") if record_snapshot else None
    if not quiet:
        linked = len(plan.linked)
        err_console.print(
            f"{len(plan.devices):,} device(s), {linked:,} linked to an SBOM; "
            f"{len(plan.items):,} plan item(s), {plan.overdue:,} overdue as of "
            f"{plan.at:%Y-%m-%d %H:%M} UTC" + (f"; recorded {snapshot}" if snapshot else ""),
            highlight=False,
        )
    if devices:
        rows = [d.as_dict() for d in plan.devices[: limit or None]]
        _emit(rows, format, DEVICE_FIELDS, lambda: _device_table(plan.devices[: limit or None]))
    else:
        items = plan.items[: limit or None]
        _emit([i.as_dict() for i in items], format, ITEM_FIELDS, lambda: _item_table(items))
    if plan.overdue:
        raise typer.Exit(EXIT_FINDINGS)


@app.command("compliance")
def compliance_command(
    store: StoreOption = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Per recorded snapshot (`patch-plan --record`, `carewarden detect`): open items,
    overdue, new, remediated on time and late, and the share within SLA."""
    if format not in ("table", "json"):
        fail("--format must be table or json", EXIT_USAGE)
    with open_store(store, read_only=True) as opened, user_errors():
        rows = compliance(opened)
    if format == "json":
        sys.stdout.write(orjson.dumps([r.as_dict() for r in rows],
                                      option=orjson.OPT_NAIVE_UTC | orjson.OPT_INDENT_2).decode()
                         + "\n")
        return
    table = Table(show_edge=False)
    for column in ("snapshot", "taken (UTC)", "by", "open", "overdue", "new",
                   "fixed on time", "fixed late", "within SLA"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r.snapshot_id, f"{r.taken_at:%Y-%m-%d %H:%M}", r.origin, str(r.open),
            str(r.overdue), str(r.new), str(r.remediated_on_time), str(r.remediated_late),
            f"{r.within_sla:.1f}%" if r.within_sla is not None else "",
        )
    console.print(table)
    console.print(f"{len(rows):,} snapshot(s)")


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return value


def _emit(rows: list[dict[str, Any]], format: str, fields: tuple[str, ...],
          table: Any) -> None:
    if format == "jsonl":
        for row in rows:
            sys.stdout.write(orjson.dumps(row, option=orjson.OPT_NAIVE_UTC).decode() + "\n")
    elif format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    else:
        table()


def _item_table(items: list[PlanItem]) -> None:
    table = Table(show_edge=False)
    for column in ("#", "risk", "due", "model", "vulnerability", "first action"):
        table.add_column(column)
    for i in items:
        due = f"{i.due:%Y-%m-%d}" + (" [bold red]OVERDUE[/]" if i.overdue else "")
        table.add_row(
            str(i.priority), str(i.risk), f"{due}\n{i.sla_rule}", f"{i.target} x{i.devices}",
            f"{i.vuln_id} ({i.severity})\n{', '.join(i.components)}",
            i.actions[0] if i.actions else "",
        )
    console.print(table)
    console.print(f"{len(items):,} item(s); --format jsonl gives every action and the why")


def _device_table(devices: list[DeviceRisk]) -> None:
    table = Table(show_edge=False)
    for column in ("risk", "device", "class", "model", "why"):
        table.add_column(column)
    for d in devices:
        table.add_row(str(d.risk.score), d.asset_id, d.cls, d.model or "", d.risk.why())
    console.print(table)
    console.print(f"{len(devices):,} device(s)")
