"""``carewarden ingest …``: one sub-command per source format."""

from __future__ import annotations

import glob
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfoNotFoundError

import typer
from rich.table import Table

from carewarden.cli.common import (
    EXIT_FINDINGS,
    QuietOption,
    StoreOption,
    console,
    err_console,
    open_store,
    progress_bar,
    show_progress,
    user_errors,
)
from carewarden.connectors.access_csv import AccessCsvConnector, AccessCsvMapping
from carewarden.connectors.base import Connector
from carewarden.connectors.fhir import FhirConnector
from carewarden.gcpolicy import bulk_allocation
from carewarden.iomt.connectors import AdvisoryConnector, SbomConnector
from carewarden.services.ingest import IngestSummary, discover, ingest
from carewarden.store import Store
from carewarden.telemetry.evtx import EvtxConnector
from carewarden.telemetry.osquery import OsqueryConnector
from carewarden.telemetry.suricata import SuricataConnector
from carewarden.telemetry.syslog import FORMATS, SyslogConnector
from carewarden.telemetry.winjson import WinJsonConnector
from carewarden.telemetry.zeek import ZeekConnector

app = typer.Typer(
    help="Ingest source files into the store (idempotent: a file already ingested is skipped).",
    no_args_is_help=True,
)

PathsArgument = Annotated[
    list[Path], typer.Argument(help="Files or folders (read recursively).", exists=True)
]
GlobPathsArgument = Annotated[
    list[str],
    typer.Argument(help="Files, folders (read recursively) or quoted globs ('logs/**/*.evtx')."),
]


def expand(patterns: list[str]) -> list[Path]:
    """Paths as given, or what a glob pattern names (``**`` recurses); none found is an error."""
    out: list[Path] = []
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            found = sorted(glob.glob(pattern, recursive=True))
            if not found:
                raise typer.BadParameter(f"no file matches {pattern!r}")
            out.extend(Path(p) for p in found)
        else:
            if not Path(pattern).exists():
                raise typer.BadParameter(f"no such file or folder: {pattern}")
            out.append(Path(pattern))
    return out


def run_ingest(
    connector: Connector,
    paths: list[Path],
    store: Path | None,
    quiet: bool,
    configure: Callable[[Store], None] | None = None,
) -> IngestSummary:
    """Ingest with a progress bar; ``configure`` sees the opened store first (e.g. to read
    a setting the connector needs)."""
    with user_errors():
        total = len(discover(connector, paths))
    with (
        open_store(store) as opened,
        progress_bar(show_progress(quiet), f"ingest {connector.name}", total) as update,
    ):
        if configure is not None:
            with user_errors():
                configure(opened)

        def progress(path: Path, done: int, total: int, records: int) -> None:
            update(completed=done, description=f"{path.name}: {records:,} records")

        with user_errors(), bulk_allocation():
            return ingest(opened, connector, paths, progress)


def render_summary(summary: IngestSummary, quiet: bool) -> None:
    for failed in summary.failed:
        err_console.print(f"[red]failed[/] {failed.error}", highlight=False)
    for outcome in summary.files:
        for reject in outcome.first_rejects[:5]:
            where = f"{outcome.path}:{reject.line}" if reject.line else str(outcome.path)
            err_console.print(f"[yellow]quarantined[/] {where}: {reject.error}", highlight=False)
    if quiet:
        return
    table = Table(title=f"ingest {summary.kind}", show_edge=False)
    table.add_column("file")
    table.add_column("status")
    table.add_column("records", justify="right")
    table.add_column("duplicates", justify="right")
    table.add_column("quarantined", justify="right")
    for f in summary.files[:50]:
        table.add_row(
            f.path.name, f.status, f"{f.records:,}", f"{f.duplicates:,}", f"{f.quarantined:,}"
        )
    if len(summary.files) > 50:
        table.add_row(f"… {len(summary.files) - 50} more files", "", "", "", "")
    console.print(table)
    by_table = ", ".join(f"{t} {n:,}" for t, n in sorted(summary.tables.items()) if n)
    console.print(
        f"[bold]{summary.total('records'):,}[/] records stored ({by_table or 'none'}); "
        f"{summary.total('duplicates'):,} duplicates skipped; "
        f"[bold]{summary.total('quarantined'):,}[/] quarantined; "
        f"{len(summary.failed)} file(s) failed."
    )
    for reason, count in summary.ignored.most_common(5):
        console.print(f"  ignored {count:,}: {reason}")
    for reason, count in summary.notes.most_common(5):
        console.print(f"  note {count:,}: {reason}")


def finish(summary: IngestSummary, quiet: bool) -> None:
    render_summary(summary, quiet)
    if summary.failed or summary.total("quarantined"):
        raise typer.Exit(EXIT_FINDINGS)


