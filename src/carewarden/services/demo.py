"""`carewarden demo`: synthesize a hospital, ingest it, run every detection, write a report.

Beside the EHR data, the demo writes the Windows estate's endpoint and network telemetry with
an injected ransomware intrusion (:mod:`carewarden.synth.intrusion`), imports the built-in
Sigma pack and ingests the telemetry, so the report shows Sigma findings on a fresh clone."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from carewarden.connectors.fhir import FhirConnector
from carewarden.report.html import render_report
from carewarden.services.detect import DetectionRun, detect
from carewarden.services.ingest import IngestSummary, ingest
from carewarden.services.overview import Overview, overview
from carewarden.services.rules import import_builtin_rules
from carewarden.store import Store
from carewarden.synth import SynthConfig, SynthResult, generate
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
) -> DemoResult:
    seconds: dict[str, float] = {}

    def stage(name: str) -> float:
        if step:
            step(name)
        return time.perf_counter()

    started = stage("synthesizing the hospital")
    synth = generate(out_dir / "hospital", config, synth_progress)
    seconds["synthesize"] = time.perf_counter() - started

    started = stage("synthesizing endpoint and network telemetry")
    telemetry = synthesize_telemetry(out_dir, config)
    seconds["telemetry"] = time.perf_counter() - started

    with Store.open(store_dir) as store:
        started = stage("ingesting FHIR")
        ingested = ingest(store, FhirConnector(timezone=config.site_tz), [synth.out_dir])
        seconds["ingest"] = time.perf_counter() - started

        started = stage("ingesting endpoint and network telemetry")
        telemetry_ingested = ingest_telemetry(store, telemetry)
        seconds["ingest telemetry"] = time.perf_counter() - started

        started = stage("running detections")
        detected = detect(store, site_tz=config.site_tz)
        seconds["detect"] = time.perf_counter() - started

        started = stage("writing the report")
        figures = overview(store)
        report = out_dir / "report.html"
        report.write_text(
            render_report(figures, title="Carewarden demo: synthetic hospital"), "utf-8"
        )
        seconds["report"] = time.perf_counter() - started
    return DemoResult(
        synth, ingested, detected, figures, report, seconds, telemetry, telemetry_ingested
    )
