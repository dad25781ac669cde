"""What the network-sensor connectors (Suricata, Zeek) share: reading a file line by line with
line numbers, times, and building ``security_event`` rows.

Network rows use the same normalised columns as Windows events; ``dns_query`` also holds the
HTTP host or TLS server name, ``file_path`` the file name, HTTP URI or certificate subject,
``status`` the action, response code or state, and ``threat_name`` the alert signature or
Zeek notice."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from blake3 import blake3

from carewarden.connectors.base import MAX_RECORD_BYTES, open_binary
from carewarden.model import Rejected, preview
from carewarden.telemetry.ocsf import OcsfClass

_OFFSET = re.compile(r"([+-]\d\d)(\d\d)$")
_FRACTION = re.compile(r"\.(\d{7,})")


def lines(path: Path) -> Iterator[tuple[int, bytes] | Rejected]:
    """(line number, bytes without the line end) per non-blank line; a line over 1 MiB is
    rejected and skipped."""
    with open_binary(path) as handle:
        yield from _lines(handle)


def _lines(handle: BinaryIO) -> Iterator[tuple[int, bytes] | Rejected]:
    number = 0
    offset = 0
    while True:
        line = handle.readline(MAX_RECORD_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_RECORD_BYTES:
            yield Rejected(number, offset, "record larger than 1 MiB", preview(line))
            while line and not line.endswith(b"\n"):
                offset += len(line)
                line = handle.readline(MAX_RECORD_BYTES)
        else:
            text = line.rstrip(b"\r\n")
            if text.strip():
                yield number, text
        offset += len(line)


def iso_time(value: object) -> dt.datetime:
    """An ISO-8601 time (``Z``, ``+01:00`` or ``+0100``; none means UTC) as naive UTC."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"time is not a string: {value!r}")
    stamp = _OFFSET.sub(r"\1:\2", value.strip().replace(" ", "T", 1))
    stamp = _FRACTION.sub(lambda m: "." + m.group(1)[:6], stamp)
    parsed = dt.datetime.fromisoformat(stamp)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def epoch_time(value: object) -> dt.datetime:
    """Epoch seconds (a number or its text) as naive UTC; an ISO string is accepted too."""
    if isinstance(value, str) and not _is_number(value):
        return iso_time(value)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"time is not epoch seconds: {value!r}")
    seconds = float(value)
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def text(value: object) -> str | None:
    """A column value as text: None for missing or empty, lists joined with commas."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        joined = ",".join(t for t in (text(v) for v in value) if t)
        return joined or None
    return str(value)


def flatten(doc: dict[str, Any]) -> dict[str, str]:
    """A JSON record as the flat text fields Sigma rules read: nested keys joined with dots
    (``{"id": {"orig_h": …}}`` → ``id.orig_h``), lists of values joined with commas (as
    Zeek writes its sets), a list of objects as one field per key (``dns.answers.rdata``:
    every answer's ``rdata``), booleans as ``true``/``false``; null and empty values left
    out."""
    out: dict[str, str] = {}
    _flatten(doc, "", out)
    return out


def _flatten(node: dict[str, Any], prefix: str, out: dict[str, str]) -> None:
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, name + ".", out)
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            collected: dict[str, list[str]] = {}
            for item in value:
                if isinstance(item, dict):
                    for sub, joined in flatten(item).items():
                        collected.setdefault(sub, []).append(joined)
            for sub, values in collected.items():
                out[f"{name}.{sub}"] = ",".join(values)
        else:
            found = text(value)
            if found is not None:
                out[name] = found


def integer(value: object, bits: int = 64) -> int | None:
    """An integer column value, None when absent or out of range."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    limit = 1 << (bits - 1)
    return number if -limit <= number < limit else None


def row(
    *,
    uid_prefix: str,
    raw: bytes,
    time: dt.datetime,
    host: str | None,
    channel: str,
    provider: str,
    ocsf: OcsfClass,
    event_id: int | None = None,
    record_id: int | None = None,
    columns: dict[str, str | None],
    key: bytes | None = None,
) -> dict[str, object]:
    """One ``security_event`` row; the id is a content hash of the raw record (or of ``key``
    where given), so the same record from two overlapping files is stored once."""
    out: dict[str, object] = {
        "event_uid": f"{uid_prefix}:" + blake3(raw if key is None else key).hexdigest()[:32],
        "time": time,
        "host": host,
        "channel": channel,
        "provider": provider,
        "event_id": event_id,
        "record_id": record_id,
        "class_uid": ocsf.uid,
        "class_name": ocsf.name,
        "raw": raw.decode("utf-8", errors="replace"),
    }
    out.update(columns)
    return out
