"""Access decision speed: in-process latency and HTTP decisions per second.

    python bench/pdp.py [--staff 5000] [--patients 200000] [--accesses 100000]
                        [--decisions 20000] [--seconds 10] [--connections 32] [--workdir DIR]

Generates a synthetic hospital (FHIR NDJSON) with ``--staff`` users and ``--patients``
patients, ingests it, loads the decision point (the store snapshot: relationship windows,
roles, patients, recent accesses), then times ``--decisions`` in-process decisions (p50/p99;
requests drawn from real accesses, so most have a relationship, and from random pairs) and,
with ``carewarden pdp serve`` in a child process, HTTP decisions per second over keep-alive
connections from an asyncio client in this process (both share the machine's cores).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from carewarden.access.decision import AccessRequest, DecisionPoint
from carewarden.connectors.fhir import FhirConnector
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.synth import SynthConfig, generate

DEVICE = {"managed": True, "encrypted": True, "patched": True, "patch_age_days": 4}


def build(work: Path, staff: int, patients: int, accesses: int) -> Path:
    data, store_dir = work / "hospital", work / "store"
    if not (data / "labels.jsonl").exists():
        started = time.perf_counter()
        result = generate(
            data,
            SynthConfig(days=2, seed=13, staff=staff, patients=patients,
                        accesses_per_day=accesses // 2),
        )
        print(f"generated {result.staff:,} staff, {result.patients:,} patients, "
              f"{result.encounters:,} encounters, {result.accesses:,} accesses "
              f"in {time.perf_counter() - started:.0f} s")
    if not store_dir.exists():
        started = time.perf_counter()
        with Store.open(store_dir) as store:
            ingest(store, FhirConnector(timezone="America/Chicago"), [data])
        print(f"ingested in {time.perf_counter() - started:.0f} s")
    return store_dir


def sample(store_dir: Path, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """AuthZEN requests: 70% near a real access (a relationship, mostly), 30% random pairs."""
    with Store.open(store_dir, read_only=True) as store:
        seen = store.query(
            "SELECT user_id, patient_id, time FROM ehr_access USING SAMPLE 20000 ROWS"
        )
        users = [u for (u,) in store.query("SELECT user_id FROM workforce")]
        patients = [p for (p,) in store.query("SELECT patient_id FROM patient")]
    out = []
    for _ in range(n):
        user, patient, when = rng.choice(seen)
        if rng.random() < 0.3:
            user, patient = rng.choice(users), rng.choice(patients)
        when = when + dt.timedelta(minutes=rng.randrange(-120, 120))
        out.append({
            "subject": {"type": "user", "id": user},
            "action": {"name": rng.choice(("read", "read", "read", "search", "update"))},
            "resource": {"type": "patient", "id": patient},
            "context": {"purpose_of_use": "TREAT", "device": DEVICE, "mfa_age_s": 1800,
                        "time": when.isoformat() + "Z"},
        })
    return out


def in_process(point: DecisionPoint, bodies: list[dict[str, Any]]) -> None:
    for body in bodies[:500]:  # warm up
        point.evaluate(AccessRequest.from_authzen(body))
    point.reset_session()
    requests = [AccessRequest.from_authzen(body) for body in bodies]
    gc.collect()
    gc.freeze()  # the snapshot is long-lived: keep the collector off it (pdp serve does too)
    wall, cpu, permitted = [], [], 0
    for request in requests:
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        decision = point.evaluate(request)
        cpu.append(time.thread_time_ns() - started_cpu)
        wall.append(time.perf_counter_ns() - started)
        permitted += decision.allowed
    n = len(wall)
    print(f"\nin-process decisions  {n:,} ({permitted / n:.0%} permitted)")
    for label, timings in (("wall", sorted(wall)), ("CPU", sorted(cpu))):
        print(f"latency {label:<5} p50 {timings[n // 2] / 1000:,.0f} µs, "
              f"p99 {timings[int(n * 0.99)] / 1000:,.0f} µs, max {timings[-1] / 1000:,.0f} µs")
    print(f"CPU pressure          {_pressure()} (share of time tasks waited for a core)")


def _pressure() -> str:
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return "unknown"
    return line.split()[1].replace("avg10=", "") + "% (last 10 s)"


async def _client(host: str, port: int, payloads: list[bytes], until: float,
                  counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = 0
    try:
        while time.perf_counter() < until:
            writer.write(payloads[i % len(payloads)])
            i += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200") or b'"decision"' not in body:
                raise RuntimeError(f"bad answer: {head[:40]!r} {body[:80]!r}")
            counts[0] += 1
    finally:
        writer.close()


def _wait_ready(host: str, port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit("pdp serve exited")
        try:
            with socket.create_connection((host, port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("pdp serve did not start")


def over_http(store_dir: Path, bodies: list[dict[str, Any]], seconds: float,
              connections: int, batch: int) -> None:
    host, port = "127.0.0.1", 18801
    proc = subprocess.Popen(
        [sys.executable, "-m", "carewarden.cli.main", "pdp", "serve", "--store", str(store_dir),
         "--port", str(port), "--refresh", "0"],
        stdout=subprocess.DEVNULL,
    )
    try:
        started = time.perf_counter()
        _wait_ready(host, port, proc)
        print(f"\npdp serve ready in   {time.perf_counter() - started:.1f} s")
        for path, per, label in (("/access/v1/evaluation", 1, "single"),
                                 ("/access/v1/evaluations", batch, f"batches of {batch}")):
            payloads = []
            for i in range(0, 2000 * per, per):
                if per == 1:
                    content = orjson.dumps(bodies[i % len(bodies)])
                else:
                    items = [bodies[(i + k) % len(bodies)] for k in range(per)]
                    content = orjson.dumps({"evaluations": items})
                payloads.append(
                    f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json"
                    f"\r\nContent-Length: {len(content)}\r\n\r\n".encode() + content
                )
            counts = [0]
            until = time.perf_counter() + seconds

            async def run(payloads: list[bytes] = payloads, counts: list[int] = counts,
                          until: float = until) -> None:
                await asyncio.gather(*(_client(host, port, payloads, until, counts)
                                       for _ in range(connections)))

            began = time.perf_counter()
            asyncio.run(run())
            rate = counts[0] * per / (time.perf_counter() - began)
            print(f"HTTP decisions/s      {rate:,.0f} ({label}, {connections} connections)")
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--staff", type=int, default=5000)
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--accesses", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="carewarden-bench-pdp-"))
    store_dir = build(work, args.staff, args.patients, args.accesses)
    point = DecisionPoint(store_dir)
    started = time.perf_counter()
    problem = point.refresh()
    if problem or point.snapshot is None:
        raise SystemExit(problem)
    counts = point.snapshot.counts
    print(f"snapshot loaded in    {time.perf_counter() - started:.1f} s: "
          f"{counts['users']:,} users, {counts['patients']:,} patients, "
          f"{counts['windows']:,} relationship windows, {counts['recent_accesses']:,} accesses")
    print(f"peak RSS              {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f}"
          " MiB")
    bodies = sample(store_dir, args.decisions, random.Random(7))
    in_process(point, bodies)
    over_http(store_dir, bodies, args.seconds, args.connections, args.batch)
    print(f"files in {work}")


if __name__ == "__main__":
    main()
