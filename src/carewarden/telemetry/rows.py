"""``security_event`` rows: one per Windows event, normalised columns plus the raw record."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pyarrow as pa
from blake3 import blake3

from carewarden.model import Batch, Rejected
from carewarden.tables import SCHEMAS
from carewarden.telemetry.ocsf import COLUMNS, classify, normalise
from carewarden.telemetry.winevent import WinEvent

TABLE = "security_event"
BATCH_EVENTS = 50_000

SCHEMA = SCHEMAS[TABLE]
assert SCHEMA.names[9:-1] == list(COLUMNS), "ocsf.COLUMNS and the table must list the same"


def event_uid(event: WinEvent, raw: bytes) -> str:
    """A stable id: host/channel/record number where the event has one, else a content hash
    (so the same event from two overlapping exports is stored once)."""
    if event.record_id is not None and event.host:
        return f"{event.host}/{event.channel}/{event.record_id}"
    return "b3:" + blake3(raw).hexdigest()[:32]


class EventRows:
    """Accumulates events and yields them as ``security_event`` batches."""

    def __init__(self, size: int = BATCH_EVENTS) -> None:
        self.size = size
        self._rows: list[dict[str, object]] = []

    def add(self, event: WinEvent, raw: bytes) -> Batch | None:
        ocsf = classify(event)
        row: dict[str, object] = {
            "event_uid": event_uid(event, raw),
            "time": event.time,
            "host": event.host or None,
            "channel": event.channel or None,
            "provider": event.fields.get("Provider_Name"),
            "event_id": event.event_id,
            "record_id": event.record_id,
            "class_uid": ocsf.uid,
            "class_name": ocsf.name,
            "raw": raw.decode("utf-8", errors="replace"),
        }
        row.update(normalise(event))
        self._rows.append(row)
        return self.flush() if len(self._rows) >= self.size else None

    def add_row(self, row: dict[str, object]) -> Batch | None:
        """A row built by a non-Windows connector (network sensors): columns it lacks are
        null."""
        self._rows.append(row)
        return self.flush() if len(self._rows) >= self.size else None

    def flush(self) -> Batch | None:
        if not self._rows:
            return None
        table = pa.Table.from_pylist(self._rows, schema=SCHEMA)
        self._rows = []
        return Batch(TABLE, table)


def compact(doc: object) -> bytes:
    return orjson.dumps(doc)


def drain(rows: EventRows) -> Iterator[Batch | Rejected]:
    last = rows.flush()
    if last is not None:
        yield last
