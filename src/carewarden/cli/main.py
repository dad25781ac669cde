"""The ``carewarden`` command.

Exit codes: 0 ok; 1 findings or validation errors where a command says so (records
quarantined, alerts found, a store held by another process); 2 usage errors (bad option,
missing file, invalid mapping).
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import typer
from rich.table import Table

from carewarden import __version__
from carewarden.cli import assets as assets_cli
from carewarden.cli import backup as backup_cli
from carewarden.cli import breach as breach_cli
from carewarden.cli import cases as cases_cli
from carewarden.cli import dr as dr_cli
from carewarden.cli import exercise as exercise_cli
from carewarden.cli import gateway as gateway_cli
from carewarden.cli import ingest as ingest_cli
from carewarden.cli import patch_plan as patch_plan_cli
from carewarden.cli import pdp as pdp_cli
from carewarden.cli import playbooks as playbooks_cli
from carewarden.cli import procurement as procurement_cli
from carewarden.cli import rules as rules_cli
from carewarden.cli import segmentation as segmentation_cli
from carewarden.cli import watch as watch_cli
from carewarden.cli import web as web_cli
from carewarden.cli.cases import CasesConfigOption, WindowOption, render_correlation
from carewarden.cli.common import (
    EXIT_FINDINGS,
    EXIT_USAGE,
    QuietOption,
    StoreOption,
    console,
    fail,
    open_store,
    progress_bar,
    show_progress,
    store_path,
    user_errors,
)
from carewarden.cli.evaluate import evaluate_command
from carewarden.cli.vulns import vulns_command
from carewarden.detect.explain import ExplainSummary
from carewarden.errors import CarewardenError
from carewarden.prepare.case_settings import load_case_settings
from carewarden.services.overview import Overview, overview
from carewarden.store import Store

app = typer.Typer(
    name="carewarden",
    help="Defense-in-depth security for healthcare: patient-privacy monitoring and more.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(ingest_cli.app, name="ingest")
app.add_typer(breach_cli.app, name="breach")
app.add_typer(cases_cli.app, name="cases")
app.add_typer(dr_cli.app, name="dr")
app.add_typer(playbooks_cli.app, name="playbooks")
app.add_typer(exercise_cli.app, name="exercise")
app.add_typer(pdp_cli.app, name="pdp")
app.add_typer(gateway_cli.app, name="gateway")
app.add_typer(rules_cli.app, name="rules")
app.add_typer(procurement_cli.app, name="procurement")
app.add_typer(segmentation_cli.app, name="segmentation")
app.add_typer(assets_cli.app, name="assets")
app.add_typer(patch_plan_cli.app, name="patch-plan")
app.command("evaluate")(evaluate_command)
app.command("vulns")(vulns_command)
app.command("serve")(web_cli.serve_command)
app.command("watch")(watch_cli.watch_command)
app.add_typer(web_cli.users_app, name="users")
app.add_typer(web_cli.audit_app, name="audit")
app.add_typer(backup_cli.app, name="backup")


def _version(value: bool) -> None:
    if value:
        console.print(f"carewarden {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    """Carewarden: one installable security system for a hospital."""


@app.command()
def status(store: StoreOption = None, quiet: QuietOption = False) -> None:
    """What the store holds: tables and row counts, sources ingested, quarantined records."""
    with open_store(store, read_only=True) as opened:
        figures = overview(opened)
    render_status(figures)


def render_status(figures: Overview) -> None:
    console.print(f"[bold]Store[/] {figures.store_path} (schema version {figures.schema_version})")
    tables = Table(title="tables", show_edge=False)
    tables.add_column("table")
    tables.add_column("rows", justify="right")
    for name, count in figures.tables.items():
        tables.add_row(name, f"{count:,}")
    console.print(tables)
    first, last = figures.access_span
    if first and last:
        console.print(f"EHR accesses from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC")
    sources = Table(title="sources ingested", show_edge=False)
    for column in ("kind", "file", "records", "duplicates", "quarantined", "ingested (UTC)"):
        sources.add_column(
            column, justify="right" if column in ("records", "quarantined") else "left"
        )
    for s in figures.sources[-30:]:
        sources.add_row(
            s.kind,
            s.path,
            f"{s.records:,}",
            f"{s.duplicates:,}",
            f"{s.quarantined:,}",
            f"{s.ingested_at:%Y-%m-%d %H:%M:%S}",
        )
    if len(figures.sources) > 30:
        console.print(f"(showing the last 30 of {len(figures.sources)} source files)")
    console.print(sources)
    if figures.quarantine_by_error:
        quarantine = Table(title="quarantined records by reason", show_edge=False)
        quarantine.add_column("reason")
        quarantine.add_column("records", justify="right")
        for reason, count in figures.quarantine_by_error:
            quarantine.add_row(reason, f"{count:,}")
        console.print(quarantine)


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the hospital's exports to.")],
    beds: Annotated[
        int, typer.Option(min=5, help="Hospital size; scales staff, patients, accesses.")
    ] = 200,
    days: Annotated[int, typer.Option(min=1, help="Days of activity to simulate.")] = 7,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 1,
    format: Annotated[
        str, typer.Option("--format", help="fhir (AuditEvent NDJSON) or csv (access_log.csv).")
    ] = "fhir",
    violation_rate: Annotated[
        float, typer.Option(min=0.0, help="Multiplier on the planted-violation rates.")
    ] = 1.0,
    staff: Annotated[int | None, typer.Option(help="Override the workforce size.")] = None,
    patients: Annotated[int | None, typer.Option(help="Override the number of patients.")] = None,
    accesses_per_day: Annotated[int | None, typer.Option(help="Override accesses per day.")] = None,
    fleet: Annotated[
        Path | None,
        typer.Option(
            "--fleet",
            help="Also write the connected-device fleet (Zeek logs, SBOMs, advisories, "
            "site_network.yaml, devices_truth.jsonl) to this folder.",
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Generate a synthetic hospital (FHIR NDJSON or CSV) with labelled violations, and with
    --fleet its connected devices and their network telemetry."""
    from carewarden.synth import SynthConfig, generate
    from carewarden.synth.fleet import generate_fleet

    if format not in ("fhir", "csv"):
        raise typer.BadParameter("use fhir or csv", param_hint="--format")
    config = SynthConfig(
        beds=beds,
        days=days,
        seed=seed,
        format="csv" if format == "csv" else "fhir",
        violation_rate=violation_rate,
        staff=staff,
        patients=patients,
        accesses_per_day=accesses_per_day,
    )
    with progress_bar(show_progress(quiet), "synthesizing", days) as update:
        result = generate(out, config, lambda done, total: update(completed=done, total=total))
    if not quiet:
        console.print(
            f"Wrote {result.accesses:,} accesses, {result.patients:,} patients, "
            f"{result.staff:,} staff, {result.encounters:,} encounters and "
            f"{result.violations:,} labelled violations to [bold]{result.out_dir}[/] "
            f"(labels: {result.labels_path})"
        )
    if fleet is not None:
        devices = generate_fleet(fleet, config)
        if not quiet:
            console.print(
                f"Wrote {devices.devices:,} devices' telemetry, SBOMs and advisories to "
                f"[bold]{devices.out_dir}[/] (truth: {devices.truth_path})"
            )


