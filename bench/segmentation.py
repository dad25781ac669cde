"""Segmentation check over synthetic Zeek conn records.

    python bench/segmentation.py [--rows 1000000] [--runs 3] [--store DIR]

Writes ``--rows`` Zeek conn rows of a synthetic hospital into ``security_event`` (built in
DuckDB: pumps to their server, workstations to the EHR and the internet, monitors to the
central station, DNS, DICOM, HL7, and 2% violations: pumps reaching workstations on SSH and
the internet) and checks them against the shipped example policy ``--runs`` times. Prints
the distinct flows, the violations, the median time of the aggregation (DuckDB) and of the
evaluation (Python), connection records per second and the CPU time of the process (all
threads); then the time to build the alerts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from carewarden.iomt.segmentation import alerts, check
from carewarden.iomt.segmentation_policy import EXAMPLE_POLICY, SegmentationPolicy
from carewarden.store import Store

# h is a per-row hash; the row's kind (0-99) picks its traffic pattern.
FLOWS_SQL = """
INSERT INTO security_event (event_uid, time, channel, provider, class_uid, class_name,
                            src_ip, src_port, dst_ip, dst_port, status, raw, file_id)
WITH r AS (
    SELECT i, hash(i) AS h, hash(i) % 100 AS kind FROM range(?) t(i)
), e AS (
    SELECT i, h,
        CASE
            WHEN kind < 40 OR kind >= 98 THEN printf('10.20.%d.%d', h % 4, (h >> 8) % 250 + 1)
            WHEN kind < 70 THEN printf('10.40.%d.%d', h % 8, (h >> 8) % 250 + 1)
            WHEN kind < 80 THEN printf('10.21.%d.%d', h % 2, (h >> 8) % 250 + 1)
            WHEN kind < 90 THEN printf('10.40.%d.%d', h % 8, (h >> 8) % 250 + 1)
            WHEN kind < 95 THEN printf('10.22.0.%d', (h >> 8) % 50 + 1)
            ELSE printf('10.23.0.%d', (h >> 8) % 40 + 1)
        END AS src,
        CASE
            WHEN kind < 40 THEN '10.30.0.10'
            WHEN kind < 60 THEN printf('10.31.0.%d', (h >> 16) % 20 + 1)
            WHEN kind < 70 THEN printf('93.184.%d.%d', (h >> 16) % 20, (h >> 24) % 250 + 1)
            WHEN kind < 80 THEN '10.30.0.20'
            WHEN kind < 90 THEN '10.1.0.2'
            WHEN kind < 95 THEN '10.30.0.30'
            WHEN kind < 98 THEN '10.30.0.40'
            WHEN kind = 98 THEN printf('10.40.%d.%d', (h >> 16) % 8, (h >> 24) % 250 + 1)
            ELSE printf('198.51.100.%d', (h >> 16) % 250 + 1)
        END AS dst,
        CASE WHEN kind BETWEEN 70 AND 89 THEN 'udp' ELSE 'tcp' END AS proto,
        CASE
            WHEN kind < 70 THEN 443 WHEN kind < 80 THEN 5000 WHEN kind < 90 THEN 53
            WHEN kind < 95 THEN 104 WHEN kind < 98 THEN 2575 WHEN kind = 98 THEN 22 ELSE 443
        END AS dport,
        49152 + (h >> 32) % 16000 AS sport,
        (h >> 40) % 20000 AS ob, (h >> 44) % 90000 AS rb,
        1793491200 + i / 12.0 AS ts
    FROM r
)
SELECT 'zeek:bench' || i, to_timestamp(ts)::TIMESTAMP, 'zeek', 'zeek/conn', 4001,
       'network_activity', src, sport::VARCHAR, dst, dport::VARCHAR, 'SF',
       printf('{"_path":"conn","ts":%.6f,"uid":"C%d","id.orig_h":"%s","id.orig_p":%d,'
              '"id.resp_h":"%s","id.resp_p":%d,"proto":"%s","duration":0.5,'
              '"orig_bytes":%d,"resp_bytes":%d,"conn_state":"SF"}',
              ts, i, src, sport, dst, dport, proto, ob, rb),
       'bench'
FROM e
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--store", type=Path, help="store folder (default: a temporary one)")
    args = parser.parse_args()
    policy = SegmentationPolicy.load(EXAMPLE_POLICY)
    today = dt.date(2026, 11, 28)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.store or Path(tmp) / "store"
        with Store.open(folder) as store:
            started = time.perf_counter()
            store.query("DELETE FROM security_event WHERE file_id = 'bench'")
            store.query(FLOWS_SQL, [args.rows])
            print(f"wrote {args.rows:,} conn rows in {time.perf_counter() - started:.1f} s")
            aggregate, evaluate, total, cpu = [], [], [], []
            result = None
            for _ in range(args.runs):
                started, used = time.perf_counter(), time.process_time()
                result = check(store, policy, today=today)
                total.append(time.perf_counter() - started)
                cpu.append(time.process_time() - used)
                aggregate.append(result.seconds["aggregate"])
                evaluate.append(result.seconds["evaluate"])
            assert result is not None
            started = time.perf_counter()
            made = alerts(result, policy)
            built = time.perf_counter() - started
    median = statistics.median(total)
    print(
        f"{result.events:,} connections, {result.flows:,} distinct flows, "
        f"{len(result.violations):,} violating flows ({result.violating_events:,} connections)"
    )
    print(
        f"check: median {median:.2f} s of {args.runs} (aggregate {statistics.median(aggregate):.2f}"
        f" s, evaluate {statistics.median(evaluate):.2f} s): {result.events / median:,.0f} rows/s"
    )
    print(
        f"CPU time (all threads): median {statistics.median(cpu):.2f} s; the wall time above "
        "depends on how busy the machine is (see /proc/pressure/cpu)"
    )
    print(f"alerts: {len(made):,} built in {built:.2f} s")


if __name__ == "__main__":
    main()
