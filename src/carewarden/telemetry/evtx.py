"""Windows EVTX files (any channel, Sysmon included), parsed by the Rust-backed ``evtx``
package in JSON mode. A damaged chunk is quarantined with the record numbers it held; the
records of the other chunks still land."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import evtx
import orjson

from carewarden.connectors.base import open_binary, walk
from carewarden.errors import SourceError
from carewarden.model import Batch, Rejected, preview
from carewarden.telemetry.rows import EventRows, compact, drain
from carewarden.telemetry.winevent import NotAnEvent, WinEvent, from_evtx_json

SUFFIXES = (".evtx", ".evtx.gz")


def open_parser(path: Path) -> evtx.PyEvtxParser:
    """A parser over the file (a ``.gz`` one is decompressed into memory first: the parser
    needs to seek)."""
    try:
        if path.suffix == ".gz":
            with open_binary(path) as handle:
                return evtx.PyEvtxParser(io.BytesIO(handle.read()))
        return evtx.PyEvtxParser(str(path))
    except (OSError, RuntimeError, EOFError) as exc:
        raise SourceError(f"not a readable EVTX file: {exc}", path=str(path)) from None


def iter_events(path: Path) -> Iterator[tuple[WinEvent, dict[str, Any]] | Rejected]:
    """Every event of the file with its JSON document, or a :class:`Rejected` for each
    record or chunk that cannot be read. ``line`` is the record's position in the file."""
    records = open_parser(path).records_json()
    position = 0
    while True:
        try:
            record: dict[str, Any] = next(records)  # type: ignore[arg-type]
        except StopIteration:
            return
        except (RuntimeError, OSError) as exc:
            yield Rejected(position + 1 or None, None, f"unreadable EVTX data: {exc}")
            continue
        position += 1
        try:
            doc = orjson.loads(record["data"])
            yield from_evtx_json(doc), doc
        except (orjson.JSONDecodeError, NotAnEvent, ValueError) as exc:
            number = record.get("event_record_id")
            yield Rejected(position, None, f"record {number}: {exc}", preview(record["data"]))


class EvtxConnector:
    """``carewarden ingest evtx``: ``.evtx`` (or ``.evtx.gz``) files into ``security_event``."""

    name: ClassVar[str] = "evtx"

    def discover(self, path: Path) -> list[Path]:
        return walk(path, SUFFIXES)

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        rows = EventRows()
        for item in iter_events(path):
            if isinstance(item, Rejected):
                yield item
                continue
            event, doc = item
            batch = rows.add(event, compact(doc))
            if batch is not None:
                yield batch
        yield from drain(rows)
