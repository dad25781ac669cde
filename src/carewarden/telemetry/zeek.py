"""Zeek logs, in the default TSV form (``#separator``, ``#fields``, ``#types``, ``#path``
headers; ``-`` unset, ``(empty)`` empty, ``\\xHH`` escapes) or as JSON lines, into
``security_event`` (``.gz`` too).

The log's path (conn, dns, http…) comes from the ``#path`` header, a ``_path`` field, or the
file name (``conn.log``, ``dns.09:00:00-10:00:00.log.gz``). Classes: conn, ssl, weird and
logs not listed → network activity (4001), dns → DNS activity (4003), http → HTTP activity
(4002), files and x509 (certificates Zeek saw as files) → file activity (1001), dhcp → DHCP
activity (4004), notice → detection finding (2004, ``note: msg`` in ``threat_name``). A weird's
name is in ``status``. Sensor bookkeeping logs (stats, capture_loss, loaded_scripts…) are
counted as ignored.

A JSON line is kept as it is in ``raw``; a TSV line is stored as the equivalent JSON object
(with ``_path``), values typed by ``#types``. The log path is also in ``provider``
(``zeek/dns``): a JSON record may lack ``_path``.

Sigma rules read a record as :func:`flat_fields`: Zeek's own field names (``id.orig_h``,
``query``, ``uri``…), with the log path in ``_path``."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import orjson

from carewarden.connectors.base import walk
from carewarden.model import Batch, Rejected, preview
from carewarden.telemetry.network import epoch_time, flatten, lines, row, text
from carewarden.telemetry.ocsf import DETECTION, DHCP, DNS, FILE, HTTP, NETWORK, OcsfClass
from carewarden.telemetry.rows import EventRows, drain

SUFFIXES = (".log", ".log.gz", ".json", ".json.gz", ".jsonl", ".jsonl.gz")
CHANNEL = "zeek"

CLASSES: dict[str, OcsfClass] = {
    "conn": NETWORK,
    "dns": DNS,
    "http": HTTP,
    "ssl": NETWORK,
    "x509": FILE,
    "files": FILE,
    "dhcp": DHCP,
    "notice": DETECTION,
    "weird": NETWORK,
}
IGNORED = frozenset(
    {
        "stats",
        "capture_loss",
        "loaded_scripts",
        "packet_filter",
        "reporter",
        "broker",
        "cluster",
        "config",
        "print",
        "telemetry",
    }
)
# Logs of Zeek's own scripts and of common packages (the ``service`` of a Sigma Zeek rule).
LOGS = frozenset(
    {
        "analyzer", "conn", "dce_rpc", "dhcp", "dnp3", "dns", "dpd", "files", "ftp", "http",
        "intel", "irc", "kerberos", "known_certs", "known_hosts", "known_modbus",
        "known_services", "ldap", "ldap_search", "modbus", "mqtt_connect", "mqtt_publish",
        "mqtt_subscribe", "mysql", "notice", "ntlm", "ntp", "ocsp", "pe", "quic", "radius",
        "rdp", "rfb", "signatures", "sip", "smb_cmd", "smb_files", "smb_mapping", "smtp",
        "snmp", "socks", "software", "ssh", "ssl", "syslog", "traceroute", "tunnel", "weird",
        "x509",
    }
)  # fmt: skip
_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")
_NAME_SPLIT = re.compile(r"[._-]")
# Log names holding the separators of a file name's suffix (``smb_files_20240301.log``).
_COMPOUND = sorted((n for n in LOGS | IGNORED if _NAME_SPLIT.search(n)), key=len, reverse=True)


# conn_state values where the responder answered (the traffic passed), and where it refused.
ANSWERED = frozenset({"S1", "S2", "S3", "SF", "RSTO", "RSTR", "OTH"})
REFUSED = frozenset({"REJ"})


class NotZeek(ValueError):
    """A line that is no Zeek log record."""


def path_from_name(name: str) -> str:
    """The log path a file name stands for: ``conn.log`` → conn, ``dns_20240301.log`` → dns,
    ``smb_files.09:00:00-10:00:00.log`` → smb_files."""
    lower = name.lower()
    for log in _COMPOUND:
        if lower.startswith(log) and lower[len(log) : len(log) + 1] in ("", ".", "_", "-"):
            return log
    return _NAME_SPLIT.split(lower, maxsplit=1)[0]


def unescape(value: bytes) -> str:
    return _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), value).decode(
        "utf-8", errors="replace"
    )


def lookup(doc: dict[str, Any], name: str) -> Any:
    """A field by its Zeek name: flat (``id.orig_h``) or nested (``{"id": {"orig_h": …}}``)."""
    if name in doc:
        return doc[name]
    value: Any = doc
    for part in name.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _first(doc: dict[str, Any], *names: str) -> str | None:
    for name in names:
        found = lookup(doc, name)
        if isinstance(found, list):
            found = found[0] if found else None
        value = text(found)
        if value is not None:
            return value
    return None


def columns(path: str, doc: dict[str, Any]) -> dict[str, str | None]:
    """The normalised columns of one record of log ``path``."""
    out: dict[str, str | None] = {
        "src_ip": _first(doc, "id.orig_h"),
        "src_port": _first(doc, "id.orig_p"),
        "dst_ip": _first(doc, "id.resp_h"),
        "dst_port": _first(doc, "id.resp_p"),
    }
    if path == "conn":
        out["status"] = _first(doc, "conn_state")
    elif path == "dns":
        out["dns_query"] = _first(doc, "query")
        out["status"] = _first(doc, "rcode_name")
    elif path == "http":
        out["dns_query"] = _first(doc, "host")
        out["file_path"] = _first(doc, "uri")
        out["status"] = _first(doc, "status_code")
        out["user_name"] = _first(doc, "username")
    elif path == "ssl":
        out["dns_query"] = _first(doc, "server_name")
        out["status"] = _first(doc, "version")
    elif path == "x509":
        out["file_path"] = _first(doc, "certificate.subject")
        out["dns_query"] = _first(doc, "san.dns")
    elif path == "files":
        out["file_path"] = _first(doc, "filename")
        out["status"] = _first(doc, "mime_type")
        out["src_ip"] = out["src_ip"] or _first(doc, "tx_hosts")
        out["dst_ip"] = out["dst_ip"] or _first(doc, "rx_hosts")
    elif path == "dhcp":
        out["src_ip"] = _first(doc, "client_addr", "assigned_addr", "requested_addr")
        out["dst_ip"] = _first(doc, "server_addr")
        out["dns_query"] = _first(doc, "client_fqdn", "host_name")
        out["status"] = text(lookup(doc, "msg_types"))
    elif path == "notice":
        note, msg = _first(doc, "note"), _first(doc, "msg")
        out["threat_name"] = f"{note}: {msg}" if note and msg else note or msg
        out["src_ip"] = out["src_ip"] or _first(doc, "src")
        out["dst_ip"] = out["dst_ip"] or _first(doc, "dst")
        out["dst_port"] = out["dst_port"] or _first(doc, "p")
    elif path == "weird":
        out["status"] = _first(doc, "name")
    return out


def to_row(path: str, raw: bytes, doc: dict[str, Any]) -> dict[str, object]:
    if "ts" not in doc:
        raise NotZeek(f"not a Zeek {path} record: no ts")
    try:
        time = epoch_time(doc["ts"])
    except (ValueError, OverflowError, OSError) as exc:
        raise NotZeek(f"bad ts: {exc}") from None
    return row(
        uid_prefix="zeek",
        raw=raw,
        time=time,
        host=_first(doc, "_system_name", "_node_name"),
        channel=CHANNEL,
        provider=f"zeek/{path}",
        ocsf=CLASSES.get(path, NETWORK),
        columns=columns(path, doc),
    )


@dataclass
class _Header:
    """The TSV header state: it may change part-way (files concatenated)."""

    separator: bytes = b"\t"
    set_separator: bytes = b","
    empty: bytes = b"(empty)"
    unset: bytes = b"-"
    path: str | None = None
    fields: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)

    def read(self, line: bytes) -> None:
        if line.startswith(b"#separator"):
            value = line[len(b"#separator") :].strip()
            self.separator = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), value) or b"\t"
            return
        name, _, rest = line[1:].partition(self.separator)
        if name == b"set_separator":
            self.set_separator = rest
        elif name == b"empty_field":
            self.empty = rest
        elif name == b"unset_field":
            self.unset = rest
        elif name == b"path":
            self.path = unescape(rest)
        elif name == b"fields":
            self.fields = [unescape(f) for f in rest.split(self.separator)]
            self.types = []
        elif name == b"types":
            self.types = [unescape(t) for t in rest.split(self.separator)]

    def value(self, raw: bytes, kind: str) -> Any:
        if raw == self.unset:
            return None
        container = kind.startswith(("set[", "vector["))
        if container:
            if raw == self.empty:
                return []
            inner = kind[kind.index("[") + 1 : -1]
            return [self.value(part, inner) for part in raw.split(self.set_separator)]
        if raw == self.empty:
            return ""
        value = unescape(raw)
        try:
            if kind in ("count", "int", "port"):
                return int(value)
            if kind in ("double", "time", "interval"):
                return float(value)
        except ValueError:
            return value
        if kind == "bool":
            return value == "T"
        return value

    def record(self, line: bytes) -> dict[str, Any]:
        if not self.fields:
            raise NotZeek("a Zeek TSV record before the #fields header")
        parts = line.split(self.separator)
        if len(parts) != len(self.fields):
            raise NotZeek(f"{len(parts)} fields where #fields names {len(self.fields)}")
        types = self.types if len(self.types) == len(self.fields) else ["string"] * len(parts)
        return {
            name: self.value(part, kind)
            for name, part, kind in zip(self.fields, parts, types, strict=True)
        }


class ZeekConnector:
    """``carewarden ingest zeek``: Zeek TSV or JSON logs into ``security_event``."""

    name: ClassVar[str] = "zeek"

    def __init__(self) -> None:
        self.ignored: Counter[str] = Counter()

    def discover(self, path: Path) -> list[Path]:
        return walk(path, SUFFIXES)

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        rows = EventRows()
        named = path_from_name(path.name)
        header = _Header()
        for item in lines(path):
            if isinstance(item, Rejected):
                yield item
                continue
            number, line = item
            try:
                if line.startswith(b"#"):
                    header.read(line)
                    continue
                if line.lstrip().startswith(b"{"):
                    try:
                        doc = orjson.loads(line)
                    except orjson.JSONDecodeError as exc:
                        raise NotZeek(f"invalid JSON: {exc}") from None
                    if not isinstance(doc, dict):
                        raise NotZeek("not a Zeek record: not a JSON object")
                    log = text(doc.get("_path")) or header.path or named
                    raw = line
                else:
                    doc = header.record(line)
                    log = header.path or named
                    raw = orjson.dumps({"_path": log, **doc})
                if log in IGNORED:
                    self.ignored[f"Zeek {log} records"] += 1
                    continue
                built = to_row(log, raw, doc)
            except NotZeek as exc:
                yield Rejected(number, None, str(exc), preview(line))
                continue
            batch = rows.add_row(built)
            if batch is not None:
                yield batch
        yield from drain(rows)


def flat_fields(doc: dict[str, Any], path: str) -> dict[str, str]:
    """The flat record Sigma rules read from a stored ``raw`` of log ``path`` (from the
    row's provider): every field under its Zeek name (nested JSON joined with dots, sets
    and vectors joined with commas, booleans ``true``/``false``), the log path in ``_path``.
    A conn record also says what a firewall would have logged, from ``conn_state``:
    ``_action`` ``accept`` and ``_blocked`` ``false`` when the responder answered, ``reject``
    and ``true`` when it refused (``REJ``); neither for an attempt left unanswered."""
    out = flatten(doc)
    out["_path"] = path
    if path == "conn":
        state = out.get("conn_state")
        if state in ANSWERED:
            out["_action"], out["_blocked"] = "accept", "false"
        elif state in REFUSED:
            out["_action"], out["_blocked"] = "reject", "true"
    return out
