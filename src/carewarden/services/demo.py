"""`carewarden demo`: synthesize a hospital, ingest it, run every detection, write a report."""

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
from carewarden.store import Store
from carewarden.synth import SynthConfig, SynthResult, generate

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

    with Store.open(store_dir) as store:
        started = stage("ingesting FHIR")
        ingested = ingest(store, FhirConnector(timezone=config.site_tz), [synth.out_dir])
        seconds["ingest"] = time.perf_counter() - started

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
    return DemoResult(synth, ingested, detected, figures, report, seconds)
