"""`carewarden demo`: synthesize a hospital and its device fleet, ingest them and the
backup inventory, run every detection, write a report.

The synthetic data describe a fixed past period, so disaster-recovery readiness is assessed
as of the inventory's own time (the morning after the period), not today."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from carewarden.connectors.fhir import FhirConnector
from carewarden.iomt.connectors import AdvisoryConnector, SbomConnector
from carewarden.report.html import render_report
from carewarden.services.assets import configure, load_network
from carewarden.services.detect import DetectionRun, detect
from carewarden.services.dr import ImportResult, import_inventory
from carewarden.services.ingest import IngestSummary, ingest
from carewarden.services.overview import Overview, overview
from carewarden.services.vulns import MatchSummary, match
from carewarden.store import Store
from carewarden.synth import SynthConfig, SynthResult, generate
from carewarden.synth.fleet import FleetResult, generate_fleet
from carewarden.telemetry.zeek import ZeekConnector

# step(name) is called as each stage starts; synth_progress(done_days, total_days)
Step = Callable[[str], None]


@dataclass
class DemoResult:
    synth: SynthResult
    ingest: IngestSummary
    detect: DetectionRun
    overview: Overview
    report: Path
    seconds: dict[str, float] = field(default_factory=dict)
    dr: ImportResult | None = None
    fleet: FleetResult | None = None
    network: list[IngestSummary] = field(default_factory=list)  # Zeek, SBOMs, advisories
    vulns: MatchSummary | None = None


def run_demo(
    out_dir: Path,
    store_dir: Path,
    config: SynthConfig,
    step: Step | None = None,
    synth_progress: Callable[[int, int], None] | None = None,
    *,
    fleet: bool = True,
) -> DemoResult:
    """The demo in ``out_dir`` (``hospital/``, ``network/`` with the device fleet unless
    ``fleet`` is False, ``report.html``) with its store in ``store_dir``."""
    seconds: dict[str, float] = {}

    def stage(name: str) -> float:
        if step:
            step(name)
        return time.perf_counter()

    started = stage("synthesizing the hospital")
    synth = generate(out_dir / "hospital", config, synth_progress)
    seconds["synthesize"] = time.perf_counter() - started
    devices: FleetResult | None = None
    if fleet:
        started = stage("synthesizing the device fleet")
        devices = generate_fleet(out_dir / "network", config)
        seconds["fleet"] = time.perf_counter() - started

    with Store.open(store_dir) as store:
        started = stage("ingesting FHIR")
        ingested = ingest(store, FhirConnector(timezone=config.site_tz), [synth.out_dir])
        dr = None
        if synth.dr_inventory is not None:
            dr = import_inventory(store, synth.dr_inventory)
        seconds["ingest"] = time.perf_counter() - started
        dr_at = dr.snapshot.taken_at if dr else None
        network: list[IngestSummary] = []
        vulns: MatchSummary | None = None
        if devices is not None:
            started = stage("ingesting network telemetry, SBOMs and advisories")
            folder = devices.out_dir
            network.append(ingest(store, ZeekConnector(), [folder / "zeek"]))
            network.append(ingest(store, SbomConnector(), [folder / "sbom"]))
            network.append(ingest(store, AdvisoryConnector(), [folder / "advisories"]))
            configure(store, load_network(devices.network_path), None)
            vulns = match(store)
            seconds["network"] = time.perf_counter() - started

        started = stage("running detections")
        detected = detect(store, site_tz=config.site_tz, dr_at=dr_at)
        seconds["detect"] = time.perf_counter() - started

        started = stage("writing the report")
        figures = overview(store, dr_at=dr_at)
        report = out_dir / "report.html"
        report.write_text(
            render_report(figures, title="Carewarden demo: synthetic hospital"), "utf-8"
        )
        seconds["report"] = time.perf_counter() - started
    return DemoResult(
        synth, ingested, detected, figures, report, seconds, dr, devices, network, vulns
    )