@app.command()
def detect(
    store: StoreOption = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            help="The site's time zone (IANA), recorded in the store on first use "
            "(default UTC); alerts are per site day.",
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option("--policy", help="Privacy policy YAML (default: the shipped policy)."),
    ] = None,
    cases_config: CasesConfigOption = None,
    window: WindowOption = None,
    quiet: QuietOption = False,
) -> None:
    """Explain every access, run every detection (reruns add no duplicate alerts), and group
    the new alerts into cases by entity and time. While a console server holds the store,
    the run is handed to it (with the store's policy and case settings)."""
    from carewarden.errors import StoreBusyError
    from carewarden.services.detect import detect as run_detection

    with user_errors():
        settings = load_case_settings(cases_config, window=window)
    custom = policy is not None or cases_config is not None or window is not None
    try:
        opened = Store.open(store_path(store))
    except StoreBusyError as exc:
        job = None if custom else web_cli.delegate_detect(store_path(store), tz, quiet)
        if job is None:
            fail(
                f"{exc} (--policy, --cases-config and --window cannot be handed to a running "
                "server)"
                if custom
                else str(exc)
            )
        summary = job["summary"]
        if not quiet:
            console.print(
                f"[bold]{summary['new_alerts']:,}[/] new alerts, "
                f"{summary['total_alerts']:,} in all."
            )
        if summary["failures"]:
            raise typer.Exit(EXIT_FINDINGS) from None
        return
    except CarewardenError as exc:
        fail(str(exc))
    with opened, user_errors():
        result = run_detection(opened, policy=policy, site_tz=tz, cases=settings)
    summary = result.alerts
    gateway = result.gateway_audit
    for failure in gateway.failed:
        console.print(f"[red]gateway audit spool not ingested:[/] {failure}", highlight=False)
    if gateway.events and not quiet:
        console.print(f"Ingested {gateway.events:,} FHIR gateway audit records "
                      f"({gateway.accesses:,} patient accesses).")
    for detector_id, error in summary.failures.items():
        console.print(f"[red]detector {detector_id} failed:[/] {error}", highlight=False)
    if not quiet:
        render_explained(result.explained)
        for detector_id, added in summary.by_detector.items():
            console.print(f"{detector_id}: {added:,} new alert(s)")
        console.print(
            f"[bold]{summary.new_alerts:,}[/] new alerts, {summary.total_alerts:,} in all."
        )
        if result.assets is not None and result.assets.devices:
            by_class = ", ".join(f"{k} {v:,}" for k, v in result.assets.by_class.most_common())
            console.print(
                f"Device inventory: {result.assets.devices:,} devices ({by_class}); "
                "`carewarden assets list`.",
                highlight=False,
            )
        plan = result.patch_plan
        if plan is not None:
            console.print(
                f"Patch plan: {len(plan.items):,} item(s), {plan.overdue:,} overdue "
                "(snapshot recorded; `carewarden patch-plan`).",
                highlight=False,
            )
        render_correlation(result.cases)


