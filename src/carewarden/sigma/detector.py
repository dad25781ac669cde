"""The Sigma detector: the imported rules over the stored events.

It streams ``security_event`` in batches (memory bounded by the batch), rebuilds each flat
event from its raw record (a Windows event; the parsed fields of a syslog line or an
osquery row, which Linux rules read; a Zeek record or a Suricata event, which network rules
read), and runs the compiled rules through the engine. Its
alerts join the shared alert table through :func:`carewarden.detect.engine.run_detectors`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import orjson

from carewarden.detect.engine import Alert, DetectContext
from carewarden.gcpolicy import bulk_allocation
from carewarden.sigma.alerts import AlertBuilder
from carewarden.sigma.compiler import CompiledRule
from carewarden.sigma.engine import SigmaEngine
from carewarden.sigma.logsources import NOT_WINDOWS
from carewarden.store import Store
from carewarden.telemetry import osquery, suricata, syslog, zeek
from carewarden.telemetry.winevent import NotAnEvent, WinEvent, from_json

BATCH = 50_000


def stored_rules(store: Store) -> tuple[list[CompiledRule], dict[str, str]]:
    """The imported rules that compiled, and each rule's reference."""
    rows = store.arrow(
        "SELECT rule_id, title, kind, path, author, level, status, tags, logsource, reference, "
        "compiled, error FROM sigma_rule WHERE error IS NULL AND compiled IS NOT NULL "
        "ORDER BY rule_id"
    ).to_pylist()
    rules = [CompiledRule.from_row(row) for row in rows]
    return rules, {row["rule_id"]: row["reference"] or row["path"] for row in rows}


def rebuild(
    raw: str,
    channel: str | None,
    time: dt.datetime,
    host: str | None,
    provider: str | None = None,
) -> WinEvent:
    """The flat event Sigma rules read, from a stored row. A Zeek record's log path comes
    from its provider (``zeek/dns``); a network event's host is the originator's address
    (Zeek's ``id.orig_h``, EVE's ``src_ip``), the sensor's name where it has none."""
    doc: Any = orjson.loads(raw)
    if channel in NOT_WINDOWS:
        if not isinstance(doc, dict):
            raise NotAnEvent("not a JSON object")
        if channel == zeek.CHANNEL:
            path = (provider or "").removeprefix("zeek/") or str(doc.get("_path") or "")
            fields = zeek.flat_fields(doc, path)
        elif channel == suricata.CHANNEL:
            fields = suricata.flat_fields(doc)
        elif channel == osquery.CHANNEL:
            fields = osquery.flat_fields(doc)
        else:
            fields = syslog.flat_fields(doc)
        if channel in (zeek.CHANNEL, suricata.CHANNEL):
            # The device a network alert is about: the connection's originator.
            host = fields.get("id.orig_h") or fields.get("src_ip") or host
        return WinEvent(fields, time, host or "", channel, None, None)
    return from_json(doc)


class SigmaDetector:
    """Every imported Sigma rule over every stored event of its log source."""

    id: ClassVar[str] = "sigma"

    def __init__(self, batch: int = BATCH) -> None:
        self.batch = batch
        self.events = 0

    def run(self, store: Store, context: DetectContext) -> list[Alert]:
        with bulk_allocation():
            return self._run(store)

    def _run(self, store: Store) -> list[Alert]:
        rules, references = stored_rules(store)
        if not rules:
            return []
        engine = SigmaEngine(rules)
        builder = AlertBuilder(rules, references)
        # Events of a non-Windows source no imported rule reads are not rebuilt.
        read = {source.channel for route in engine.routes for source in route.sources}
        unread = NOT_WINDOWS - read
        sql = (
            "SELECT event_uid, raw, channel, time, host, provider FROM security_event "
            "ORDER BY time, event_uid"
        )
        for batch in store.batches(sql, size=self.batch):
            uids = batch.column(0).to_pylist()
            events: list[WinEvent] = []
            kept: list[str] = []
            for uid, raw, channel, time, host, provider in zip(
                uids, *(batch.column(i).to_pylist() for i in range(1, 6)), strict=True
            ):
                if channel in unread:
                    continue
                try:
                    events.append(rebuild(raw, channel, time, host, provider))
                except (orjson.JSONDecodeError, NotAnEvent, ValueError):
                    continue  # stored by an ingest that read it: cannot happen but never stops
                kept.append(uid)
            self.events += len(events)
            for match in engine.evaluate(events):
                builder.add(match.rule, events[match.event], kept[match.event])
        return builder.alerts()
