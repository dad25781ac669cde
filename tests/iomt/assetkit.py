"""Helpers for the device-inventory tests: Zeek JSON records, written and ingested."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson

from carewarden.iomt.inventory import Settings, discover
from carewarden.iomt.oui import builtin_table
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.telemetry.zeek import ZeekConnector

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()
HOUR = 3600.0


def dhcp(t: float, mac: str, ip: str, host: str | None = None,
         vendor_class: str | None = None) -> dict[str, Any]:
    return {"_path": "dhcp", "ts": T0 + t, "uids": ["C1"], "mac": mac, "assigned_addr": ip,
            "server_addr": "10.1.1.2", "host_name": host, "client_software": vendor_class,
            "lease_time": 86400.0, "msg_types": ["REQUEST", "ACK"]}


def conn(t: float, src: str, dst: str, port: int, state: str = "SF",
         proto: str = "tcp") -> dict[str, Any]:
    return {"_path": "conn", "ts": T0 + t, "uid": f"C{t}{src}{dst}{port}", "id.orig_h": src,
            "id.orig_p": 50000, "id.resp_h": dst, "id.resp_p": port, "proto": proto,
            "conn_state": state}


def http(t: float, src: str, dst: str, agent: str, host: str = "ehr.example") -> dict[str, Any]:
    return {"_path": "http", "ts": T0 + t, "uid": f"H{t}{src}", "id.orig_h": src,
            "id.orig_p": 50001, "id.resp_h": dst, "id.resp_p": 80, "method": "GET",
            "host": host, "uri": "/", "user_agent": agent, "status_code": 200}


def load(store: Store, folder: Path, records: list[dict[str, Any]], name: str = "z") -> None:
    """Write the records as a Zeek JSON log and ingest it (nothing quarantined)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.log"
    path.write_bytes(b"".join(orjson.dumps({k: v for k, v in r.items() if v is not None})
                              + b"\n" for r in records))
    summary = ingest(store, ZeekConnector(), [path])
    assert summary.total("quarantined") == 0 and not summary.failed


def rediscover(store: Store, settings: Settings | None = None) -> list[dict[str, Any]]:
    discover(store, settings or Settings(), builtin_table())
    rows: list[dict[str, Any]] = store.arrow(
        "SELECT * FROM asset ORDER BY identity"
    ).to_pylist()
    return rows
