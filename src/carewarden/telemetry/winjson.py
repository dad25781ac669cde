"""Windows events already as JSON: Winlogbeat or NXLog exports (one object per line), the
``evtx_dump``/``evtx`` JSON shape, a JSON array of events, or pretty-printed objects one
after another. ``.gz`` is read transparently.

Line-delimited files are streamed; an array or pretty-printed file is read whole (such
exports are small: tools write large ones a line per event)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import orjson

from carewarden.connectors.base import MAX_RECORD_BYTES, open_binary, walk
from carewarden.errors import SourceError
from carewarden.model import Batch, Rejected, preview
from carewarden.telemetry.rows import EventRows, compact, drain
from carewarden.telemetry.winevent import NotAnEvent, from_json

SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")
WHOLE_FILE_LIMIT = 512 << 20


def _documents(path: Path) -> Iterator[tuple[int, bytes, Any] | Rejected]:
    """(line, raw bytes, parsed value) per event, or Rejected per bad line or value."""
    with open_binary(path) as handle:
        first = handle.readline(MAX_RECORD_BYTES + 1)
        if _line_delimited(first):
            yield from _lines(first, handle)
            return
        rest = handle.read(WHOLE_FILE_LIMIT)
        if handle.read(1):
            raise SourceError(
                "a JSON array or pretty-printed file over 512 MiB: export one event per line",
                path=str(path),
            )
    yield from _whole(first + rest)


def _line_delimited(first: bytes) -> bool:
    """One event per line, unless the file opens an array or a multi-line object."""
    start = first.strip()
    if start.startswith(b"["):
        return False
    if start.startswith(b"{"):
        try:
            orjson.loads(start)
        except orjson.JSONDecodeError:
            return False
    return True


def _lines(first: bytes, handle: Any) -> Iterator[tuple[int, bytes, Any] | Rejected]:
    number = 0
    offset = 0
    line = first
    while line:
        number += 1
        if len(line) > MAX_RECORD_BYTES:
            yield Rejected(number, offset, "record larger than 1 MiB", preview(line))
            while line and not line.endswith(b"\n"):  # skip the rest of the long line
                line = handle.readline(MAX_RECORD_BYTES)
        elif line.strip():
            try:
                yield number, line, orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield Rejected(number, offset, f"invalid JSON: {exc}", preview(line))
        offset += len(line)
        line = handle.readline(MAX_RECORD_BYTES + 1)


def _whole(data: bytes) -> Iterator[tuple[int, bytes, Any] | Rejected]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield Rejected(None, exc.start, f"not UTF-8: {exc.reason}", preview(data))
        return
    decoder = json.JSONDecoder()
    index = 0
    while True:
        while index < len(text) and text[index] in " \t\r\n,":
            index += 1
        if index >= len(text):
            return
        line = text.count("\n", 0, index) + 1
        try:
            value, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            yield Rejected(exc.lineno, exc.pos, f"invalid JSON: {exc.msg}", preview(text[index:]))
            return
        if isinstance(value, list):
            for item in value:
                yield line, orjson.dumps(item), item
        else:
            yield line, text[index:end].encode(), value
        index = end


class WinJsonConnector:
    """``carewarden ingest winjson``: Windows events as JSON into ``security_event``."""

    name: ClassVar[str] = "winjson"

    def discover(self, path: Path) -> list[Path]:
        return walk(path, SUFFIXES)

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        rows = EventRows()
        for item in _documents(path):
            if isinstance(item, Rejected):
                yield item
                continue
            line, raw, value = item
            try:
                event = from_json(value)
            except (NotAnEvent, ValueError) as exc:
                yield Rejected(line, None, str(exc), preview(raw))
                continue
            batch = rows.add(event, compact(value))
            if batch is not None:
                yield batch
        yield from drain(rows)
