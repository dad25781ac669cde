"""Privacy detection speed on a large synthetic hospital, against a plain DuckDB join.

    python bench/privacy.py [--accesses 10000000] [--staff 5000] [--patients 200000]
                            [--days 14] [--workdir DIR]

Generates the hospital (FHIR NDJSON), ingests it, then times ``detect`` (access explanations
and every rule) and, in the same run, one plain DuckDB scan + hash join of the access table
with the encounters (the floor any explanation must pay), and prints accesses/s, the ratio and
the peak memory of the detect process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from carewarden.connectors.fhir import FhirConnector
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.synth import SynthConfig, generate

CHILD = """
import sys, time
from pathlib import Path
from carewarden.services.detect import detect
from carewarden.store import Store
with Store.open(Path(sys.argv[1])) as store:
    started = time.perf_counter()
    run = detect(store, site_tz="America/Chicago")
    elapsed = time.perf_counter() - started
print(elapsed, run.explained.accesses, run.explained.explained, run.alerts.total_alerts,
      ",".join(f"{k}={v:.2f}" for k, v in run.seconds.items()))
"""

JOIN = """
SELECT count(*) FROM ehr_access a JOIN encounter e ON e.patient_id = a.patient_id
WHERE a.time BETWEEN e.period_start AND coalesce(e.period_end, TIMESTAMP '9999-12-31')
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accesses", type=int, default=10_000_000)
    parser.add_argument("--staff", type=int, default=5000)
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="carewarden-bench-privacy-"))
    data, store_dir = work / "hospital", work / "store"
    if not (data / "labels.jsonl").exists():
        started = time.perf_counter()
        result = generate(
            data,
            SynthConfig(
                days=args.days,
                seed=11,
                staff=args.staff,
                patients=args.patients,
                accesses_per_day=args.accesses // args.days,
            ),
        )
        print(f"generated {result.accesses:,} accesses in {time.perf_counter() - started:.0f} s")
    if not store_dir.exists():
        started = time.perf_counter()
        with Store.open(store_dir) as store:
            ingest(store, FhirConnector(timezone="America/Chicago"), [data])
        print(f"ingested in {time.perf_counter() - started:.0f} s")
    # detect runs on a copy of the ingested store, so every run starts with no alerts or cases
    run_dir = work / "store-detect"
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.copytree(store_dir, run_dir)

    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"detect failed: {output}")
    seconds, accesses, explained, alerts, phases = output.split()
    detect_s = float(seconds)

    con = duckdb.connect(str(run_dir / "carewarden.duckdb"), read_only=True)
    con.execute("SET enable_progress_bar = false")
    joins = []
    for _ in range(3):
        started = time.perf_counter()
        con.execute(JOIN).fetchall()
        joins.append(time.perf_counter() - started)
    con.close()
    join_s = sorted(joins)[1]
    n = int(accesses)
    print(f"\naccesses            {n:,}")
    print(f"explained           {int(explained) / n:.2%}")
    print(f"alerts              {int(alerts):,} ({int(alerts) / n * 1000:.2f} per 1,000 accesses)")
    print(f"detect              {detect_s:.1f} s = {n / detect_s:,.0f} accesses/s")
    for phase in phases.split(","):
        name, value = phase.split("=")
        print(f"  {name:<18}{float(value):.1f} s")
    print(f"scan + hash join    {join_s:.2f} s (median of 3)")
    print(f"detect / join       {detect_s / join_s:.1f}x")
    print(f"detect peak RSS     {usage.ru_maxrss / 1024:,.0f} MiB")
    print(f"files in {work}")


if __name__ == "__main__":
    main()
