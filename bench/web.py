"""Web console benchmark: with N alerts in the store (default 1,000,000), the alert queue's
first page and a filtered page rendered server-side (median over uncached requests), and
authenticated API alert listing throughput, against a real `uvicorn` server process.

    python bench/web.py [--alerts 1000000] [--seconds 5] [--clients 8]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from carewarden.services import accounts
from carewarden.store import Store

SERVER = (
    "import sys, uvicorn; from pathlib import Path; from carewarden.web.app import create_app; "
    "uvicorn.run(create_app(Path(sys.argv[1])), host='127.0.0.1', port=int(sys.argv[2]), "
    "log_level='warning')"
)


def build(path: Path, alerts: int) -> tuple[str, str]:
    """A store with ``alerts`` synthetic alerts, an analyst, a session and a token."""
    with Store.open(path) as store:
        store.query(
            """
            INSERT INTO alert (alert_id, rule_id, title, severity, score, user_id, patient_id,
                               first_seen, last_seen, event_ids, explanation, mapping, status,
                               created_at)
            SELECT 'a' || i, 'privacy.' || (['family','coworker','vip','bulk','after_hours'])
                       [1 + i % 5],
                   'Synthetic alert', (['critical','high','medium','low','info'])[1 + i % 5],
                   (i * 7919) % 101, 'u' || (i % 5000), 'p' || (i % 200000),
                   TIMESTAMP '2026-01-01' + to_seconds(i * 2), TIMESTAMP '2026-01-01'
                       + to_seconds(i * 2 + 60), ['e' || i],
                   'User u' || (i % 5000) || ' opened the chart of patient p' || (i % 200000)
                       || ' with no documented relationship.', ['HIPAA 164.312(b)'],
                   CASE WHEN i % 10 = 0 THEN 'closed' ELSE 'open' END, now()::TIMESTAMP
            FROM range(?) t(i)
            """,
            [alerts],
        )
        accounts.add_user(store, "bench", "analyst", "a bench password!")
        cookie, _ = accounts.create_session(store, "bench")
        token, _ = accounts.create_token(store, "bench", ["alerts:read"], days=1)
    return cookie, token


def get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--port", type=int, default=8871)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store"
        started = time.perf_counter()
        cookie, token = build(path, args.alerts)
        print(f"store: {args.alerts:,} alerts built in {time.perf_counter() - started:.1f}s")
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(path), str(args.port)])
        try:
            for _ in range(200):
                try:
                    http.client.HTTPConnection("127.0.0.1", args.port).request("GET", "/healthz")
                    break
                except OSError:
                    time.sleep(0.1)
            conn = http.client.HTTPConnection("127.0.0.1", args.port)
            page = {"cookie": f"cw_session={cookie}"}
            for name, query in (
                ("first page", "/alerts?page={n}"),
                ("filtered page", "/alerts?severity=high&rule_id=privacy.coworker&page={n}"),
            ):
                # distinct pages, so each one is rendered, not served from the cache
                times = [get(conn, query.format(n=n), page) for n in range(1, 16)]
                cached = [get(conn, query.format(n=1), page) for _ in range(15)]
                print(f"alert queue, {name}: median {statistics.median(times) * 1000:.1f} ms "
                      f"uncached, {statistics.median(cached) * 1000:.1f} ms repeated "
                      "(server-side render, HTTP round trip)")
            api = {"authorization": f"Bearer {token}"}
            count = [0] * args.clients
            stop = time.perf_counter() + args.seconds

            def client(k: int) -> None:
                c = http.client.HTTPConnection("127.0.0.1", args.port)
                n = 0
                while time.perf_counter() < stop:
                    get(c, f"/api/v1/alerts?page_size=50&page={1 + n % 4}", api)
                    n += 1
                count[k] = n

            threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t0
            print(f"API GET /api/v1/alerts (token, 50 per page, every request audited): "
                  f"{sum(count) / elapsed:,.0f} requests/s with {args.clients} clients")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
