"""``carewarden assets …``: the device inventory (discover, import, list, show, evaluate)."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from carewarden.cli.common import (
    EXIT_FINDINGS,
    EXIT_USAGE,
    QuietOption,
    StoreOption,
    console,
    fail,
    open_store,
    user_errors,
)
from carewarden.cli.ingest import render_summary
from carewarden.iomt.classify import CLASSES
from carewarden.iomt.cmdb import CmdbMapping
from carewarden.iomt.inventory import DiscoverySummary
from carewarden.services import assets as service

app = typer.Typer(
    help="The device inventory: medical devices, workstations, servers and printers found on "
    "the network (DHCP, connections, HTTP, TLS) and in CMDB exports, each with a class, a "
    "confidence and the evidence.",
    no_args_is_help=True,
)

NetworkOption = Annotated[
    Path | None,
    typer.Option(
        "--network",
        help="Site network YAML: internal networks and the site's ports (HL7, vendor "
        "telemetry); recorded in the store for later runs.",
    ),
]
OuiOption = Annotated[
    Path | None,
    typer.Option(
        "--oui",
        help="IEEE OUI registry CSV (Registry,Assignment,Organization Name,…) extending the "
        "shipped vendor table; recorded in the store.",
    ),
]


def render_discovery(summary: DiscoverySummary) -> None:
    seen = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.observations.items())) or "none"
    console.print(
        f"[bold]{summary.devices:,}[/] devices from {seen} observation(s) "
        f"in {summary.seconds:.2f} s.",
        highlight=False,
    )
    table = Table(show_edge=False)
    table.add_column("class")
    table.add_column("devices", justify="right")
    for name in CLASSES:
        if summary.by_class.get(name):
            table.add_row(name, f"{summary.by_class[name]:,}")
    console.print(table)


@app.command("discover")
def discover_command(
    store: StoreOption = None,
    network: NetworkOption = None,
    oui: OuiOption = None,
    quiet: QuietOption = False,
) -> None:
    """Rebuild the inventory from the telemetry and CMDB rows in the store (also a phase of
    `carewarden detect`)."""
    with user_errors():
        site = service.load_network(network) if network is not None else None
    with open_store(store) as opened, user_errors():
        service.configure(opened, site, oui)
        summary = service.run_discovery(opened)
    if not quiet:
        render_discovery(summary)


@app.command("import")
def import_command(
    paths: Annotated[list[Path], typer.Argument(help="CSV files or folders.", exists=True)],
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            "-m",
            help="Column mapping YAML (columns: field -> header); without it common headers "
            "(MAC Address, IP, Hostname, Device Type, Manufacturer, Model…) are recognised.",
        ),
    ] = None,
    store: StoreOption = None,
    quiet: QuietOption = False,
) -> None:
    """Import a CMDB or asset-management CSV export, then rediscover.

    Malformed rows are quarantined with their file and line (exit code 1); a mapping that
    names a column the file lacks is refused before anything is written (exit code 2).
    """
    with user_errors():
        loaded = CmdbMapping.load(mapping)
    with open_store(store) as opened, user_errors():
        summary = service.import_files(opened, paths, loaded)
    render_summary(summary, quiet)
    if summary.failed or summary.total("quarantined"):
        raise typer.Exit(EXIT_FINDINGS)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v.isoformat() + "Z" if isinstance(v, dt.datetime) else v) for k, v in row.items()
    }


@app.command("list")
def list_command(
    store: StoreOption = None,
    cls: Annotated[
        str | None, typer.Option("--class", help=f"Only this class: {', '.join(CLASSES)}.")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="table, jsonl or csv.")] = "table",
) -> None:
    """Every device: class, confidence, vendor, model, addresses and names (JSONL and CSV
    carry the evidence too)."""
    if format not in ("table", "jsonl", "csv"):
        fail("--format must be table, jsonl or csv", EXIT_USAGE)
    if cls is not None and cls not in CLASSES:
        fail(f"unknown class {cls!r}; use one of {', '.join(CLASSES)}", EXIT_USAGE)
    with open_store(store, read_only=True) as opened, user_errors():
        rows = service.list_assets(opened, cls)
    if format == "jsonl":
        for row in rows:
            sys.stdout.write(orjson.dumps(_jsonable(row)).decode() + "\n")
        return
    if format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=[*service.ASSET_FIELDS, "evidence"])
        writer.writeheader()
        for row in rows:
            out = {k: ";".join(v) if isinstance(v, list) and k != "evidence" else v
                   for k, v in _jsonable(row).items()}
            out["evidence"] = "; ".join(
                f"{e['observation']} ({e['class'] or '-'} {e['weight']:.2f})"
                for e in row["evidence"]
            )
            writer.writerow(out)
        return
    table = Table(show_edge=False)
    for column in ("id", "class", "conf.", "vendor", "model", "os", "ips", "hostnames"):
        table.add_column(column, justify="right" if column == "conf." else "left")
    for row in rows:
        table.add_row(
            row["id"],
            row["class"],
            f"{row['confidence']:.2f}",
            row["vendor"] or "",
            row["model"] or "",
            (row["os"] or "") + (" (unsupported)" if row["os_unsupported"] else ""),
            ", ".join(row["ips"][-2:]),
            ", ".join(row["hostnames"][:2]),
        )
    console.print(table)
    console.print(f"{len(rows):,} device(s)")


@app.command("show")
def show_command(
    asset_id: Annotated[str, typer.Argument(help="Asset id, MAC, IP address or host name.")],
    store: StoreOption = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """One device with every piece of evidence behind its class."""
    if format not in ("table", "json"):
        fail("--format must be table or json", EXIT_USAGE)
    with open_store(store, read_only=True) as opened, user_errors():
        row = service.show_asset(opened, asset_id)
    if format == "json":
        sys.stdout.write(orjson.dumps(_jsonable(row), option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    console.print(
        f"[bold]{row['id']}[/] {row['class']} (confidence {row['confidence']:.2f})",
        highlight=False,
    )
    for label, key in (
        ("vendor", "vendor"), ("model", "model"), ("os", "os"), ("MACs", "macs"),
        ("IPs", "ips"), ("host names", "hostnames"), ("subnet", "subnet"), ("zone", "zone"),
        ("protocols", "protocols"), ("sources", "sources"),
        ("first seen (UTC)", "first_seen"), ("last seen (UTC)", "last_seen"),
    ):
        value = row[key]
        if isinstance(value, list):
            value = ", ".join(value)
        if key == "os" and row["os_unsupported"]:
            value = f"{value} (unsupported)"
        if value:
            console.print(f"  {label}: {value}", highlight=False)
    table = Table(title="evidence", show_edge=False)
    for column in ("weight", "class", "source", "observation"):
        table.add_column(column, justify="right" if column == "weight" else "left")
    for item in row["evidence"]:
        table.add_row(
            f"{item['weight']:.2f}", item["class"] or "", item["source"], item["observation"]
        )
    console.print(table)


@app.command("evaluate")
def evaluate_command(
    truth: Annotated[
        Path, typer.Option("--truth", help="devices_truth.jsonl (from the synthetic fleet).")
    ],
    store: StoreOption = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Classification accuracy of the stored inventory against known devices: per class,
    overall, and the devices merged into one asset or split over several."""
    if format not in ("table", "json"):
        fail("--format must be table or json", EXIT_USAGE)
    with user_errors():
        known = service.read_truth(truth)
    with open_store(store, read_only=True) as opened, user_errors():
        result = service.evaluate_assets(opened, known)
    if format == "json":
        sys.stdout.write(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        return
    table = Table(show_edge=False)
    for column in ("class", "devices", "correct", "accuracy", "classified as"):
        left = column in ("class", "classified as")
        table.add_column(column, justify="left" if left else "right")
    for name, score in result.by_class.items():
        table.add_row(
            name, f"{score.devices:,}", f"{score.correct:,}", f"{score.accuracy:.1%}",
            ", ".join(f"{k} {v}" for k, v in score.predicted.most_common()),
        )
    console.print(table)
    console.print(
        f"[bold]{result.accuracy:.1%}[/] of {result.devices:,} devices in the right class; "
        f"{len(result.merged)} asset(s) merge several devices, {len(result.split)} device(s) "
        f"split over several assets, {len(result.missed)} not found.",
        highlight=False,
    )
