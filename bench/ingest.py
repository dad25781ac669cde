"""Ingest throughput and peak memory, against DuckDB's own raw scan of the same files.

    python bench/ingest.py [--events 5000000] [--repeat 1] [--workdir DIR]

Generates one synthetic hospital's accesses as FHIR AuditEvent NDJSON and as CSV (same
accesses), ingests each into a fresh store in a child process (so peak RSS is that of the
ingest alone), and prints events/s, peak memory, the time DuckDB's ``read_json`` /
``read_csv`` take to scan the same file in this run, and the ratio. Timings are medians over
``--repeat`` runs. Also times the structural FHIR validation against full ``fhir.resources``
model validation on a sample of AuditEvents.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from carewarden.connectors.fhir import FhirConnector
from carewarden.synth import SynthConfig, generate

CHILD = """
import sys, time
from pathlib import Path
from carewarden.connectors.access_csv import AccessCsvConnector, AccessCsvMapping
from carewarden.connectors.fhir import FhirConnector
from carewarden.services.ingest import ingest
from carewarden.store import Store
kind, store_dir, path = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
connector = (FhirConnector() if kind == "fhir"
             else AccessCsvConnector(AccessCsvMapping.load(Path("synthetic"))))
with Store.open(store_dir) as store:
    started = time.perf_counter()
    summary = ingest(store, connector, [path])
    elapsed = time.perf_counter() - started
print(elapsed, summary.tables["ehr_access"], summary.total("quarantined"))
"""


def run_child(kind: str, store_dir: Path, path: Path) -> tuple[float, int, float]:
    """(seconds, rows stored, peak RSS MiB) of one ingest in a fresh process."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, kind, str(store_dir), str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"ingest child failed ({status}): {output}")
    seconds, rows, quarantined = output.splitlines()[-1].split()
    if int(quarantined):
        raise SystemExit(f"{quarantined} records quarantined: the generator wrote bad data")
    return float(seconds), int(rows), usage.ru_maxrss / 1024


def raw_scan(kind: str, path: Path) -> float:
    """Seconds for DuckDB to scan the file's columns (what a bare query engine pays)."""
    con = duckdb.connect()
    if kind == "fhir":
        sql = (
            "SELECT count(*), count(id), count(recorded), count(agent), count(entity) "
            f"FROM read_json('{path}', format='newline_delimited')"
        )
    else:
        sql = (
            "SELECT count(*), count(event_id), count(access_time), count(user_id), "
            f"count(patient_id) FROM read_csv('{path}')"
        )
    started = time.perf_counter()
    con.execute(sql).fetchall()
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def validation_ratio(path: Path, sample: int) -> tuple[float, float]:
    """AuditEvents/s of the default structural checks and of full fhir.resources validation."""
    head = path.parent / "sample.ndjson"
    with path.open("rb") as src, head.open("wb") as out:
        for _, line in zip(range(sample), src, strict=False):
            out.write(line)
    rates = []
    for connector in (FhirConnector(fast_path=False), FhirConnector(validate="full")):
        started = time.perf_counter()
        rows = sum(b.rows.num_rows for b in connector.read(head) if hasattr(b, "rows"))
        rates.append(rows / (time.perf_counter() - started))
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--validation-sample", type=int, default=20_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="carewarden-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    per_day = max(1, args.events // args.days)
    files = {}
    for fmt in ("fhir", "csv"):
        out = work / fmt
        if not (out / "labels.jsonl").exists():
            started = time.perf_counter()
            result = generate(
                out,
                SynthConfig(
                    beds=1000, days=args.days, seed=7, format=fmt, accesses_per_day=per_day
                ),
            )
            print(
                f"generated {result.accesses:,} accesses as {fmt} in "
                f"{time.perf_counter() - started:.0f} s"
            )
        files[fmt] = out / ("AuditEvent.ndjson" if fmt == "fhir" else "access_log.csv")

    print(
        f"\n{'format':6} {'events':>11} {'ingest s':>9} {'events/s':>11} {'peak MiB':>9} "
        f"{'raw scan s':>10} {'ingest/raw':>10}"
    )
    for fmt, path in files.items():
        timings, peaks, rows = [], [], 0
        for attempt in range(args.repeat):
            seconds, rows, peak = run_child(fmt, work / f"store-{fmt}-{attempt}", path)
            timings.append(seconds)
            peaks.append(peak)
        scans = [raw_scan(fmt, path) for _ in range(args.repeat)]
        ingest_s, scan_s = statistics.median(timings), statistics.median(scans)
        print(
            f"{fmt:6} {rows:>11,} {ingest_s:>9.2f} {rows / ingest_s:>11,.0f} "
            f"{max(peaks):>9.0f} {scan_s:>10.2f} {ingest_s / scan_s:>10.2f}"
        )

    structural, full = validation_ratio(files["fhir"], args.validation_sample)
    print(
        f"\nFHIR validation on {args.validation_sample:,} AuditEvents (Python path): "
        f"structural {structural:,.0f}/s, fhir.resources {full:,.0f}/s, "
        f"{structural / full:.0f}x"
    )
    print(f"files in {work}")


if __name__ == "__main__":
    main()
