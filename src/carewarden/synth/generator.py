"""Orchestration: population -> encounters -> planned violations -> day-by-day event stream."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from carewarden.synth.access import AccessGenerator
from carewarden.synth.clinical import build_clinical
from carewarden.synth.clock import SiteClock, day_number
from carewarden.synth.config import SynthConfig, SynthResult, derive_scale
from carewarden.synth.dr import write_inventory
from carewarden.synth.population import Rosters, build_population
from carewarden.synth.violations import plan_counts, plan_violations, violation_events
from carewarden.synth.writers import EventWriter, write_context, write_labels


def generate(out_dir: Path, config: SynthConfig,
             progress: Callable[[int, int], None] | None = None) -> SynthResult:
    """Generate a synthetic hospital into ``out_dir`` (created if missing).

    Deterministic: the same config writes byte-identical files. Events are produced and
    written one site-local day at a time; only people and encounters stay in memory.
    """
    if config.format not in ("fhir", "csv"):
        raise ValueError(f"unknown format {config.format!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scale = derive_scale(config)
    counts = plan_counts(config.seed, scale.staff, scale.days, config.violation_rate)
    clock = SiteClock(config.site_tz, config.start, config.days)
    pop = build_population(config.seed, scale, config.start,
                           min_terminated=2 * counts["terminated"] + 2)
    rosters = Rosters(pop, config.start)
    clin = build_clinical(config.seed, pop, scale, config.beds, config.start, clock, rosters)
    viols = plan_violations(config.seed, pop, clin, clock, config.start, config.days, counts)
    by_day = violation_events(viols, clock)
    files = write_context(out_dir, pop, clin, clock)
    gen = AccessGenerator(config.seed, pop, clin, rosters, clock, scale.accesses_per_day)
    writer = EventWriter(out_dir, config.format, pop, clock)
    labels: dict[int, list[str]] = {}
    start_dn = day_number(config.start)
    try:
        for k in range(config.days):
            dn = start_dn + k
            events = gen.day(dn)
            events.extend(by_day.pop(dn, ()))
            writer.write_day(events, labels)
            del events
            rosters.drop_before(dn)
            if progress is not None:
                progress(k + 1, config.days)
    finally:
        writer.close()
    files.append(writer.path)
    rows: list[dict[str, Any]] = []
    for vi, v in enumerate(viols):
        ids = labels.get(vi, [])
        if not ids:
            continue
        rows.append({"kind": v.kind, "user": pop.staff[v.user].pid,
                     "patients": [pop.patients[p].pid for p in v.patients],
                     "event_ids": ids,
                     "start": clock.fmt_utc(v.events[0][0]),
                     "end": clock.fmt_utc(v.events[-1][0]),
                     "repeat": v.repeat})
    labels_path = out_dir / "labels.jsonl"
    write_labels(labels_path, rows)
    files.append(labels_path)
    dr_inventory = write_inventory(out_dir, config)
    files.append(dr_inventory)
    return SynthResult(out_dir=out_dir, files=files, accesses=writer.count,
                       patients=len(pop.patients), staff=len(pop.staff),
                       encounters=len(clin.encounters), violations=len(rows),
                       labels_path=labels_path, dr_inventory=dr_inventory)