def render_explained(explained: ExplainSummary) -> None:
    console.print(
        f"Explained [bold]{explained.explained_share:.1%}[/] of {explained.accesses:,} accesses "
        "by a documented relationship."
    )
    table = Table(show_edge=False)
    table.add_column("reason")
    table.add_column("accesses", justify="right")
    table.add_column("share", justify="right")
    for reason, count in explained.by_reason.most_common():
        table.add_row(reason, f"{count:,}", f"{count / max(1, explained.accesses):.1%}")
    console.print(table)
    roles = explained.roles
    if roles and roles.unmapped:
        console.print("[yellow]Role codes not mapped to a category[/] (extend the policy):")
        for key, count in sorted(
            roles.unmapped.items(),
            key=lambda item: (-roles.unmapped_accesses.get(item[0], (0, 0))[1], -item[1]),
        )[:20]:
            system, code, display = key
            accesses, unexplained = roles.unmapped_accesses.get(key, (0, 0))
            console.print(
                f"  {system or '-'}|{code or '-'} {display!r}: {count} role(s), "
                f"{accesses:,} accesses, {unexplained:,} of them unexplained"
            )


ALERT_FIELDS = (
    "id",
    "rule_id",
    "title",
    "severity",
    "score",
    "user_id",
    "patient_id",
    "first_seen",
    "last_seen",
    "event_ids",
    "explanation",
    "mapping",
    "status",
    "host",
    "author",
    "reference",
)


@app.command()
def alerts(
    store: StoreOption = None,
    format: Annotated[str, typer.Option("--format", help="table, jsonl or csv.")] = "table",
    min_score: Annotated[int, typer.Option("--min-score", min=0, max=100)] = 0,
    limit: Annotated[
        int, typer.Option(help="At most this many, highest score first (0: all).")
    ] = 0,
) -> None:
    """Print alerts, highest score first."""
    if format not in ("table", "jsonl", "csv"):
        fail("--format must be table, jsonl or csv", EXIT_USAGE)
    with open_store(store, read_only=True) as opened:
        rows = opened.arrow(
            "SELECT alert_id AS id, rule_id, title, severity, score, user_id, patient_id, "
            "first_seen, last_seen, event_ids, explanation, mapping, status, host, author, "
            "reference FROM alert "
            "WHERE score >= ? ORDER BY score DESC, first_seen, alert_id"
            + (f" LIMIT {int(limit)}" if limit else ""),
            [min_score],
        ).to_pylist()
    if format == "jsonl":
        for row in rows:
            sys.stdout.write(orjson.dumps(_jsonable(row)).decode() + "\n")
    elif format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=ALERT_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()})
    else:
        table = Table(show_edge=False)
        for column in ("score", "severity", "first seen (UTC)", "user", "patient", "explanation"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                str(row["score"]),
                row["severity"],
                f"{row['first_seen']:%Y-%m-%d %H:%M}",
                row["user_id"] or "",
                row["patient_id"] or "",
                row["explanation"],
            )
        console.print(table)
        console.print(f"{len(rows):,} alert(s)")


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() + "Z" if isinstance(v, dt.datetime) else v) for k, v in row.items()}


investigate_app = typer.Typer(
    help="Access timelines with each access's explanation, for a user or a patient.",
    no_args_is_help=True,
)
app.add_typer(investigate_app, name="investigate")


