"""Helpers for testing Sigma rules (used by the test suite; handy for rule authors)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from carewarden.sigma.compiler import CompiledRule, Compiler
from carewarden.sigma.engine import SigmaEngine
from carewarden.telemetry.winevent import WinEvent

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def compile_yaml(text: str) -> CompiledRule:
    """The first rule of a YAML text, compiled."""
    rule = next(iter(SigmaCollection.from_yaml(text, collect_errors=True)))
    assert isinstance(rule, SigmaRule)
    compiler = Compiler()
    try:
        return compiler.rule(rule, "test.yml")
    finally:
        compiler.close()


def event(
    channel: str = SYSMON,
    event_id: int = 1,
    time: dt.datetime = dt.datetime(2026, 3, 2, 8, 0),
    host: str = "WS1",
    **fields: str,
) -> WinEvent:
    """A flat Windows event with the given EventData fields."""
    values = {"Channel": channel, "EventID": str(event_id), "Computer": host, **fields}
    return WinEvent(values, time, host, channel, event_id, None)


def fired(rule: CompiledRule, events: list[WinEvent]) -> tuple[set[int], set[int]]:
    """The events the rule matches: by the anchored Python path, and by DuckDB SQL alone."""
    fast = {m.event for m in SigmaEngine([rule]).evaluate(events)}
    sql_only = dataclasses.replace(rule, anchors=None, python=None)
    slow = {m.event for m in SigmaEngine([sql_only]).evaluate(events)}
    return fast, slow
