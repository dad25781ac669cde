"""FHIR gateway latency: what a proxied read costs over reading the FHIR server directly.

    python bench/gateway.py [--staff 1000] [--patients 20000] [--accesses 40000]
                            [--requests 1000] [--rounds 5] [--workdir DIR]

Generates a synthetic hospital (FHIR NDJSON) and ingests it (``--staff 5000 --patients
200000 --accesses 100000`` is bench/pdp.py's size; the default is smaller, which changes the
decision's cost little: each decision looks up its own user and patient). Then starts, each in
its own process with uvicorn on localhost, a small FHIR server (Patient and Observation reads,
an Observation search of 10 entries) and the gateway in front of it (decisions in process,
RS256 tokens, audit spooled with ``fsync`` ``interval`` and then ``always``). From this
process, one keep-alive connection each, it times ``--requests`` reads per round, directly
and through the gateway, alternating, for ``--rounds`` rounds; each request is a different
(user, patient) pair that the decision point permits, taken from real accesses. It prints
p50 and p99 per path, the added latency (gateway p50 - direct p50) and the gateway process's
CPU time per request (user + system, from /proc: unlike latency, not inflated when other
processes hold the cores), as medians over the rounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from carewarden.access.decision import AccessRequest, DecisionPoint
from carewarden.connectors.fhir import FhirConnector
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.synth import SynthConfig, generate

ISSUER = "https://idp.bench.test"
AUDIENCE = "https://gateway.bench.test/fhir"
AT = dt.datetime(2026, 3, 3, 20, 0)  # mid second day of the synthetic period (UTC)
DEVICE = {"managed": True, "encrypted": True, "patched": True, "patch_age_days": 4}
HOST = "127.0.0.1"


# -- the store and the requests ---------------------------------------------------------------
def build(work: Path, staff: int, patients: int, accesses: int) -> Path:
    data, store_dir = work / "hospital", work / "store"
    if not (data / "labels.jsonl").exists():
        started = time.perf_counter()
        result = generate(data, SynthConfig(days=2, seed=13, staff=staff, patients=patients,
                                            accesses_per_day=accesses // 2))
        print(f"generated {result.staff:,} staff, {result.patients:,} patients, "
              f"{result.accesses:,} accesses in {time.perf_counter() - started:.0f} s")
    if not store_dir.exists():
        started = time.perf_counter()
        with Store.open(store_dir) as store:
            ingest(store, FhirConnector(timezone="America/Chicago"), [data])
        print(f"ingested in {time.perf_counter() - started:.0f} s")
    return store_dir


def permitted_pairs(store_dir: Path, n: int) -> list[tuple[str, str]]:
    """(user, patient) pairs the decision point permits to read at AT."""
    point = DecisionPoint(store_dir)
    if point.refresh() is not None:
        raise SystemExit(point.last_error)
    with Store.open(store_dir, read_only=True) as store:
        seen = store.query(
            "SELECT DISTINCT user_id, patient_id FROM ehr_access WHERE time BETWEEN ? AND ?",
            [AT - dt.timedelta(hours=3), AT + dt.timedelta(hours=3)])
    random.Random(5).shuffle(seen)
    pairs = []
    for user, patient in seen:
        request = AccessRequest(user, patient, "read", AT, managed=True, encrypted=True,
                                patched=True, patch_age_days=4, mfa_age_s=600)
        if point.evaluate(request).allowed:
            pairs.append((user, patient))
            if len(pairs) == n:
                break
    if len(pairs) < n:
        print(f"only {len(pairs)} permitted pairs near {AT:%Y-%m-%d %H:%M}; they are reused")
    return pairs or [("none", "none")]


# -- the servers (this file, run with --serve-upstream or --serve-gateway) --------------------
def _patient(pid: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient", "id": pid,
        "meta": {"versionId": "3", "lastUpdated": "2026-03-01T08:00:00Z"},
        "identifier": [{"type": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
            "system": "urn:oid:2.16.840.1.113883.19.5", "value": f"MR-{pid}"}],
        "active": True, "name": [{"use": "official", "family": "Okafor", "given": ["Ada", "N"]}],
        "telecom": [{"system": "phone", "value": "555-0100", "use": "home"}],
        "gender": "female", "birthDate": "1961-04-12",
        "address": [{"use": "home", "line": ["12 Elm Street"], "city": "Springfield",
                     "state": "IL", "postalCode": "62701"}],
    }


def _observation(oid: str, pid: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": oid, "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                  "observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4",
                             "display": "Heart rate"}]},
        "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2026-03-03T19:00:00Z",
        "performer": [{"reference": "Practitioner/pr-1"}],
        "valueQuantity": {"value": 88, "unit": "beats/minute",
                          "system": "http://unitsofmeasure.org", "code": "/min"},
    }


def serve_upstream(port: int) -> None:
    import orjson
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    base = f"http://{HOST}:{port}/fhir"

    def fhir(body: Any) -> Response:
        return Response(orjson.dumps(body), media_type="application/fhir+json")

    async def patient(request: Request) -> Response:
        return fhir(_patient(request.path_params["pid"]))

    async def observation(request: Request) -> Response:
        oid = request.path_params["oid"]
        return fhir(_observation(oid, oid.removeprefix("obs-")))

    async def search(request: Request) -> Response:
        pid = request.query_params.get("patient", "x")
        entries = [{"fullUrl": f"{base}/Observation/obs-{pid}-{n}",
                    "resource": _observation(f"obs-{pid}-{n}", pid), "search": {"mode": "match"}}
                   for n in range(10)]
        return fhir({"resourceType": "Bundle", "type": "searchset", "total": 10,
                     "link": [{"relation": "self", "url": f"{base}/Observation?patient={pid}"}],
                     "entry": entries})

    async def health(request: Request) -> Response:
        return Response(b"ok")

    app = Starlette(routes=[Route("/fhir/Patient/{pid}", patient),
                            Route("/fhir/Observation/{oid}", observation),
                            Route("/fhir/Observation", search), Route("/healthz", health)])
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False,
                timeout_keep_alive=120)


def serve_gateway(port: int, upstream: int, store: Path, jwks: Path, spool: Path,
                  fsync: str) -> None:
    import uvicorn

    from carewarden.access.gateway.app import GatewaySettings, create_app
    from carewarden.access.gateway.deciders import LocalDecider
    from carewarden.access.gateway.spool import AuditSpool
    from carewarden.access.gateway.tokens import FileKeys, TokenValidator

    point = DecisionPoint(store)
    point.refresh()
    settings = GatewaySettings(
        upstream=f"http://{HOST}:{upstream}/fhir",
        tokens=TokenValidator(FileKeys(jwks), ISSUER, AUDIENCE),
        decider=LocalDecider(point, refresh_s=0),
        spool=AuditSpool(spool, fsync="always" if fsync == "always" else "interval"),
        clock=lambda: AT,
    )
    uvicorn.run(create_app(settings), host=HOST, port=port, log_level="warning",
                access_log=False, timeout_keep_alive=120)


# -- the client -------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _wait(port: int, path: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(1200):
        if proc.poll() is not None:
            raise SystemExit(f"server on {port} exited")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"server on {port} did not start")


def _time(conn: http.client.HTTPConnection, requests: list[tuple[str, dict[str, str]]]
          ) -> list[int]:
    timings = []
    for path, headers in requests:
        started = time.perf_counter_ns()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        timings.append(time.perf_counter_ns() - started)
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
    return timings


def _pct(timings: list[int], q: float) -> float:
    ordered = sorted(timings)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] / 1e6


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_rounds(gateway_port: int, upstream_port: int, pairs: list[tuple[str, str]],
               tokens: dict[str, str], requests: int, rounds: int,
               gateway_pid: int) -> dict[str, list[float]]:
    kinds = {
        "Patient read": "/Patient/{}",
        "Observation read": "/Observation/obs-{}",
        "search, 10 entries": "/Observation?patient={}",
    }
    results: dict[str, list[float]] = {}
    direct = http.client.HTTPConnection(HOST, upstream_port)
    proxied = http.client.HTTPConnection(HOST, gateway_port)
    accept = {"Accept": "application/fhir+json"}
    rng = random.Random(11)
    for kind, template in kinds.items():
        _time(direct, [("/fhir" + template.format(p), accept) for _, p in pairs[:200]])
        _time(proxied, [(template.format(p), {**accept, "Authorization": f"Bearer {tokens[u]}"})
                        for u, p in pairs[:200]])
        for _ in range(rounds):
            chosen = [rng.choice(pairs) for _ in range(requests)]
            d = _time(direct, [("/fhir" + template.format(p), accept) for _, p in chosen])
            cpu = _cpu_s(gateway_pid)
            g = _time(proxied, [(template.format(p),
                                 {**accept, "Authorization": f"Bearer {tokens[u]}"})
                                for u, p in chosen])
            results.setdefault(f"{kind}|gateway CPU", []).append(
                (_cpu_s(gateway_pid) - cpu) * 1000 / requests)
            for label, value in ((f"{kind}|direct p50", _pct(d, 0.5)),
                                 (f"{kind}|direct p99", _pct(d, 0.99)),
                                 (f"{kind}|gateway p50", _pct(g, 0.5)),
                                 (f"{kind}|gateway p99", _pct(g, 0.99)),
                                 (f"{kind}|added p50", _pct(g, 0.5) - _pct(d, 0.5))):
                results.setdefault(label, []).append(value)
    direct.close()
    proxied.close()
    return results


def _report(results: dict[str, list[float]]) -> None:
    kinds = list(dict.fromkeys(k.split("|")[0] for k in results))
    print(f"  {'':<20}{'direct p50':>11}{'p99':>8}{'gateway p50':>13}{'p99':>8}"
          f"{'added p50':>11}{'gw CPU/req':>12}   (ms, median of rounds; added p50 per round)")
    for kind in kinds:
        def med(name: str, kind: str = kind) -> float:
            return statistics.median(results[f"{kind}|{name}"])
        rounds = ", ".join(f"{v:.2f}" for v in results[f"{kind}|added p50"])
        print(f"  {kind:<20}{med('direct p50'):>11.2f}{med('direct p99'):>8.2f}"
              f"{med('gateway p50'):>13.2f}{med('gateway p99'):>8.2f}{med('added p50'):>11.2f}"
              f"{med('gateway CPU'):>12.2f}   [{rounds}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--staff", type=int, default=1000)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--accesses", type=int, default=40_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-gateway", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return
    if args.serve_gateway:
        port, upstream, store, jwks, spool, fsync = args.serve_gateway
        serve_gateway(int(port), int(upstream), Path(store), Path(jwks), Path(spool), fsync)
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="carewarden-bench-gateway-"))
    store_dir = build(work, args.staff, args.patients, args.accesses)
    pairs = permitted_pairs(store_dir, 2000)
    print(f"{len(pairs):,} permitted (user, patient) pairs at {AT:%Y-%m-%d %H:%M} UTC")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = work / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}))
    now = int(time.time())
    tokens = {
        user: jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": user,
                          "fhirUser": f"Practitioner/{user}", "scope": "user/*.rs",
                          "iat": now, "exp": now + 7200, "amr": ["pwd", "otp"],
                          "auth_time": now, "device_posture": DEVICE},
                         key, algorithm="RS256", headers={"kid": "k1"})
        for user in {u for u, _ in pairs}
    }
    me = [sys.executable, str(Path(__file__).resolve())]
    upstream_port = _free_port()
    upstream = subprocess.Popen([*me, "--serve-upstream", str(upstream_port)])
    try:
        _wait(upstream_port, "/healthz", upstream)
        for fsync in ("interval", "always"):
            spool = work / f"spool-{fsync}"
            shutil.rmtree(spool, ignore_errors=True)
            port = _free_port()
            gateway = subprocess.Popen([*me, "--serve-gateway", str(port), str(upstream_port),
                                        str(store_dir), str(jwks), str(spool), fsync])
            try:
                _wait(port, "/healthz", gateway)
                results = run_rounds(port, upstream_port, pairs, tokens, args.requests,
                                     args.rounds, gateway.pid)
            finally:
                gateway.terminate()
                gateway.wait()
            lines = (spool / "queue" / "gateway_audit.ndjson").read_bytes().count(b"\n")
            print(f"\naudit fsync={fsync}: {lines:,} AuditEvents spooled "
                  f"({args.rounds} rounds x {args.requests} requests x 3 paths, plus warm-up)")
            _report(results)
    finally:
        upstream.terminate()
        upstream.wait()
    print(f"\nfiles in {work}")


if __name__ == "__main__":
    main()