def _investigate(
    kind: Literal["user", "patient"],
    subject_id: str,
    store: Path | None,
    tz: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    format: str,
) -> None:
    from carewarden.services.investigate import UNEXPLAINED, timeline

    if format not in ("table", "jsonl"):
        fail("--format must be table or jsonl", EXIT_USAGE)
    if tz is None:
        with open_store(store, read_only=True) as opened:
            tz = opened.setting("site_tz") or "UTC"
    try:
        zone = ZoneInfo(tz)
        bounds = [
            dt.datetime.fromisoformat(v)
            .replace(tzinfo=zone)
            .astimezone(dt.UTC)
            .replace(tzinfo=None)
            if v
            else None
            for v in (since, until)
        ]
    except (ZoneInfoNotFoundError, ValueError) as exc:
        fail(f"bad --tz, --since or --until: {exc}", EXIT_USAGE)
    with open_store(store, read_only=True) as opened, user_errors():
        found = timeline(opened, kind, subject_id, since=bounds[0], until=bounds[1], limit=limit)
    if format == "jsonl":
        for row in found.rows:
            sys.stdout.write(orjson.dumps(_jsonable(row)).decode() + "\n")
        return
    subject = found.subject
    title = ", ".join(
        f"{k.replace('_', ' ')}: {v:%Y-%m-%d}"
        if isinstance(v, dt.date)
        else f"{k.replace('_', ' ')}: {v}"
        for k, v in subject.items()
        if v is not None and k not in ("user_id", "patient_id")
    )
    console.print(f"[bold]{kind} {subject_id}[/] {title}", highlight=False)
    table = Table(show_edge=False)
    other = "patient" if kind == "user" else "user"
    for column in (
        f"time ({tz})",
        other,
        "action",
        "workstation",
        "purpose",
        "explanation",
        "alerts",
    ):
        table.add_column(column)
    for row in found.rows:
        when = row["time"].replace(tzinfo=dt.UTC).astimezone(zone)
        explanation = row["explanation"]
        shown = f"[bold red]{explanation}[/]" if explanation == UNEXPLAINED else explanation
        purpose = row["purpose"] or ""
        if row["purpose_text"]:
            purpose += f": {row['purpose_text']}"
        table.add_row(
            f"{when:%Y-%m-%d %H:%M}",
            f"{row[f'{other}_name']} ({row[f'{other}_id']})",
            row["action"] or "",
            row["workstation"] or "",
            purpose,
            shown,
            ", ".join(row["alerts"] or []),
        )
    console.print(table)
    shown_rows = len(found.rows)
    more = f" (showing {shown_rows}; use --limit)" if shown_rows < found.total else ""
    console.print(f"{found.total:,} access(es){more}")


TzOption = Annotated[
    str | None,
    typer.Option("--tz", help="Time zone to show times in (default: the site's, else UTC)."),
]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="From this local time (ISO), e.g. 2026-03-01.")
]
UntilOption = Annotated[str | None, typer.Option("--until", help="Before this local time.")]
LimitOption = Annotated[int, typer.Option("--limit", min=1, help="At most this many rows.")]
FormatOption = Annotated[str, typer.Option("--format", help="table or jsonl.")]


@investigate_app.command("user")
def investigate_user(
    user_id: Annotated[str, typer.Argument(help="The user id (FHIR Practitioner id).")],
    store: StoreOption = None,
    tz: TzOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: LimitOption = 500,
    format: FormatOption = "table",
) -> None:
    """Every chart a user opened, each with its explanation or UNEXPLAINED."""
    _investigate("user", user_id, store, tz, since, until, limit, format)


@investigate_app.command("patient")
def investigate_patient(
    patient_id: Annotated[str, typer.Argument(help="The patient id (FHIR Patient id).")],
    store: StoreOption = None,
    tz: TzOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: LimitOption = 500,
    format: FormatOption = "table",
) -> None:
    """Everyone who opened a patient's chart, each access with its explanation."""
    _investigate("patient", patient_id, store, tz, since, until, limit, format)


