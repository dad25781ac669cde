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

import copy
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pcsv

from carewarden.connectors.base import walk
from carewarden.model import Batch, Rejected, preview
from carewarden.pipeline import ordered_map
from carewarden.telemetry import vector as V
from carewarden.telemetry.network import (
    Block,
    blocks,
    epoch_time,
    flatten,
    json_for_reader,
    keep_spec,
    raw_column,
    row,
    text,
    uid_column,
)
from carewarden.telemetry.ocsf import DETECTION, DHCP, DNS, FILE, HTTP, NETWORK, OcsfClass
from carewarden.telemetry.rows import TABLE, EventRows, drain

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

T = TypeVar("T")
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


class Fields(Protocol[T]):
    """How :func:`columns` reads a record, one at a time or a whole block column-wise."""

    def first(self, *names: str) -> T:
        """The first field of ``names`` with a value, as text (a list's first element)."""

    def joined(self, name: str) -> T:
        """The field as text, a list's elements joined with commas."""

    def either(self, value: T, other: T) -> T:
        """``value`` where it is set, else ``other``."""

    def note(self, note: T, msg: T) -> T:
        """``note: msg``, or whichever of them is set."""


class _Doc:
    """:class:`Fields` of one record."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def first(self, *names: str) -> str | None:
        return _first(self.doc, *names)

    def joined(self, name: str) -> str | None:
        return text(lookup(self.doc, name))

    def either(self, value: str | None, other: str | None) -> str | None:
        return value or other

    def note(self, note: str | None, msg: str | None) -> str | None:
        return f"{note}: {msg}" if note and msg else note or msg


def columns(path: str, doc: dict[str, Any]) -> dict[str, str | None]:
    """The normalised columns of one record of log ``path``."""
    return column_rules(path, _Doc(doc))


def column_rules(path: str, doc: Fields[T]) -> dict[str, T | None]:
    """The normalised columns of log ``path``, by field names: one set of rules for both the
    per-line and the column-wise path."""
    out: dict[str, T | None] = {
        "src_ip": doc.first("id.orig_h"),
        "src_port": doc.first("id.orig_p"),
        "dst_ip": doc.first("id.resp_h"),
        "dst_port": doc.first("id.resp_p"),
    }
    src_ip, dst_ip, dst_port = out["src_ip"], out["dst_ip"], out["dst_port"]
    if path == "conn":
        out["status"] = doc.first("conn_state")
    elif path == "dns":
        out["dns_query"] = doc.first("query")
        out["status"] = doc.first("rcode_name")
    elif path == "http":
        out["dns_query"] = doc.first("host")
        out["file_path"] = doc.first("uri")
        out["status"] = doc.first("status_code")
        out["user_name"] = doc.first("username")
    elif path == "ssl":
        out["dns_query"] = doc.first("server_name")
        out["status"] = doc.first("version")
    elif path == "x509":
        out["file_path"] = doc.first("certificate.subject")
        out["dns_query"] = doc.first("san.dns")
    elif path == "files":
        out["file_path"] = doc.first("filename")
        out["status"] = doc.first("mime_type")
        out["src_ip"] = doc.either(src_ip, doc.first("tx_hosts"))  # type: ignore[arg-type]
        out["dst_ip"] = doc.either(dst_ip, doc.first("rx_hosts"))  # type: ignore[arg-type]
    elif path == "dhcp":
        out["src_ip"] = doc.first("client_addr", "assigned_addr", "requested_addr")
        out["dst_ip"] = doc.first("server_addr")
        out["dns_query"] = doc.first("client_fqdn", "host_name")
        out["status"] = doc.joined("msg_types")
    elif path == "notice":
        out["threat_name"] = doc.note(doc.first("note"), doc.first("msg"))
        out["src_ip"] = doc.either(src_ip, doc.first("src"))  # type: ignore[arg-type]
        out["dst_ip"] = doc.either(dst_ip, doc.first("dst"))  # type: ignore[arg-type]
        out["dst_port"] = doc.either(dst_port, doc.first("p"))  # type: ignore[arg-type]
    elif path == "weird":
        out["status"] = doc.first("name")
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


# The column-wise TSV path: what it reads exactly as the per-line path does. Anything else
# (escapes, quotes, other separators, numbers in another notation…) makes a block go line
# by line.
pc = V.pc
_NAME = re.compile(r"[A-Za-z0-9_.\-]+\Z")
_HEADER_LINE = re.compile(rb"(?m)^#[^\n]*\n?")
_ODD_STARTS = np.frombuffer(b" \t\x0b\x0c{", dtype=np.uint8)


def _odd_bytes(data: bytes, ends: np.ndarray) -> bool:
    """Whether the block has an escape, a quote, a control character other than tab and line
    end, or a line starting with blank space or ``{`` (a JSON record)."""
    if b"\\" in data or b'"' in data or b"\x7f" in data:
        return True
    codes = np.frombuffer(data, dtype=np.uint8)
    if np.isin(codes[np.concatenate([[0], ends[:-1] + 1])], _ODD_STARTS).any():
        return True
    controls = int(np.count_nonzero(codes < 0x20))
    return controls != data.count(b"\t") + data.count(b"\n")


_INT = r"-?(0|[1-9]\d{0,17})"
_INTS = re.compile(r"count|int|port")
_FLOATS = ("double", "time", "interval")
_TS = r"^\d{1,10}(\.\d{1,6})?$"
# The JSON fields the column rules read, where they are not text.
_JSON_INTS = frozenset({"id.orig_p", "id.resp_p", "status_code", "p"})
_JSON_LISTS = frozenset({"san.dns", "tx_hosts", "rx_hosts", "msg_types"})
_HOST = ("_system_name", "_node_name")


class _Fallback(Exception):
    """The block needs the per-line path."""


def _array(value: pa.Array | pa.ChunkedArray) -> pa.Array:
    return value.combine_chunks() if isinstance(value, pa.ChunkedArray) else value


def _null_where(mask: pa.Array, value: pa.Array) -> pa.Array:
    if not pc.any(mask).as_py():
        return value
    return pc.if_else(mask, pa.scalar(None, value.type), value)


def _valid(column: pa.Array, pattern: str) -> bool:
    return V.all_true(pc.fill_null(pc.match_substring_regex(column, pattern), True))


@dataclass
class _Field:
    """One TSV column: its JSON text in ``raw`` and its value as ``network.text`` gives it
    (a list's first element and all its elements joined)."""

    json: pa.Array
    first: pa.Array
    joined: pa.Array
    small_floats: bool = False  # Python writes these as 1e-05 where JSON has 0.00001


def _tsv_field(column: pa.Array, kind: str) -> _Field:
    unset, empty = pc.equal(column, "-"), pc.equal(column, "(empty)")
    plain = _null_where(pc.or_(unset, empty), column)  # the values with content
    if kind.startswith(("set[", "vector[")):
        inner = kind[kind.index("[") + 1 : -1]
        if _INTS.fullmatch(inner):
            if not _valid(plain, f"^{_INT}(,{_INT})*$"):
                raise _Fallback
            json = pc.binary_join_element_wise("[", plain, "]", "")
        elif inner in _FLOATS or inner == "bool":
            if plain.null_count != len(plain):
                raise _Fallback
            json = plain
        else:
            if V.count_true(pc.match_substring_regex(plain, r"(^|,)(-|\(empty\))?(,|$)")):
                raise _Fallback
            quoted = pc.replace_substring(plain, ",", '","')
            json = pc.binary_join_element_wise('["', quoted, '"]', "")
        json = pc.if_else(empty, "[]", json)
        first = pc.list_element(pc.split_pattern(plain, ",", max_splits=1), 0)
        return _Field(pc.fill_null(json, "null"), first, plain)
    small = False
    if _INTS.fullmatch(kind):
        if not _valid(plain, f"^{_INT}$"):
            raise _Fallback
        json = value = plain
    elif kind in _FLOATS:
        if not _valid(plain, r"^-?\d+(\.\d+)?$"):
            raise _Fallback
        numbers = pc.cast(plain, pa.float64())
        shortest = pc.cast(numbers, pa.string())
        if V.count_true(pc.match_substring_regex(shortest, "[^-0-9.]")):
            raise _Fallback
        value = json = pc.if_else(
            pc.match_substring(shortest, "."),
            shortest,
            pc.binary_join_element_wise(shortest, ".0", ""),
        )
        magnitude = pc.abs(numbers)
        small = V.count_true(pc.and_(pc.less(magnitude, 1e-4), pc.greater(magnitude, 0))) > 0
    elif kind == "bool":
        value = json = pc.if_else(pc.equal(plain, "T"), "true", "false")
    else:
        value = V.text(plain)  # an empty field is no value (as network.text has it)
        json = pc.binary_join_element_wise('"', plain, '"', "")
    json = pc.fill_null(pc.if_else(empty, '""', json), "null")
    return _Field(_array(json), _array(value), _array(value), small)


class _Columns:
    """:class:`Fields` of a block of TSV records, column-wise (None: null in every row)."""

    def __init__(self, fields: dict[str, _Field]) -> None:
        self.fields = fields

    def _get(self, name: str) -> _Field | None:
        found = self.fields.get(name)
        if found is not None and found.small_floats:
            raise _Fallback
        return found

    def first(self, *names: str) -> pa.Array | None:
        found = [f.first for n in names if (f := self._get(n)) is not None]
        if not found:
            return None
        return V.coalesce(*found) if len(found) > 1 else found[0]

    def joined(self, name: str) -> pa.Array | None:
        found = self._get(name)
        return None if found is None else found.joined

    def either(self, value: pa.Array | None, other: pa.Array | None) -> pa.Array | None:
        if value is None or other is None:
            return other if value is None else value
        return V.coalesce(value, other)

    def note(self, note: pa.Array | None, msg: pa.Array | None) -> pa.Array | None:
        if note is None or msg is None:
            return msg if note is None else note
        return V.coalesce(pc.binary_join_element_wise(note, msg, ": "), note, msg)


class _Names:
    """:class:`Fields` that only notes which fields the rules of a log read."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def first(self, *names: str) -> None:
        self.names += names

    def joined(self, name: str) -> None:
        self.names.append(name)

    def either(self, value: None, other: None) -> None:
        return None

    def note(self, note: None, msg: None) -> None:
        return None


def _json_schema(log: str) -> tuple[pa.Schema, list[str]]:
    """The fields of a JSON record of ``log`` the rules read (and the names of the objects
    their dotted names would be nested in, which the column-wise path does not read)."""
    names = _Names()
    column_rules(log, names)
    wanted = list(dict.fromkeys([*names.names, *_HOST]))
    nests = sorted({n.split(".", 1)[0] for n in wanted if "." in n} - set(wanted))
    fields = [("ts", pa.float64()), ("_path", pa.string())]
    for name in wanted:
        if name in _JSON_INTS:
            fields.append((name, pa.int64()))
        elif name in _JSON_LISTS:
            fields.append((name, pa.list_(pa.string())))
        else:
            fields.append((name, pa.string()))
    fields += [(n, pa.struct([])) for n in nests]
    return pa.schema(fields), nests


def _json_field(column: pa.Array) -> _Field:
    if pa.types.is_list(column.type):
        values = pc.list_flatten(column)
        if values.null_count or V.count_true(pc.equal(values, "")):
            raise _Fallback  # ``text`` drops these from a joined list
        joined = V.text(pc.binary_join(column, ","))
        return _Field(column, V.text(V.first_of_list(column)), joined)
    value = V.text(column)
    return _Field(column, value, value)


def _log_table(
    log: str,
    raw: pa.Array,
    micros: pa.Array,
    host: pa.Array | None,
    cols: Mapping[str, pa.Array | None],
) -> pa.Table:
    """The ``security_event`` rows of a block of one Zeek log, from its computed columns
    (the JSON and the TSV fast paths alike)."""
    rows = len(raw)
    ocsf = CLASSES.get(log, NETWORK)
    return V.event_table(
        uid=uid_column("zeek", raw),
        time=pc.cast(micros, pa.timestamp("us")),
        host=host,
        channel=CHANNEL,
        provider=pa.repeat(f"zeek/{log}", rows),
        classes=(pa.repeat(ocsf.uid, rows), pa.repeat(ocsf.name, rows)),
        event_id=None,
        record_id=None,
        columns=cols,
        raw=raw,
    )


def json_rows(
    block: Block, header: _Header, named: str, hint: str | None = None, again: bool = True
) -> tuple[pa.Table, Counter[str], str] | None:
    """The ``security_event`` rows of a block of Zeek JSON records of one log, the ignored
    records by log, and the log; computed column-wise; None where a line needs the per-line
    path (records of several logs, a nested record, a field of another type…).

    A record without ``_path`` is of the header's log or else ``named`` (the file name's),
    as on the per-line path. ``hint`` (the log of an earlier block) is only the first guess
    of whose fields to read: a wrong guess costs a second read, never other rows."""
    ends = block.line_ends()
    if ends is None:
        return None
    data = np.frombuffer(block.data, dtype=np.uint8)
    starts = np.concatenate([[0], ends[:-1] + 1])
    if not bool(np.all(data[starts] == ord("{"))):
        return None
    guess = header.path or hint or named
    schema, nests = _json_schema(guess)
    records = V.read_json(json_for_reader(block, len(ends), keep_spec(schema)), schema, len(ends))
    if records is None or any(records[n].null_count != len(ends) for n in nests):
        return None
    logs = pc.coalesce(V.text(_array(records["_path"])), pa.scalar(header.path or named))
    ignored: Counter[str] = Counter()
    skip = pc.is_in(logs, pa.array(sorted(IGNORED)))
    raw = None
    if V.count_true(skip):
        for log, count in Counter(pc.filter(logs, skip).to_pylist()).items():
            ignored[f"Zeek {log} records"] += count
        keep = pc.invert(skip)
        records, logs = records.filter(keep), pc.filter(logs, keep)
        try:
            raw = raw_column(block, ends).filter(keep)
        except pa.ArrowInvalid:
            return None
    if len(logs) and not V.all_true(pc.equal(logs, guess)):
        kinds = pc.unique(logs).to_pylist()
        if len(kinds) == 1 and again and header.path is None:
            # One log, not the one the file name tells: read again with its fields.
            return json_rows(block, header, named, hint=str(kinds[0]), again=False)
        return None  # several logs: the rules differ per row
    if raw is None:
        try:
            raw = raw_column(block, ends)
        except pa.ArrowInvalid:
            return None
    micros = V.epoch_micros(_array(records["ts"]))
    if micros is None:
        return None
    try:
        read = [n for n in schema.names[2:] if n not in nests]
        doc = _Columns({n: _json_field(_array(records[n])) for n in read})
        cols = column_rules(guess, doc)
        host = doc.first(*_HOST)
    except _Fallback:
        return None
    return _log_table(guess, raw, micros, host, cols), ignored, guess


def tsv_rows(block: Block, header: _Header, log: str) -> pa.Table | None:
    """The ``security_event`` rows of a block of TSV records (no header lines) computed
    column-wise; None where a line needs the per-line path."""
    fields = header.fields
    layout = (header.separator, header.set_separator, header.empty, header.unset)
    if (
        log in IGNORED
        or "ts" not in fields
        or layout != (b"\t", b",", b"(empty)", b"-")
        or len(set(fields)) != len(fields)
        or "_path" in fields
        or not all(_NAME.match(f) for f in [*fields, log])
    ):
        return None
    ends = block.line_ends(json=False)
    if ends is None or _odd_bytes(block.data, ends):
        return None
    types = header.types if len(header.types) == len(fields) else ["string"] * len(fields)
    try:
        table = pcsv.read_csv(
            pa.BufferReader(block.data),  # zero-copy
            read_options=pcsv.ReadOptions(
                column_names=fields, use_threads=False, block_size=len(block.data) + 1
            ),
            parse_options=pcsv.ParseOptions(
                delimiter="\t", quote_char=False, escape_char=False, ignore_empty_lines=False
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(fields, pa.string()),
                strings_can_be_null=False,
                null_values=[],
            ),
        )
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != len(ends):
        return None
    try:
        parsed = {
            name: _tsv_field(_array(table[name]), kind)
            for name, kind in zip(fields, types, strict=True)
        }
        ts = _array(table["ts"])
        if ts.null_count or not V.all_true(pc.match_substring_regex(ts, _TS)):
            return None
        micros = V.epoch_micros(pc.cast(ts, pa.float64()))
        if micros is None:
            return None
        doc = _Columns(parsed)
        cols = column_rules(log, doc)
        host = doc.first("_system_name", "_node_name")
    except _Fallback:
        return None
    parts: list[str | pa.Array] = [f'{{"_path":"{log}"']
    for name, found in parsed.items():
        parts += [f',"{name}":', found.json]
    raw = _array(pc.binary_join_element_wise(*parts, "}", ""))
    return _log_table(log, raw, micros, host, cols)


def _runs(path: Path) -> Iterator[tuple[Block, _Header] | Rejected]:
    """The file's records in runs read under one header, each with that header as it was:
    header lines (at the top, and again where logs were concatenated) split the blocks."""
    header = _Header()
    for block in blocks(path):
        if isinstance(block, Rejected):
            yield block
            continue
        data, start, number = block.data, 0, block.number
        # No '#' (one memchr) is no header line: the regex scans a block 20x slower.
        for found in _HEADER_LINE.finditer(data) if b"#" in data else ():
            if found.start() > start:
                run = Block(number, block.offset + start, data[start : found.start()])
                yield run, copy.copy(header)
                number += data.count(b"\n", start, found.start())
            header.read(found.group().rstrip(b"\r\n"))
            number += 1
            start = found.end()
        if start == 0:
            yield block, copy.copy(header)  # no header line: the block as read
        elif start < len(data):
            yield Block(number, block.offset + start, data[start:]), copy.copy(header)


class ZeekConnector:
    """``carewarden ingest zeek``: Zeek TSV or JSON logs into ``security_event``."""

    name: ClassVar[str] = "zeek"

    def __init__(self, columnwise: bool = True) -> None:
        """``columnwise=False`` reads every line on its own (the reference path, slower)."""
        self.ignored: Counter[str] = Counter()
        self.columnwise = columnwise
        self._json_log: str | None = None  # the log of the JSON records being read, once seen

    def discover(self, path: Path) -> list[Path]:
        return walk(path, SUFFIXES)

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        named = path_from_name(path.name)
        self._json_log = None
        # Runs are read column-wise on parse threads, in order; a run the fast path leaves
        # (None) is read line by line here.
        for run, fast in ordered_map(lambda run: self._fast_rows(run, named), _runs(path)):
            if isinstance(run, Rejected):
                yield run
                continue
            block, header = run
            if fast is None:
                yield from self.read_lines(block, header, named)
                continue
            table, ignored = fast
            self.ignored.update(ignored)
            if table.num_rows:
                yield Batch(TABLE, table)

    def _fast_rows(
        self, run: tuple[Block, _Header] | Rejected, named: str
    ) -> tuple[pa.Table, Counter[str]] | None:
        if isinstance(run, Rejected) or not self.columnwise:
            return None
        block, header = run
        block = block.with_lf_line_ends()
        if not block.data.startswith(b"{"):
            table = tsv_rows(block, header, header.path or named)
            return None if table is None else (table, Counter())
        read = json_rows(block, header, named, hint=self._json_log)
        if read is None:
            return None
        self._json_log = read[2]  # a guess for the next blocks; any value gives the same rows
        return read[0], read[1]

    def read_lines(self, block: Block, header: _Header, named: str) -> Iterator[Batch | Rejected]:
        """The per-line path: one record at a time, bad ones rejected with their line."""
        rows = EventRows()
        for item in block.lines():
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
                    try:
                        raw = orjson.dumps({"_path": log, **doc})
                    except orjson.JSONEncodeError as exc:  # a count past 64 bits
                        raise NotZeek(f"a value JSON cannot hold: {exc}") from None
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
