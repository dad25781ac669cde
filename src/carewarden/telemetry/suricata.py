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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import orjson
import pyarrow as pa

from carewarden.connectors.base import walk
from carewarden.model import Batch, Rejected, preview
from carewarden.pipeline import ordered_map
from carewarden.telemetry import vector as V
from carewarden.telemetry.network import (
    Block,
    blocks,
    column_spec,
    flatten,
    integer,
    iso_time,
    json_columns,
    json_for_reader,
    keep_spec,
    raw_column,
    row,
    text,
    uid_column,
)
from carewarden.telemetry.ocsf import DETECTION, DNS, FILE, HTTP, NETWORK, OcsfClass
from carewarden.telemetry.rows import TABLE, EventRows, drain

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
T = TypeVar("T")


# flow.action values (IPS mode) of traffic stopped, and of traffic let through.
BLOCKED_ACTIONS = frozenset({"drop", "reject", "rejected", "blocked"})
PASSED_ACTIONS = frozenset({"pass", "allowed", "accept"})


class NotEve(ValueError):
    """A JSON line that is no Suricata EVE event."""


def _section(event: dict[str, Any], name: str) -> dict[str, Any]:
    value = event.get(name)
    return value if isinstance(value, dict) else {}


class EveFields(Protocol[T]):
    """How :func:`column_rules` reads an event, one at a time or a whole block column-wise."""

    def get(self, *path: str) -> T:
        """The field at ``path`` (``"dns", "queries[0]", "rrname"``: the first query) as
        text; None where absent, empty or inside something that is no object."""

    def either(self, value: T, other: T) -> T:
        """``value`` where it is set, else ``other``."""