@app.command()
def demo(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for the hospital, the store and the report "
            "(default: a new temporary folder).",
        ),
    ] = None,
    store: StoreOption = None,
    beds: Annotated[int, typer.Option(min=5)] = 200,
    days: Annotated[int, typer.Option(min=1)] = 7,
    seed: Annotated[int, typer.Option()] = 1,
    quiet: QuietOption = False,
) -> None:
    """Synthesize a ~200-bed hospital for 7 days, ingest it, detect, and write an HTML report.

    Nothing to start, nothing to configure. The store goes to OUT/store unless --store is given.
    """
    from carewarden.services.demo import run_demo
    from carewarden.synth import SynthConfig

    folder = out or Path(tempfile.mkdtemp(prefix="carewarden-demo-"))
    store_dir = store if store is not None else folder / "store"
    config = SynthConfig(beds=beds, days=days, seed=seed)
    with progress_bar(show_progress(quiet), "demo", days) as update, user_errors():
        result = run_demo(
            folder,
            store_dir,
            config,
            step=lambda name: update(description=name),
            synth_progress=lambda done, total: update(completed=done, total=total),
        )
    if quiet:
        console.print(str(result.report))
        return
    figures = result.overview
    console.rule("[bold]Carewarden demo")
    console.print(
        f"Synthetic hospital: {result.synth.staff:,} staff, {result.synth.patients:,} patients, "
        f"{result.synth.encounters:,} encounters, {days} days (seed {seed})."
    )
    console.print(
        f"Ingested [bold]{result.ingest.total('records'):,}[/] records "
        f"({figures.tables['ehr_access']:,} EHR accesses) from {len(result.ingest.files)} files; "
        f"{result.ingest.total('quarantined'):,} quarantined."
    )
    if result.intrusion is not None:
        records = sum(summary.total("records") for summary in result.telemetry)
        hits = ", ".join(f"{h.host} ({len(h.findings)} rules)" for h in figures.endpoint)
        console.print(
            f"Endpoint and network telemetry: {records:,} Windows and Zeek records from "
            f"{len(result.intrusion.hosts)} hosts, with an injected ransomware intrusion; "
            f"Sigma findings (built-in SigmaHQ pack): {hits or 'none'}.",
            highlight=False,
        )
    by_rule = Table(title="alerts by rule", show_edge=False)
    for column in ("rule", "title", "severity", "alerts"):
        by_rule.add_column(column, justify="right" if column == "alerts" else "left")
    for rule_id, title, severity, count in figures.alerts_by_rule:
        by_rule.add_row(rule_id, title, severity, f"{count:,}")
    if not figures.alerts_by_rule:
        by_rule.add_row("(none)", "", "", "0")
    console.print(by_rule)
    render_explained(result.detect.explained)
    if figures.assets_by_class:
        inventory = Table(title="devices by class", show_edge=False)
        for column in ("class", "devices", "mean confidence"):
            inventory.add_column(column, justify="left" if column == "class" else "right")
        for c in figures.assets_by_class:
            inventory.add_row(c.cls, f"{c.devices:,}", f"{c.mean_confidence:.2f}")
        console.print(inventory)
    plan = figures.patch_plan
    if plan is not None and plan.top_items:
        first = plan.top_items[0]
        console.print(
            f"Patch plan: {plan.items:,} item(s), {plan.kev_items:,} KEV, {plan.overdue:,} "
            f"overdue; first: {first.vuln_id} on {first.devices:,} {first.target} "
            f"(risk {first.risk}, due {first.due:%Y-%m-%d}) (`carewarden patch-plan`).",
            highlight=False,
        )
    users = Table(title="privacy cases: top users by risk", show_edge=False)
    for column in ("case", "user", "risk", "alerts", "patients", "days", "rules"):
        users.add_column(column, justify="left" if column in ("case", "user", "rules") else "right")
    for u in figures.top_users:
        users.add_row(
            u.case_id,
            f"{u.name} ({u.user_id})",
            str(u.risk),
            str(u.alerts),
            str(u.patients),
            str(u.days),
            ", ".join(r.removeprefix("privacy.") for r in u.rules),
        )
    console.print(users)
    if figures.top_users and figures.top_users[0].explanations:
        console.print(f"Top case: {figures.top_users[0].explanations[0]}", highlight=False)
    ready = figures.preparedness
    if ready is not None:
        console.print(
            f"Cases: {ready.open_count:,} open, {len(ready.overdue):,} overdue task(s) "
            "(`carewarden cases list`).",
            highlight=False,
        )
    dr = figures.dr
    if dr is not None:
        not_ready = [s.system for s in dr.systems if not s.ready]
        console.print(
            f"DR readiness: {len(dr.ready)} of {len(dr.systems)} systems ready"
            + (f", not ready: {', '.join(not_ready)}" if not_ready else "")
            + f" (`carewarden dr status --at {dr.at:%Y-%m-%dT%H:%M}Z`).",
            highlight=False,
        )
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
    console.print(f"Timings: {timing}.")
    console.print(f"Store: {store_path(store_dir)}")
    console.print(f"[bold green]Report:[/] {result.report}")
    if result.detect.alerts.failures:
        raise typer.Exit(EXIT_FINDINGS)


if __name__ == "__main__":  # pragma: no cover
    app()
