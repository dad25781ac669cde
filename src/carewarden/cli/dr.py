"""``carewarden dr …``: disaster-recovery readiness of the critical systems.

Exit codes: ``import`` 0, or 1 when rows were quarantined or the file was refused; ``status``
0 when every critical (tier-1) system is ready, 1 when one is not; 2 usage errors (a bad
option, a bad mapping file, nothing imported yet).
"""

from __future__ import annotations

import csv
import datetime as dt
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
from carewarden.prepare.dr import SetAssessment, SystemAssessment, span
from carewarden.prepare.dr_inventory import FORMATS, InventoryCsvMapping
from carewarden.services.dr import (
    DrStatus,
    dr_history,
    import_inventory,
    require_status,
)

app = typer.Typer(
    help="Disaster-recovery readiness: backup sets of the critical systems against their "
    "RPO and RTO, restore tests, immutable or offline copies (3-2-1-1-0).",
    no_args_is_help=True,
)

AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="Assess as of this time (ISO; default now), from the inventory snapshot current "
        "then. Times without an offset are in the site's zone.",
    ),
]
STATUS_FORMATS = ("table", "jsonl", "csv")
CSV_FIELDS = (
    "system",
    "set",
    "component",
    "system_kind",
    "tier",
    "owner",
    "rpo_met",
    "rto_met",
    "restore_test_overdue",
    "immutable_or_offline",
    "ready",
    "system_ready",
    "backup_age_hours",
    "restore_test_age_days",
    "findings",
)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="The inventory: YAML, or a CSV export.")],
    store: StoreOption = None,
    format: Annotated[
        str | None,
        typer.Option("--format", help="yaml or csv (default: from the file's extension)."),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="The time the inventory describes (ISO; default: its as_of, else now). "
            "Times without an offset are in the site's zone.",
        ),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            help="Column mapping (YAML) of a backup tool's CSV export; without it the CSV "
            "header must use the inventory's field names.",
        ),
    ] = None,
    interval: Annotated[
        int | None,
        typer.Option(
            "--test-interval-days",
            min=1,
            max=3650,
            help="Restore-test interval for rows that give none and where the file's defaults "
            "give none (default 90).",
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Import a backup inventory as a dated snapshot (the latest is the current state)."""
    if format is not None and format not in FORMATS:
        fail("--format must be yaml or csv", EXIT_USAGE)
    with user_errors():
        loaded = InventoryCsvMapping.load(mapping) if mapping is not None else None
    with open_store(store) as opened:
        when = parse_time(at, opened, "--at")
        with user_errors():
            result = import_inventory(
                opened, file, format=format, at=when, mapping=loaded, interval_days=interval
            )
    for reject in result.rejected[:20]:
        where = f"{file}:{reject.line}" if reject.line is not None else str(file)
        err_console.print(f"[yellow]quarantined[/] {where}: {reject.error}", highlight=False)
    if len(result.rejected) > 20:
        err_console.print(f"… and {len(result.rejected) - 20} more quarantined row(s)")
    if result.missing:
        err_console.print(
            "[yellow]warning:[/] the previous snapshot had backup set(s) this one lacks: "
            + ", ".join(result.missing),
            highlight=False,
        )
    snapshot = result.snapshot
    if not quiet:
        console.print(
            f"{file.name}: {result.status}, snapshot of {snapshot.taken_at:%Y-%m-%d %H:%M} UTC "
            f"with [bold]{snapshot.sets}[/] backup set(s), {snapshot.quarantined} quarantined.",
            highlight=False,
        )
    if result.rejected:
        raise typer.Exit(EXIT_FINDINGS)


def _yes(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "NO")


def _set_record(status: DrStatus, system: SystemAssessment, a: SetAssessment) -> dict[str, Any]:
    s = a.backup_set
    return {
        "system": s.system,
        "set": s.name,
        "component": s.component,
        "system_kind": s.system_kind,
        "tier": s.tier,
        "owner": s.owner,
        "assessed_at": status.at.isoformat() + "Z",
        "snapshot_taken_at": status.snapshot.taken_at.isoformat() + "Z",
        "last_successful_backup": _iso(s.last_successful_backup),
        "backup_age_hours": None if a.backup_age_hours is None else round(a.backup_age_hours, 2),
        "rpo_hours": s.rpo_hours,
        "rto_hours": s.rto_hours,
        "last_restore_test": _iso(s.last_restore_test),
        "last_restore_test_result": s.last_restore_test_result,
        "restore_test_age_days": (
            None if a.restore_test_age_days is None else round(a.restore_test_age_days, 2)
        ),
        "rpo_met": a.rpo_met,
        "rto_met": a.rto_met,
        "restore_test_overdue": a.restore_test_overdue,
        "immutable_or_offline": a.immutable_or_offline,
        "rule_32110": a.rule_32110,
        "findings": [
            {
                "check": f.check,
                "severity": f.severity,
                "blocking": f.blocking,
                "rule_id": f.rule_id,
                "reason": f.reason,
            }
            for f in a.findings
        ],
        "ready": a.ready,
        "system_ready": system.ready,
    }


def _iso(when: dt.datetime | None) -> str | None:
    return None if when is None else when.isoformat() + "Z"


def _render_table(status: DrStatus) -> None:
    console.print(
        f"DR readiness at {status.at:%Y-%m-%d %H:%M} UTC, inventory of "
        f"{status.snapshot.taken_at:%Y-%m-%d %H:%M} UTC ({status.snapshot.path})",
        highlight=False,
    )
    if status.stale:
        console.print(f"[yellow]warning:[/] {status.stale}", highlight=False)
    table = Table(show_edge=False)
    for column in (
        "system",
        "tier",
        "set",
        "RPO",
        "RTO",
        "restore test",
        "immut./offline",
        "ready",
    ):
        table.add_column(column)
    for system in status.systems:
        for i, a in enumerate(system.sets):
            s = a.backup_set
            age = "never" if a.backup_age_hours is None else span(a.backup_age_hours)
            rto = (
                "unknown"
                if a.rto_met is None
                else f"{span(s.restore_duration_hours or 0)} / {span(s.rto_hours)}"
            )
            test = (
                "never"
                if s.last_restore_test is None
                else f"{s.last_restore_test:%Y-%m-%d} {s.last_restore_test_result}"
            )
            table.add_row(
                s.system if i == 0 else "",
                str(s.tier) if i == 0 else "",
                s.name + (f" ({s.component})" if s.component else ""),
                f"{age} / {span(s.rpo_hours)} " + ("ok" if a.rpo_met else "[red]missed[/]"),
                rto + ("" if a.rto_met is None else (" ok" if a.rto_met else " [red]exceeded[/]")),
                test + (" [red]overdue[/]" if a.restore_test_overdue else ""),
                "yes" if a.immutable_or_offline else "[red]no[/]",
                "yes" if a.ready else "[red]no[/]",
            )
    console.print(table)
    for system in status.systems:
        if system.ready:
            continue
        label = "critical system " if system.critical else ""
        console.print(f"[bold red]not ready[/] {label}{system.system}:", highlight=False)
        for reason in system.reasons:
            console.print(f"  - {reason}", highlight=False)
    advice = [(a, f) for a in status.sets for f in a.findings if not f.blocking]
    for a, f in advice:
        console.print(f"[yellow]{f.severity}[/] {a.backup_set.key}: {f.reason}", highlight=False)
    critical = [s for s in status.systems if s.critical]
    console.print(
        f"[bold]{len(status.ready)}[/] of {len(status.systems)} system(s) ready; critical "
        f"(tier 1): {sum(s.ready for s in critical)} of {len(critical)} ready.",
        highlight=False,
    )


@app.command("status")
def status_command(
    store: StoreOption = None,
    at: AtOption = None,
    format: Annotated[str, typer.Option("--format", help="table, jsonl or csv.")] = "table",
) -> None:
    """Each backup set against its RPO, RTO, restore-test interval and 3-2-1-1-0, and each
    system ready or not, with the reasons. Exit 1 when a critical (tier-1) system is not
    ready."""
    if format not in STATUS_FORMATS:
        fail("--format must be table, jsonl or csv", EXIT_USAGE)
    with open_store(store, read_only=True) as opened:
        when = parse_time(at, opened, "--at")
        with user_errors():
            status = require_status(opened, when)
    if format == "jsonl":
        for system in status.systems:
            for a in system.sets:
                sys.stdout.write(orjson.dumps(_set_record(status, system, a)).decode() + "\n")
    elif format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for system in status.systems:
            for a in system.sets:
                record = _set_record(status, system, a)
                record["findings"] = " | ".join(
                    f"{f['check']}: {f['reason']}" for f in record["findings"]
                )
                writer.writerow(record)
    else:
        _render_table(status)
    if status.critical_not_ready:
        raise typer.Exit(EXIT_FINDINGS)


@app.command("history")
def history_command(
    store: StoreOption = None,
    format: Annotated[str, typer.Option("--format", help="table or jsonl.")] = "table",
) -> None:
    """Readiness over time: each imported snapshot assessed at its own time."""
    if format not in ("table", "jsonl"):
        fail("--format must be table or jsonl", EXIT_USAGE)
    with open_store(store, read_only=True) as opened:
        points = dr_history(opened)
    if format == "jsonl":
        for p in points:
            record = {
                "taken_at": p.snapshot.taken_at.isoformat() + "Z",
                "path": p.snapshot.path,
                "sets": p.snapshot.sets,
                "systems": p.systems,
                "ready": p.ready,
                "critical": p.critical,
                "critical_ready": p.critical_ready,
                "not_ready": p.not_ready,
            }
            sys.stdout.write(orjson.dumps(record).decode() + "\n")
        return
    table = Table(show_edge=False)
    for column in ("snapshot (UTC)", "sets", "systems ready", "critical ready", "not ready"):
        table.add_column(column)
    for p in points:
        table.add_row(
            f"{p.snapshot.taken_at:%Y-%m-%d %H:%M}",
            str(p.snapshot.sets),
            f"{p.ready} / {p.systems}",
            f"{p.critical_ready} / {p.critical}",
            ", ".join(p.not_ready),
        )
    console.print(table)
    if not points:
        console.print("No DR inventory imported yet (carewarden dr import FILE).")
