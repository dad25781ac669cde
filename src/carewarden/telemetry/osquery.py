"""osquery result logs (JSON lines, ``osqueryd.results.log``; ``.gz`` too) into
``security_event``.

Three shapes are read: differential events (one row a line: ``name``, ``hostIdentifier``,
``calendarTime``/``unixTime``, ``columns``, ``action`` added or removed), batched
differentials (``diffResults`` with ``added`` and ``removed`` lists) and snapshots
(``snapshot``, a list of rows). Every row becomes one event, stored in ``raw`` as the event
form of osquery (the line's keys, ``action`` and that row's ``columns``), keys sorted: the
same row logged in the event or the batched form is the same event, and its id is a hash of
that record, so ingesting again adds nothing.

The class comes from the table the query reads, found in the query's name (packs name them
``pack_<pack>_<query>``, the query usually named after its table): processes and
process_events → process activity (1007); listening_ports, socket_events and
process_open_sockets → network activity (4001); file_events → file system activity (1001);
logged_in_users and last → authentication (3002); any other → base event (0) with the
columns kept in ``raw``. An evented table's own ``time`` column is the event time; otherwise
``unixTime`` (or ``calendarTime``). osquery's status log lines are counted as ignored."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import orjson

from carewarden.connectors.base import walk
from carewarden.model import Batch, Rejected, preview
from carewarden.telemetry.network import epoch_time, lines, row, text
from carewarden.telemetry.ocsf import AUTHENTICATION, FILE, NETWORK, PROCESS, OcsfClass
from carewarden.telemetry.rows import EventRows, drain

SUFFIXES = (".log", ".log.gz", ".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
CHANNEL = "osquery"
BASE = OcsfClass(0, "base_event")

TABLES: dict[str, OcsfClass] = {
    "processes": PROCESS,
    "process_events": PROCESS,
    "bpf_process_events": PROCESS,
    "es_process_events": PROCESS,
    "listening_ports": NETWORK,
    "socket_events": NETWORK,
    "bpf_socket_events": NETWORK,
    "process_open_sockets": NETWORK,
    "file_events": FILE,
    "ntfs_journal_events": FILE,
    "logged_in_users": AUTHENTICATION,
    "last": AUTHENTICATION,
}
_BY_LENGTH = sorted(TABLES, key=len, reverse=True)
_TABLE = {
    name: re.compile(rf"(?:^|[^a-z0-9]){re.escape(name)}(?:$|[^a-z0-9])") for name in TABLES
}
ENVELOPE_SKIP = frozenset({"snapshot", "diffResults", "columns", "action"})
_CALENDAR = "%a %b %d %H:%M:%S %Y %Z"


class NotOsquery(ValueError):
    """A line that is no osquery result record."""


def table_of(name: str) -> str | None:
    """The osquery table a query name stands for (``pack_ir_process_events`` →
    process_events), None when it names none this module knows."""
    lower = name.lower()
    for table in _BY_LENGTH:
        if table in lower and _TABLE[table].search(lower):
            return table
    return None


def _get(columns: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = text(columns.get(name))
        if value is not None:
            return value
    return None


def columns_of(table: str | None, action: str, cols: dict[str, Any]) -> dict[str, str | None]:
    """The normalised columns of one row of ``table``."""
    out: dict[str, str | None] = {"status": action}
    if table in ("processes", "process_events", "bpf_process_events", "es_process_events"):
        out["process_name"] = _get(cols, "path", "name")
        out["process_pid"] = _get(cols, "pid")
        out["process_cmd_line"] = _get(cols, "cmdline")
        out["parent_process_name"] = _get(cols, "parent_path", "parent_name")
        out["user_name"] = _get(cols, "username", "uid")
    elif table in ("listening_ports", "socket_events", "bpf_socket_events", "process_open_sockets"):
        out["src_ip"] = _get(cols, "local_address", "address")
        out["src_port"] = _get(cols, "local_port", "port")
        out["dst_ip"] = _get(cols, "remote_address")
        out["dst_port"] = _get(cols, "remote_port")
        out["process_pid"] = _get(cols, "pid")
        out["process_name"] = _get(cols, "path") if table != "listening_ports" else None
        if table == "listening_ports":
            out["status"] = "listening" if action != "removed" else "closed"
        else:
            out["status"] = _get(cols, "action", "state") or action
        out["logon_type"] = _get(cols, "protocol")
    elif table in ("file_events", "ntfs_journal_events"):
        out["file_path"] = _get(cols, "target_path", "path")
        out["status"] = _get(cols, "action") or action
        out["user_name"] = _get(cols, "uid")
    elif table == "logged_in_users":
        out["user_name"] = _get(cols, "user")
        out["src_ip"] = _get(cols, "host")
        out["logon_type"] = _get(cols, "type", "tty")
        out["process_pid"] = _get(cols, "pid")
        out["status"] = "logoff" if action == "removed" else "success"
    elif table == "last":
        out["user_name"] = _get(cols, "username")
        out["src_ip"] = _get(cols, "host")
        out["logon_type"] = _get(cols, "tty")
        out["process_pid"] = _get(cols, "pid")
        out["status"] = "logoff" if _get(cols, "type") == "8" else "success"
    return out


def envelope_time(doc: dict[str, Any]) -> dt.datetime:
    """``unixTime`` (number or text), else ``calendarTime``."""
    unix = doc.get("unixTime")
    if unix is not None and not isinstance(unix, bool):
        try:
            return epoch_time(unix)
        except (ValueError, OverflowError, OSError) as exc:
            raise NotOsquery(f"bad unixTime: {exc}") from None
    calendar = doc.get("calendarTime")
    if isinstance(calendar, str):
        try:
            parsed = dt.datetime.strptime(calendar, _CALENDAR)
        except ValueError:
            raise NotOsquery(f"bad calendarTime {calendar!r}") from None
        return parsed
    raise NotOsquery("no unixTime or calendarTime")


def _row_time(table: str | None, cols: dict[str, Any], fallback: dt.datetime) -> dt.datetime:
    if table is None or not table.endswith("_events"):
        return fallback
    value = cols.get("time")
    if value in (None, "", "0", 0) or isinstance(value, bool):
        return fallback
    try:
        return epoch_time(value)
    except (ValueError, OverflowError, OSError):
        return fallback


def rows_of(doc: object) -> Iterator[tuple[str, dict[str, Any]] | str]:
    """(action, columns) per row of one result record, or an error text per bad row."""
    if not isinstance(doc, dict):
        raise NotOsquery("not an osquery result: not a JSON object")
    if "snapshot" in doc:
        snapshot = doc["snapshot"]
        if not isinstance(snapshot, list):
            raise NotOsquery("snapshot is not a list")
        for number, cols in enumerate(snapshot, 1):
            if isinstance(cols, dict):
                yield "snapshot", cols
            else:
                yield f"snapshot row {number} is not an object"
    elif "diffResults" in doc:
        diff = doc["diffResults"]
        if not isinstance(diff, dict):
            raise NotOsquery("diffResults is not an object")
        for action in ("added", "removed"):
            part = diff.get(action) or []
            if not isinstance(part, list):
                yield f"diffResults.{action} is not a list"
                continue
            for number, cols in enumerate(part, 1):
                if isinstance(cols, dict):
                    yield action, cols
                else:
                    yield f"diffResults.{action} row {number} is not an object"
    elif "columns" in doc:
        cols = doc["columns"]
        if not isinstance(cols, dict):
            raise NotOsquery("columns is not an object")
        kind = doc.get("action")
        if not isinstance(kind, str) or not kind:
            raise NotOsquery("a differential result without an action")
        yield kind, cols
    else:
        raise NotOsquery("not an osquery result: no columns, diffResults or snapshot")


def to_rows(doc: dict[str, Any]) -> Iterator[dict[str, object] | str]:
    """The rows of one result record (its envelope checked first), an error text per bad
    row."""
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise NotOsquery("not an osquery result: no query name")
    host = doc.get("hostIdentifier")
    if host is not None and not isinstance(host, str):
        raise NotOsquery("hostIdentifier is not a string")
    when = envelope_time(doc)
    envelope = {k: v for k, v in doc.items() if k not in ENVELOPE_SKIP}
    table = table_of(name)
    ocsf = TABLES.get(table, BASE) if table else BASE
    for item in rows_of(doc):
        if isinstance(item, str):
            yield item
            continue
        action, cols = item
        raw = orjson.dumps(
            {**envelope, "action": action, "columns": cols}, option=orjson.OPT_SORT_KEYS
        )
        yield row(
            uid_prefix=CHANNEL,
            raw=raw,
            time=_row_time(table, cols, when),
            host=host or None,
            channel=CHANNEL,
            provider=f"osquery/{name}",
            ocsf=ocsf,
            columns=columns_of(table, action, cols),
        )


def _is_status(doc: object) -> bool:
    return isinstance(doc, dict) and "severity" in doc and "message" in doc and "name" not in doc


class OsqueryConnector:
    """``carewarden ingest osquery``: osquery result logs into ``security_event``."""

    name: ClassVar[str] = "osquery"

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
                doc = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield Rejected(number, None, f"invalid JSON: {exc}", preview(raw))
                continue
            if _is_status(doc):
                self.ignored["osquery status log records"] += 1
                continue
            try:
                if not isinstance(doc, dict):
                    raise NotOsquery("not an osquery result: not a JSON object")
                built = list(to_rows(doc))
            except NotOsquery as exc:
                yield Rejected(number, None, str(exc), preview(raw))
                continue
            if not built:
                self.ignored["osquery results with no rows"] += 1
            for one in built:
                if isinstance(one, str):
                    yield Rejected(number, None, one, preview(raw))
                    continue
                batch = rows.add_row(one)
                if batch is not None:
                    yield batch
        yield from drain(rows)


def flat_fields(doc: dict[str, Any]) -> dict[str, str]:
    """The flat record Sigma rules read from a stored ``raw``: each column under its name,
    with the query ``name``, ``hostIdentifier``, ``action`` and the ``table`` it reads."""
    out: dict[str, str] = {}
    cols = doc.get("columns")
    if isinstance(cols, dict):
        out.update({k: text(v) or "" for k, v in cols.items()})
    for key in ("name", "hostIdentifier", "action"):
        value = doc.get(key)
        if isinstance(value, str):
            out[key] = value
    name = doc.get("name")
    out["table"] = (table_of(name) if isinstance(name, str) else None) or ""
    return out
