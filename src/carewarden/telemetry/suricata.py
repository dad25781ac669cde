"""Suricata EVE JSON (one event per line, ``eve.json``; ``.gz`` too) into ``security_event``.

Classes: alert → detection finding (2004), flow, tls, anomaly and other network events →
network activity (4001; TLS has no class of its own here, its server name is kept in
``dns_query``), dns → DNS activity (4003), http → HTTP activity (4002), fileinfo → file
activity (1001). ``stats`` records describe the sensor, not traffic: they are counted as
ignored. The raw line is kept; the id is a hash of it.

Sigma rules read an event as :func:`flat_fields`: EVE's nested keys joined with dots
(``dns.rrname``, ``http.url``, ``flow.state``…)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import orjson

from carewarden.connectors.base import walk
from carewarden.model import Batch, Rejected, preview
from carewarden.telemetry.network import flatten, integer, iso_time, lines, row, text
from carewarden.telemetry.ocsf import DETECTION, DNS, FILE, HTTP, NETWORK, OcsfClass
from carewarden.telemetry.rows import EventRows, drain

SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")
CHANNEL = "suricata"

CLASSES: dict[str, OcsfClass] = {
    "alert": DETECTION,
    "flow": NETWORK,
    "netflow": NETWORK,
    "dns": DNS,
    "http": HTTP,
    "tls": NETWORK,
    "fileinfo": FILE,
    "anomaly": NETWORK,
}
IGNORED = frozenset({"stats"})


# flow.action values (IPS mode) of traffic stopped, and of traffic let through.
BLOCKED_ACTIONS = frozenset({"drop", "reject", "rejected", "blocked"})
PASSED_ACTIONS = frozenset({"pass", "allowed", "accept"})


class NotEve(ValueError):
    """A JSON line that is no Suricata EVE event."""


def _section(event: dict[str, Any], name: str) -> dict[str, Any]:
    value = event.get(name)
    return value if isinstance(value, dict) else {}


def dns_query(dns: dict[str, Any]) -> str | None:
    """The queried name: ``rrname`` (EVE v1/v2) or the first of ``queries`` (v3)."""
    name = dns.get("rrname")
    if name:
        return text(name)
    queries = dns.get("queries")
    if isinstance(queries, list) and queries and isinstance(queries[0], dict):
        return text(queries[0].get("rrname"))
    return None


def columns(kind: str, event: dict[str, Any]) -> dict[str, str | None]:
    """The normalised columns of one EVE event of type ``kind``."""
    http = _section(event, "http")
    out: dict[str, str | None] = {
        "src_ip": text(event.get("src_ip")),
        "src_port": text(event.get("src_port")),
        "dst_ip": text(event.get("dest_ip")),
        "dst_port": text(event.get("dest_port")),
        "dns_query": text(http.get("hostname")),
        "file_path": text(http.get("url")),
    }
    if kind == "alert":
        alert = _section(event, "alert")
        out["threat_name"] = text(alert.get("signature"))
        out["status"] = text(alert.get("action"))
    elif kind == "dns":
        dns = _section(event, "dns")
        out["dns_query"] = dns_query(dns)
        out["status"] = text(dns.get("rcode"))
    elif kind == "http":
        out["status"] = text(http.get("status"))
    elif kind == "tls":
        tls = _section(event, "tls")
        out["dns_query"] = text(tls.get("sni"))
        out["status"] = text(tls.get("version"))
    elif kind == "fileinfo":
        out["file_path"] = text(_section(event, "fileinfo").get("filename"))
    elif kind == "flow":
        out["status"] = text(_section(event, "flow").get("state"))
    elif kind == "anomaly":
        anomaly = _section(event, "anomaly")
        out["status"] = text(anomaly.get("event") or anomaly.get("code"))
    return out


def to_row(raw: bytes, event: object) -> dict[str, object] | None:
    """The row of one EVE event, None for an ignored type; :class:`NotEve` if it is none."""
    if not isinstance(event, dict):
        raise NotEve("not a Suricata EVE event: not a JSON object")
    kind = event.get("event_type")
    if not isinstance(kind, str) or not kind:
        raise NotEve("not a Suricata EVE event: no event_type")
    if kind in IGNORED:
        return None
    if "timestamp" not in event:
        raise NotEve("not a Suricata EVE event: no timestamp")
    try:
        time = iso_time(event["timestamp"])
    except ValueError as exc:
        raise NotEve(f"bad timestamp: {exc}") from None
    alert = _section(event, "alert") if kind == "alert" else {}
    return row(
        uid_prefix="suricata",
        raw=raw,
        time=time,
        host=text(event.get("host") or event.get("sensor_name")),
        channel=CHANNEL,
        provider=f"suricata/{kind}",
        ocsf=CLASSES.get(kind, NETWORK),
        event_id=integer(alert.get("signature_id"), 32),
        record_id=integer(event.get("flow_id")),
        columns=columns(kind, event),
    )


class SuricataConnector:
    """``carewarden ingest suricata``: Suricata EVE JSON into ``security_event``."""

    name: ClassVar[str] = "suricata"

    def __init__(self) -> None:
        self.ignored: Counter[str] = Counter()

    def discover(self, path: Path) -> list[Path]:
        return walk(path, SUFFIXES)

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        rows = EventRows()
        for item in lines(path):
            if isinstance(item, Rejected):
                yield item
                continue
            number, raw = item
            try:
                built = to_row(raw, orjson.loads(raw))
            except orjson.JSONDecodeError as exc:
                yield Rejected(number, None, f"invalid JSON: {exc}", preview(raw))
                continue
            except NotEve as exc:
                yield Rejected(number, None, str(exc), preview(raw))
                continue
            if built is None:
                self.ignored["Suricata stats records"] += 1
                continue
            batch = rows.add_row(built)
            if batch is not None:
                yield batch
        yield from drain(rows)


def flat_fields(event: dict[str, Any]) -> dict[str, str]:
    """The flat record Sigma rules read from a stored ``raw``: every value under its EVE
    name, nested keys joined with dots (``dest_port``, ``dns.rrname``, ``flow.state``); a
    list of objects gives one field per key, its values joined with commas
    (``dns.answers.rdata``). A flow event also says what a firewall would have logged:
    ``_action`` ``reject`` and ``_blocked`` ``true`` for a flow Suricata dropped (IPS),
    ``accept`` and ``false`` for one it passed or the server answered (packets to the
    client); neither for an unanswered attempt."""
    out = flatten(event)
    if event.get("event_type") == "flow":
        flow = _section(event, "flow")
        action = str(flow.get("action") or "").lower()
        if action in BLOCKED_ACTIONS:
            out["_action"], out["_blocked"] = "reject", "true"
        elif action in PASSED_ACTIONS or (integer(flow.get("pkts_toclient")) or 0) > 0:
            out["_action"], out["_blocked"] = "accept", "false"
    return out