@app.command("fhir")
def ingest_fhir(
    paths: PathsArgument,
    store: StoreOption = None,
    validate: Annotated[
        str,
        typer.Option(
            help="fast: structural checks of the fields used; full: also fhir.resources models "
            "(about 40x slower)."
        ),
    ] = "fast",
    tz: Annotated[
        str,
        typer.Option(
            "--tz",
            help="Time zone of dates and offset-less times in the export (IANA name), e.g. "
            "an employment end date.",
        ),
    ] = "UTC",
    quiet: QuietOption = False,
) -> None:
    """FHIR R4 bulk NDJSON folders/files or Bundle JSON files.

    Exit code 1 when a record was quarantined or a file failed.
    """
    if validate not in ("fast", "full"):
        raise typer.BadParameter("use fast or full", param_hint="--validate")
    mode: Literal["fast", "full"] = "full" if validate == "full" else "fast"
    try:
        connector = FhirConnector(validate=mode, timezone=tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(f"unknown time zone {tz!r}", param_hint="--tz") from None
    finish(run_ingest(connector, paths, store, quiet), quiet)


@app.command("access-csv")
def ingest_access_csv(
    paths: PathsArgument,
    mapping: Annotated[
        Path,
        typer.Option(
            "--mapping",
            "-m",
            help="Column mapping YAML, or a built-in mapping name: synthetic, epic.",
        ),
    ],
    tz: Annotated[
        str | None, typer.Option("--tz", help="Override the mapping's time zone (IANA name).")
    ] = None,
    store: StoreOption = None,
    quiet: QuietOption = False,
) -> None:
    """Flat CSV access-log exports with a column mapping.

    Exit code 1 when a record was quarantined or a file failed.
    """
    with user_errors():
        loaded = AccessCsvMapping.load(mapping)
        if tz:
            loaded = loaded.with_timezone(tz)
    finish(run_ingest(AccessCsvConnector(loaded), paths, store, quiet), quiet)


@app.command("sbom")
def ingest_sbom(
    paths: PathsArgument, store: StoreOption = None, quiet: QuietOption = False
) -> None:
    """CycloneDX (JSON, XML) and SPDX 2.x (JSON, tag-value) SBOMs; format detected.

    The SBOM's metadata component (CycloneDX) or described package (SPDX) names the device
    model or product. Run `carewarden vulns` afterwards to match them against advisories.
    Exit code 1 when a record was quarantined or a file failed.
    """
    finish(run_ingest(SbomConnector(), paths, store, quiet), quiet)


@app.command("advisories")
def ingest_advisories(
    paths: PathsArgument, store: StoreOption = None, quiet: QuietOption = False
) -> None:
    """Vulnerability data downloaded for offline use, detected by content: OSV (JSON, JSON
    lists, YAML), NVD CVE API 2.0, CSAF 2.0 (with VEX), CycloneDX VEX, CISA KEV (JSON, CSV)
    and EPSS (CSV, .gz too).

    A newer version of an advisory replaces an older one (by id and modified time).
    Exit code 1 when a record was quarantined or a file failed.
    """
    finish(run_ingest(AdvisoryConnector(), paths, store, quiet), quiet)


@app.command("evtx")
def ingest_evtx(
    paths: GlobPathsArgument, store: StoreOption = None, quiet: QuietOption = False
) -> None:
    """Windows EVTX files (any channel, Sysmon included; .evtx.gz too) into security_event.

    Exit code 1 when a record was quarantined or a file failed.
    """
    finish(run_ingest(EvtxConnector(), expand(paths), store, quiet), quiet)


@app.command("winjson")
def ingest_winjson(
    paths: GlobPathsArgument, store: StoreOption = None, quiet: QuietOption = False
) -> None:
    """Windows events as JSON: Winlogbeat or NXLog lines, evtx_dump JSON, arrays (.gz too).

    Exit code 1 when a record was quarantined or a file failed.
    """
    finish(run_ingest(WinJsonConnector(), expand(paths), store, quiet), quiet)


@app.command("suricata")
def ingest_suricata(
    paths: GlobPathsArgument, store: StoreOption = None, quiet: QuietOption = False
) -> None:
    """Suricata EVE JSON lines (alert, flow, dns, http, tls, fileinfo, anomaly…; .gz too)
    into security_event.

    Exit code 1 when a record was quarantined or a file failed.
    """
    finish(run_ingest(SuricataConnector(), expand(paths), store, quiet), quiet)


@app.command("zeek")
def ingest_zeek(
    paths: GlobPathsArgument, store: StoreOption = None, quiet: QuietOption = False
) -> None:
    """Zeek logs, TSV or JSON (conn, dns, http, ssl, x509, dhcp, files, notice, weird…;
    .gz too) into security_event.

    Exit code 1 when a record was quarantined or a file failed.
    """
    finish(run_ingest(ZeekConnector(), expand(paths), store, quiet), quiet)


@app.command("syslog")
def ingest_syslog(
    paths: GlobPathsArgument,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="auto (detected per line), 3164 (BSD, also without PRI as in /var/log), "
            "5424 or cef (bare or behind a syslog header).",
        ),
    ] = "auto",
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            help="Time zone of BSD times, which carry none (IANA name); default: the store's "
            "site time zone, else UTC.",
        ),
    ] = None,
    store: StoreOption = None,
    quiet: QuietOption = False,
) -> None:
    """Syslog files: RFC 3164, RFC 5424, CEF, octet-counted frames (/var/log files, rotated
    and .gz ones too) into security_event.

    A BSD time has no year: it is put in the latest year that is not after the file's last
    change. Exit code 1 when a line was quarantined or a file failed.
    """
    if fmt not in FORMATS:
        raise typer.BadParameter(f"use one of {', '.join(FORMATS)}", param_hint="--format")
    connector = SyslogConnector(fmt)
    if tz is not None:
        try:
            connector.set_timezone(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise typer.BadParameter(f"unknown time zone {tz!r}", param_hint="--tz") from None

    def site_zone(opened: Store) -> None:
        if tz is None:
            connector.set_timezone(opened.setting("site_tz") or "UTC")

    finish(run_ingest(connector, expand(paths), store, quiet, site_zone), quiet)


@app.command("osquery")
def ingest_osquery(
    paths: GlobPathsArgument, store: StoreOption = None, quiet: QuietOption = False
) -> None:
    """osquery result logs (differential, batched differential and snapshot JSON lines;
    .gz too) into security_event, one event per result row.

    Exit code 1 when a record was quarantined or a file failed.
    """
    finish(run_ingest(OsqueryConnector(), expand(paths), store, quiet), quiet)