class _Event:
    """:class:`EveFields` of one event."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event

    def get(self, *path: str) -> str | None:
        value: Any = self.event
        for part in path:
            if part.endswith("[0]"):
                value = value.get(part[:-3]) if isinstance(value, dict) else None
                value = value[0] if isinstance(value, list) and value else None
            else:
                value = value.get(part) if isinstance(value, dict) else None
        return text(value)

    def either(self, value: str | None, other: str | None) -> str | None:
        return value or other


def columns(kind: str, event: dict[str, Any]) -> dict[str, str | None]:
    """The normalised columns of one EVE event of type ``kind``."""
    return column_rules(kind, _Event(event))


def column_rules(kind: str, ev: EveFields[T]) -> dict[str, T | None]:
    """The normalised columns of an EVE event of type ``kind``, by field paths: one set of
    rules for both the per-line and the column-wise path."""
    out: dict[str, T | None] = {
        "src_ip": ev.get("src_ip"),
        "src_port": ev.get("src_port"),
        "dst_ip": ev.get("dest_ip"),
        "dst_port": ev.get("dest_port"),
        "dns_query": ev.get("http", "hostname"),
        "file_path": ev.get("http", "url"),
    }
    if kind == "alert":
        out["threat_name"] = ev.get("alert", "signature")
        out["status"] = ev.get("alert", "action")
    elif kind == "dns":
        # rrname (EVE v1/v2), else the first of queries (v3)
        out["dns_query"] = ev.either(ev.get("dns", "rrname"), ev.get("dns", "queries[0]", "rrname"))
        out["status"] = ev.get("dns", "rcode")
    elif kind == "http":
        out["status"] = ev.get("http", "status")
    elif kind == "tls":
        out["dns_query"] = ev.get("tls", "sni")
        out["status"] = ev.get("tls", "version")
    elif kind == "fileinfo":
        out["file_path"] = ev.get("fileinfo", "filename")
    elif kind == "flow":
        out["status"] = ev.get("flow", "state")
    elif kind == "anomaly":
        out["status"] = ev.either(ev.get("anomaly", "event"), ev.get("anomaly", "code"))
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


def _struct(*names: str, **typed: pa.DataType) -> pa.StructType:
    return pa.struct([*((n, pa.string()) for n in names), *typed.items()])


# The fields the columns are made of, with the types EVE gives them: a block where any has
# another type is read line by line (and then ``text``/``integer`` decide, as always).
EVE_FIELDS = pa.schema(
    [
        ("event_type", pa.string()),
        ("timestamp", pa.string()),
        ("host", pa.string()),
        ("sensor_name", pa.string()),
        ("flow_id", pa.int64()),
        ("src_ip", pa.string()),
        ("src_port", pa.int64()),
        ("dest_ip", pa.string()),
        ("dest_port", pa.int64()),
        ("alert", _struct("signature", "action", signature_id=pa.int64())),
        ("http", _struct("hostname", "url", status=pa.int64())),
        ("dns", _struct("rrname", "rcode", queries=pa.list_(_struct("rrname")))),
        ("tls", _struct("sni", "version")),
        ("fileinfo", _struct("filename")),
        ("flow", _struct("state")),
        ("anomaly", _struct("event", code=pa.int64())),
    ]
)


EVE_KEEP = keep_spec(EVE_FIELDS)
EVE_COLUMNS = column_spec(EVE_FIELDS)


def block_rows(block: Block) -> tuple[pa.Table, int] | None:
    """The ``security_event`` rows of a block of EVE lines and how many ``stats`` records it
    held, computed column-wise; None where any line needs the per-line path (bad JSON, a
    field of an unexpected type, no timestamp…), which then gives the same rows for the good
    lines and rejects the bad ones with their line numbers."""
    ends = block.line_ends()
    if ends is None:
        return None
    # The block's bytes are checked to be UTF-8 once, by raw_column below.
    events = json_columns(block, len(ends), EVE_FIELDS, EVE_COLUMNS)
    if events is None:  # no compiled helpers, or a line the compiled scan left to the reader
        events = V.read_json(json_for_reader(block, len(ends), EVE_KEEP), EVE_FIELDS, len(ends))
    if events is None:
        return None
    kind = events["event_type"]
    if kind.null_count or not V.all_true(V.pc.not_equal(kind, "")):
        return None
    keep = V.pc.invert(V.pc.is_in(kind, pa.array(sorted(IGNORED))))
    ignored = len(kind) - V.count_true(keep)
    if ignored:
        events = events.filter(keep)
        kind = events["event_type"]
    time = V.iso_times(events["timestamp"])
    if time is None:
        return None
    try:
        raw = raw_column(block, ends)
    except pa.ArrowInvalid:
        return None
    if ignored:
        raw = raw.filter(keep)
    field = V.field_of(events)
    is_kind = V.Kinds(kind)
    fields = _Columns(field)
    # The rules of each kind present, over the whole block; each row takes its kind's.
    present = sorted(is_kind.present)
    by_kind = {k: column_rules(k, fields) for k in present}
    which = V.pc.index_in(is_kind.column, value_set=pa.array(present, pa.string()))
    columns = {
        name: V.pick(which, [by_kind[k].get(name) for k in present], pa.string())
        for name in dict.fromkeys(n for rules in by_kind.values() for n in rules)
    }
    table = V.event_table(
        uid=uid_column("suricata", raw),
        time=time,
        host=V.coalesce(V.text(events["host"]), V.text(events["sensor_name"])),
        channel=CHANNEL,
        provider=V.pc.binary_join_element_wise("suricata", kind, "/"),
        classes=V.classes(kind, CLASSES, NETWORK),
        event_id=V.choose(
            is_kind,
            {"alert": lambda: V.int32_or_null(field("alert", "signature_id"))},
            type_=pa.int32(),
        ),
        record_id=events["flow_id"],
        columns=columns,
        raw=raw,
    )
    return table, ignored


class _Columns:
    """:class:`EveFields` of a block of events, column-wise (None: null in every row)."""

    def __init__(self, field: Callable[..., pa.Array]) -> None:
        self.field = field
        self.cache: dict[tuple[str, ...], pa.Array] = {}

    def get(self, *path: str) -> pa.Array:
        if path not in self.cache:
            if path[-2:-1] and path[-2].endswith("[0]"):
                lists = self.field(*path[:-2], path[-2][:-3])
                self.cache[path] = V.text(V.first_of(lists, path[-1]))
            else:
                self.cache[path] = V.text(self.field(*path))
        return self.cache[path]

    def either(self, value: pa.Array, other: pa.Array) -> pa.Array:
        if not value.null_count:
            return value
        return V.coalesce(value, other)


class SuricataConnector:
    """``carewarden ingest suricata``: Suricata EVE JSON into ``security_event``."""

    name: ClassVar[str] = "suricata"

    def __init__(self, columnwise: bool = True) -> None:
        """``columnwise=False`` reads every line on its own (the reference path, slower)."""
        self.ignored: Counter[str] = Counter()
        self.columnwise = columnwise

    def discover(self, path: Path) -> list[Path]:
        return walk(path, SUFFIXES)

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        # Blocks are read column-wise on parse threads, in order; a block the fast path
        # leaves (None) is read line by line here.
        for block, fast in ordered_map(self._fast_rows, blocks(path)):
            if isinstance(block, Rejected):
                yield block
                continue
            if fast is None:
                yield from self.read_lines(block)
                continue
            table, ignored = fast
            if ignored:
                self.ignored["Suricata stats records"] += ignored
            if table.num_rows:
                yield Batch(TABLE, table)

    def _fast_rows(self, block: Block | Rejected) -> tuple[pa.Table, int] | None:
        if isinstance(block, Rejected) or not self.columnwise:
            return None
        return block_rows(block.with_lf_line_ends())

    def read_lines(self, block: Block) -> Iterator[Batch | Rejected]:
        """The per-line path: one record at a time, bad ones rejected with their line."""
        rows = EventRows()
        for item in block.lines():
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
