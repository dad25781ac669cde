"""`carewarden demo`: synthesize a hospital, ingest it and its backup inventory, run every
detection, write a report.

The synthetic data describe a fixed past period, so disaster-recovery readiness is assessed
as of the inventory's own time (the morning after the period), not today."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from carewarden.connectors.fhir import FhirConnector
from carewarden.report.html import render_report
from carewarden.services.detect import DetectionRun, detect
from carewarden.services.dr import ImportResult, import_inventory
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
    dr: ImportResult | None = None


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
        dr = None
        if synth.dr_inventory is not None:
            dr = import_inventory(store, synth.dr_inventory)
        seconds["ingest"] = time.perf_counter() - started
        dr_at = dr.snapshot.taken_at if dr else None

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
    return DemoResult(synth, ingested, detected, figures, report, seconds, dr)
