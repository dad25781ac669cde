"""``carewarden vulns``: SBOM components matched against advisories, highest priority first."""

from __future__ import annotations

import csv
import sys
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from carewarden.cli.common import (
    EXIT_USAGE,
    QuietOption,
    StoreOption,
    console,
    err_console,
    fail,
    open_store,
    user_errors,
)
from carewarden.services.vulns import FINDING_FIELDS, findings, match


def vulns_command(
    store: StoreOption = None,
    format: Annotated[str, typer.Option("--format", help="table, jsonl or csv.")] = "table",
    include_suppressed: Annotated[
        bool,
        typer.Option(
            "--include-suppressed",
            help="Also list findings a VEX statement marks not_affected or fixed.",
        ),
    ] = False,
    product: Annotated[
        str | None, typer.Option("--product", help="Only this product (SBOM metadata name).")
    ] = None,
    kev_only: Annotated[
        bool, typer.Option("--kev-only", help="Only vulnerabilities in CISA's KEV catalogue.")
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many (0: all).", min=0)] = 0,
    quiet: QuietOption = False,
) -> None:
    """Match every SBOM component against the advisories (purl ranges, CPE ranges, product
    names), apply VEX, and print the findings: KEV first, then EPSS, then CVSS.

    Each finding names the component and version, the range that matched, the method
    (purl, cpe or name) and the source, so it can be checked by hand.
    """
    if format not in ("table", "jsonl", "csv"):
        fail("--format must be table, jsonl or csv", EXIT_USAGE)
    with open_store(store) as opened, user_errors():
        summary = match(opened)
        rows = findings(
            opened,
            include_suppressed=include_suppressed,
            product=product,
            kev_only=kev_only,
            limit=limit,
        )
    if not quiet:
        err_console.print(
            f"matched {summary.components:,} components: {summary.findings:,} findings "
            f"({summary.suppressed:,} suppressed by VEX) in {summary.seconds:.2f} s",
            highlight=False,
        )
    if format == "jsonl":
        for row in rows:
            sys.stdout.write(orjson.dumps(row, option=orjson.OPT_NAIVE_UTC).decode() + "\n")
    elif format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=FINDING_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    else:
        render_table(rows)


def _cell(value: Any) -> Any:
    return ";".join(value) if isinstance(value, list) else value


def render_table(rows: list[dict[str, Any]]) -> None:
    table = Table(show_edge=False)
    for column in ("KEV", "EPSS", "CVSS", "product", "component", "vulnerability", "why", "VEX"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            "yes" if row["kev"] else "",
            f"{row['epss']:.3f}" if row["epss"] is not None else "",
            f"{row['cvss']:.1f}" if row["cvss"] is not None else "",
            row["product"],
            f"{row['component']} {row['component_version'] or ''}".strip(),
            row["vuln_id"],
            f"{row['method']} {row['matched_key']} {row['matched_range']} ({row['source']})",
            row["vex_status"] or "",
        )
    console.print(table)
    console.print(f"{len(rows):,} finding(s)")
