"""Ingest throughput and peak memory, against DuckDB's own raw scan of the same files.

    python bench/ingest.py [--events 5000000] [--repeat 1] [--workdir DIR]

Generates one synthetic hospital's accesses as FHIR AuditEvent NDJSON and as CSV (same
accesses), ingests each into a fresh store in a child process (so peak RSS is that of the
ingest alone), and prints events/s, peak memory, and the ratios to what DuckDB itself takes
in this run to scan the same file (``read_json`` / ``read_csv``) and to load it into a table.
Timings are medians over ``--repeat`` runs. Also times the structural FHIR validation
against full ``fhir.resources`` model validation on a sample of AuditEvents.
"""

from __future__ import annotations

import argparse
import os
import shutil
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
store = Store.open(store_dir)
started = time.perf_counter()
summary = ingest(store, connector, [path])
store.close()  # the command's user waits for the checkpoint at close too
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


def _source(kind: str, path: Path) -> tuple[list[str], str]:
    if kind == "fhir":
        return ["id", "recorded", "agent", "entity"], (
            f"read_json('{path}', format='newline_delimited')"
        )
    return ["event_id", "access_time", "user_id", "patient_id"], f"read_csv('{path}')"


def raw_scan(kind: str, path: Path) -> float:
    """Seconds for DuckDB to scan the file's key columns (what a bare query engine pays)."""
    columns, source = _source(kind, path)
    counts = ", ".join(f"count({c})" for c in columns)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    started = time.perf_counter()
    con.execute(f"SELECT count(*), {counts} FROM {source}").fetchall()
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def raw_load(kind: str, path: Path, work: Path) -> float:
    """Seconds for DuckDB to load the whole file, as it comes, into a table of a new database
    file: its own floor for landing the data (no validation, mapping or bookkeeping)."""
    _, source = _source(kind, path)
    db = work / f"raw-load-{kind}.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute("SET enable_progress_bar = false")
    started = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM {source}")
    con.close()
    elapsed = time.perf_counter() - started
    db.unlink(missing_ok=True)
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
        f"{'scan s':>7} {'x scan':>7} {'load s':>7} {'x load':>7}"
    )
    for fmt, path in files.items():
        timings, peaks, rows = [], [], 0
        for attempt in range(args.repeat):
            store_dir = work / f"store-{fmt}-{attempt}"
            shutil.rmtree(store_dir, ignore_errors=True)  # a --workdir used before has it
            seconds, rows, peak = run_child(fmt, store_dir, path)
            timings.append(seconds)
            peaks.append(peak)
        scans = [raw_scan(fmt, path) for _ in range(args.repeat)]
        loads = [raw_load(fmt, path, work) for _ in range(args.repeat)]
        ingest_s = statistics.median(timings)
        scan_s, load_s = statistics.median(scans), statistics.median(loads)
        print(
            f"{fmt:6} {rows:>11,} {ingest_s:>9.2f} {rows / ingest_s:>11,.0f} "
            f"{max(peaks):>9.0f} {scan_s:>7.2f} {ingest_s / scan_s:>7.2f} "
            f"{load_s:>7.2f} {ingest_s / load_s:>7.2f}"
        )
    print(
        "scan: DuckDB counting the file's key columns; load: DuckDB's CREATE TABLE AS of the "
        "whole file into a new database file (no validation, mapping or de-duplication)."
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
