"""Sigma end to end: parse EVTX + normalise + every compiled SigmaHQ Windows rule.

    python bench/sigma.py [--min-events 800000] [--workers 2] [--batch 50000]

Compiles the SigmaHQ Windows rules of ``../shared/corpora/sigma/rules/windows`` (rules
compiled / failed, with the reasons grouped), then streams the EVTX attack corpus
(``../shared/corpora/evtx/EVTX-ATTACK-SAMPLES``), its file list replicated until it holds at
least ``--min-events`` events, through the engine: ``evtx`` JSON parse, flatten, OCSF
normalisation, routing and rule evaluation, in ``--workers`` processes (each a share of the
files, batches of ``--batch`` events). Prints events, events/s, detections per rule and the
peak RSS of the parent and of the largest worker. Compilation is timed apart (it happens
once, at ``carewarden rules import``).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# ``sigma`` package (pySigma): take the folder off before importing it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

from carewarden.gcpolicy import bulk_allocation  # noqa: E402
from carewarden.services.rules import reason_group  # noqa: E402
from carewarden.sigma.compiler import CompiledRule, FileError, load  # noqa: E402
from carewarden.sigma.engine import SigmaEngine  # noqa: E402
from carewarden.telemetry.evtx import iter_events  # noqa: E402
from carewarden.telemetry.ocsf import classify, normalise  # noqa: E402
from carewarden.telemetry.winevent import WinEvent  # noqa: E402

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
RULES = CORPORA / "sigma" / "rules" / "windows"
SAMPLES = CORPORA / "evtx" / "EVTX-ATTACK-SAMPLES"


def run_worker(
    args: tuple[list[CompiledRule], list[Path], int],
) -> tuple[int, Counter[str], int, float]:
    """(events, detections per rule title, peak RSS in KiB, CPU seconds) for one share of
    the files."""
    rules, files, batch = args
    with bulk_allocation():  # as `carewarden ingest` and `detect` do
        return _work(rules, files, batch)


def _work(
    rules: list[CompiledRule], files: list[Path], batch: int
) -> tuple[int, Counter[str], int, float]:
    cpu = time.process_time()
    engine = SigmaEngine(rules)
    detections: Counter[str] = Counter()
    events = 0
    pending: list[WinEvent] = []

    def flush() -> None:
        for match in engine.evaluate(pending):
            detections[match.rule.title] += 1
        pending.clear()

    for path in files:
        for item in iter_events(path):
            if isinstance(item, tuple):
                event = item[0]
                classify(event)
                normalise(event)
                pending.append(event)
                events += 1
                if len(pending) >= batch:
                    flush()
    flush()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return events, detections, peak, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--min-events", type=int, default=800_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=50_000)
    options = parser.parse_args()
    if not RULES.exists() or not SAMPLES.exists():
        raise SystemExit(f"corpus not found under {CORPORA}")

    start = time.perf_counter()
    compiled = [r for r in load(RULES) if not isinstance(r, FileError)]
    ok = [r for r in compiled if r.ok]
    failed = [r for r in compiled if not r.ok]
    print(
        f"rules: {len(compiled):,} Windows rules, {len(ok):,} compiled "
        f"({len(ok) / len(compiled):.1%}), {len(failed):,} failed "
        f"({time.perf_counter() - start:.1f} s to compile)"
    )
    for reason, count in Counter(reason_group(r.error or "") for r in failed).most_common():
        print(f"  {count:5,} {reason}")
    anchored = sum(1 for r in ok if r.anchors is not None and r.python)
    print(
        f"  {anchored:,} rules anchored (candidates by key look-up), "
        f"{len(ok) - anchored:,} evaluated on every event of their log source"
    )

    files = sorted(SAMPLES.rglob("*.evtx"))
    per_pass = sum(1 for f in files for i in iter_events(f) if isinstance(i, tuple))
    copies = -(-options.min_events // per_pass)
    work = [f for _ in range(copies) for f in files]
    shares = [work[i :: options.workers] for i in range(options.workers)]
    print(
        f"input: {len(files)} EVTX files, {per_pass:,} events, replicated x{copies} "
        f"= {per_pass * copies:,} events; {options.workers} worker(s), "
        f"batches of {options.batch:,}"
    )

    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(options.workers) as pool:
        results = pool.map(run_worker, [(ok, share, options.batch) for share in shares])
    elapsed = time.perf_counter() - start
    events = sum(r[0] for r in results)
    detections: Counter[str] = Counter()
    for result in results:
        detections.update(result[1])
    print(
        f"events: {events:,} in {elapsed:.1f} s = {events / elapsed:,.0f} events/s "
        "end to end (parse + normalise + all compiled rules; includes engine set-up)"
    )
    cpu = sum(r[3] for r in results)
    print(
        f"CPU: {cpu:.1f} s in the workers = {events / cpu:,.0f} events per CPU-second "
        f"(x{options.workers} = {options.workers * events / cpu:,.0f} events/s on "
        f"{options.workers} idle cores; the wall figure above is lower on a shared machine)"
    )
    print(
        f"detections: {sum(detections.values()):,} by {len(detections):,} rules "
        f"({sum(detections.values()) // copies:,} per corpus pass)"
    )
    for title, count in detections.most_common(15):
        print(f"  {count:8,} {title}")
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = max(r[2] for r in results) / 1024
    print(f"peak RSS: parent {parent:,.0f} MiB, largest worker {worker:,.0f} MiB")


if __name__ == "__main__":
    main()
