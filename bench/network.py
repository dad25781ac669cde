"""Suricata EVE and Zeek ingest throughput: records per second, parse alone and into a store.

    python bench/network.py [--records 500000] [--repeat 3] [--workdir DIR]

Writes a Suricata EVE file (flow, dns, http, tls and alert events) and a Zeek ``conn.log``
in TSV of ``--records`` records each, then times, per connector, the connector alone (lines
to Arrow batches of ``security_event``) and a full ingest into a fresh store (parse,
de-duplication by event id, DuckDB write). Figures are medians over ``--repeat`` runs, per
wall-clock second and per CPU-second of the process (DuckDB's threads count in the latter).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from carewarden.connectors.base import Connector
from carewarden.model import Batch
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.telemetry.suricata import SuricataConnector
from carewarden.telemetry.zeek import ZeekConnector

T0 = 1_740_787_200.0  # 2025-03-01 00:00 UTC


def _ip(rng: random.Random, inside: bool) -> str:
    if inside:
        return f"10.{rng.randrange(20, 90)}.{rng.randrange(1, 12)}.{rng.randrange(10, 250)}"
    first, last = rng.randrange(1, 223), rng.randrange(1, 255)
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{last}"


def eve_lines(count: int, rng: random.Random) -> list[bytes]:
    out: list[bytes] = []
    for n in range(count):
        second = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + n / 50))
        ts = f"{second}.{n % 1000000:06d}+0000"
        base = {
            "timestamp": ts, "flow_id": n, "in_iface": "eth1", "src_ip": _ip(rng, True),
            "src_port": 1024 + n % 60000, "dest_ip": _ip(rng, n % 3 == 0),
            "dest_port": (443, 53, 80, 104, 2575)[n % 5], "proto": "TCP",
        }  # fmt: skip
        kind = n % 10
        if kind < 5:
            base |= {"event_type": "flow", "flow": {"pkts_toserver": 9, "bytes_toserver": 812,
                                                    "state": "closed", "reason": "timeout"}}
        elif kind < 7:
            base |= {"event_type": "dns", "dns": {"type": "query", "rrname": f"h{n % 5000}.example",
                                                  "rrtype": "A"}}
        elif kind == 7:
            base |= {"event_type": "http", "http": {"hostname": f"s{n % 300}.example", "url": "/",
                                                    "status": 200, "http_user_agent": "x"}}
        elif kind == 8:
            base |= {"event_type": "tls",
                     "tls": {"sni": f"s{n % 300}.example", "version": "TLS 1.3"}}
        else:
            base |= {"event_type": "alert", "alert": {"action": "allowed", "signature_id": 2000000
                     + n % 50, "signature": f"ET POLICY test {n % 50}", "severity": 2}}
        out.append(orjson.dumps(base))
    return out


ZEEK_HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\t"
    "orig_bytes\tresp_bytes\tconn_state\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\n"
)


def zeek_lines(count: int, rng: random.Random) -> list[bytes]:
    return [
        (
            f"{T0 + n / 50:.6f}\tC{n:x}\t{_ip(rng, True)}\t{1024 + n % 60000}\t"
            f"{_ip(rng, n % 3 == 0)}\t{(443, 53, 80, 104, 2575)[n % 5]}\t"
            f"{'udp' if n % 5 == 1 else 'tcp'}\t-\t0.{n % 999:03d}\t{n % 9000}\t{n % 7000}\tSF"
        ).encode()
        for n in range(count)
    ]


def timed(work: Callable[[], int]) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    records = work()
    return time.perf_counter() - wall, time.process_time() - cpu, records


def parse_only(connector: Connector, path: Path) -> int:
    return sum(b.rows.num_rows for b in connector.read(path) if isinstance(b, Batch))


def into_store(connector: Connector, path: Path, store_dir: Path) -> int:
    with Store.open(store_dir) as store:
        return ingest(store, connector, [path]).total("records")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="cw-network-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    eve = work / "eve.json"
    eve.write_bytes(b"\n".join(eve_lines(args.records, rng)) + b"\n")
    conn = work / "conn.log"
    conn.write_bytes(ZEEK_HEADER.encode() + b"\n".join(zeek_lines(args.records, rng)) + b"\n")
    print(f"{args.records:,} records each; files in {work}")
    for name, connector, path in (
        ("Suricata EVE", SuricataConnector(), eve),
        ("Zeek conn TSV", ZeekConnector(), conn),
    ):
        for label in ("parse", "ingest"):
            walls: list[float] = []
            cpus: list[float] = []
            for attempt in range(args.repeat):
                store = work / f"store-{name.split()[0]}-{attempt}"

                def run(
                    c: Connector = connector, p: Path = path, s: Path = store, what: str = label
                ) -> int:
                    return parse_only(c, p) if what == "parse" else into_store(c, p, s)

                wall, cpu, n = timed(run)
                assert n == args.records, f"{name}: {n:,} records of {args.records:,}"
                walls.append(wall)
                cpus.append(cpu)
            print(f"{name:<14} {label:<7} {args.records / statistics.median(walls):>10,.0f} "
                  f"records/s wall, {args.records / statistics.median(cpus):>10,.0f} per "
                  f"CPU-second (median of {args.repeat})")  # fmt: skip


if __name__ == "__main__":
    main()
