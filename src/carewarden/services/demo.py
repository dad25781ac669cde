"""`carewarden demo`: synthesize a hospital, its device fleet and its Windows estate, ingest
them and the backup inventory, run every detection, write a report.

Beside the EHR data, the demo writes the estate's endpoint and network telemetry with an
injected ransomware intrusion (:mod:`carewarden.synth.intrusion`), imports the built-in Sigma
pack and ingests the telemetry, so the report shows Sigma findings on a fresh clone. The
synthetic data describe a fixed past period, so disaster-recovery readiness is assessed as of
the inventory's own time (the morning after the period), not today."""

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
from carewarden.services.rules import import_builtin_rules
from carewarden.services.segmentation import save_policy
from carewarden.services.vulns import MatchSummary, match
from carewarden.store import Store
from carewarden.synth import SynthConfig, SynthResult, generate
from carewarden.synth.fleet import FleetResult, generate_fleet
from carewarden.synth.intrusion import IntrusionConfig, IntrusionResult, generate_intrusion
from carewarden.telemetry.winjson import WinJsonConnector
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
    intrusion: IntrusionResult | None = None
    telemetry: list[IngestSummary] = field(default_factory=list)


def synthesize_telemetry(out_dir: Path, config: SynthConfig) -> IntrusionResult:
    """The estate's Windows and Zeek telemetry over the hospital's period, with the intrusion."""
    return generate_intrusion(
        out_dir / "telemetry",
        IntrusionConfig(
            seed=config.seed, start=config.start, days=config.days, site_tz=config.site_tz
        ),
    )


def ingest_telemetry(store: Store, telemetry: IntrusionResult) -> list[IngestSummary]:
    """Import the built-in Sigma pack, then ingest the Windows events and the Zeek logs."""
    import_builtin_rules(store)
    return [
        ingest(store, WinJsonConnector(), telemetry.windows_files),
        ingest(store, ZeekConnector(), telemetry.zeek_files),
    ]


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
    ``fleet`` is False, ``telemetry/`` with the Windows estate, ``report.html``) with its store
    in ``store_dir``."""
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

    started = stage("synthesizing endpoint and network telemetry")
    telemetry = synthesize_telemetry(out_dir, config)
    seconds["telemetry"] = time.perf_counter() - started

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
            if devices.policy_path is not None:  # saved: detect checks the flows
                save_policy(store, devices.policy_path)
            seconds["network"] = time.perf_counter() - started

        started = stage("ingesting endpoint and network telemetry")
        telemetry_ingested = ingest_telemetry(store, telemetry)
        seconds["ingest telemetry"] = time.perf_counter() - started

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
        synth,
        ingested,
        detected,
        figures,
        report,
        seconds,
        dr=dr,
        fleet=devices,
        network=network,
        vulns=vulns,
        intrusion=telemetry,
        telemetry=telemetry_ingested,
    )
