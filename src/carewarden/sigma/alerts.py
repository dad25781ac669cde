"""Sigma matches as alerts of the shared ``alert`` table, and Sigma correlation rules.

A rule's matches on one host on one day are one alert, keyed like every other alert
(:func:`carewarden.detect.engine.alert_key` over rule id and host), so detecting again adds
nothing. The alert carries the rule's own id, title, author and a reference to the rule
file (the Detection Rule License asks for that credit), its level as severity, its ATT&CK
tags, the host and the ids of the matching events.

Correlation rules (event_count, value_count, temporal) are evaluated over the matches of
the rules they reference, kept with their group-by values: memory grows with matches, not
with events.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from carewarden.detect.engine import Alert, alert_key
from carewarden.sigma.compiler import CompiledRule, Correlation
from carewarden.telemetry.winevent import WinEvent

MAX_EVENT_IDS = 1_000  # evidence kept per alert; the explanation gives the full count
DRL = "Detection Rule License 1.1"


@dataclass
class _Group:
    rule: CompiledRule
    host: str
    first: dt.datetime
    last: dt.datetime
    user: str | None
    example: str
    count: int = 0
    event_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Hit:
    """One match of a rule that a correlation references."""

    rule_id: str
    time: dt.datetime
    uid: str
    host: str
    values: dict[str, str | None]


def _get(event: WinEvent, name: str) -> str | None:
    found = event.fields.get(name)
    if found is not None:
        return found
    lower = name.lower()
    for key, value in event.fields.items():
        if key.lower() == lower:
            return value
    return None


def _example(event: WinEvent) -> str:
    for name in (
        "CommandLine",
        "Image",
        "TargetFilename",
        "TargetObject",
        "QueryName",
        "ScriptBlockText",
        "ServiceName",
        "TargetUserName",
        "cmdline",
        "target_path",
        "message",
        "query",
        "dns.rrname",
        "dns.queries.rrname",
        "uri",
        "http.url",
        "name",
        "operation",
        "id.resp_h",
        "dest_ip",
    ):
        value = event.fields.get(name)
        if value:
            return f"{name}: {value[:160]}"
    if event.event_id is None:
        return event.channel or "event"
    return f"{event.channel or 'event'} {event.event_id}"


class AlertBuilder:
    """Collects matches across batches; :meth:`alerts` turns them into alerts."""

    def __init__(self, rules: list[CompiledRule], source: dict[str, str]) -> None:
        self.groups: dict[tuple[str, str, dt.date], _Group] = {}
        self.reference = source  # rule id -> reference to the rule
        self.correlations = [r for r in rules if r.ok and r.correlation is not None]
        self.wanted: dict[str, set[str]] = defaultdict(set)  # rule id -> fields to keep
        for rule in self.correlations:
            assert rule.correlation is not None
            for referenced in rule.correlation.rules:
                self.wanted[referenced].update(rule.correlation.fields.get(referenced, {}).values())
                if rule.correlation.value_field:
                    self.wanted[referenced].add(rule.correlation.value_field)
        self.hits: list[Hit] = []
        self.matches = 0

    def add(self, rule: CompiledRule, event: WinEvent, uid: str) -> None:
        self.matches += 1
        if rule.rule_id in self.wanted:
            self.hits.append(
                Hit(
                    rule.rule_id,
                    event.time,
                    uid,
                    event.host,
                    {name: _get(event, name) for name in self.wanted[rule.rule_id]},
                )
            )
        if not rule.alerts:
            return
        key = (rule.rule_id, event.host, event.time.date())
        group = self.groups.get(key)
        if group is None:
            user = (
                _get(event, "User")
                or _get(event, "TargetUserName")
                or _get(event, "SubjectUserName")
            )
            group = _Group(rule, event.host, event.time, event.time, user, _example(event))
            self.groups[key] = group
        group.count += 1
        group.first = min(group.first, event.time)
        group.last = max(group.last, event.time)
        if len(group.event_ids) < MAX_EVENT_IDS:
            group.event_ids.append(uid)

    def alerts(self) -> list[Alert]:
        out = [self._alert(g) for g in self.groups.values()]
        for rule in self.correlations:
            out.extend(self._correlate(rule))
        return out

    def _alert(self, group: _Group) -> Alert:
        rule = group.rule
        host = group.host or "an unnamed host"
        reference = self.reference.get(rule.rule_id, rule.path)
        explanation = (
            f'Sigma rule "{rule.title}" ({rule.level or "no level"}) matched '
            f"{group.count:,} event(s) on {host} between {group.first:%Y-%m-%d %H:%M:%S} and "
            f"{group.last:%H:%M:%S} UTC; first: {group.example}. "
            f"Rule by {rule.author or 'unknown author'}, {reference} ({DRL})."
        )
        return Alert(
            alert_id=alert_key(rule.rule_id, group.host, None, group.first.date()),
            rule_id=rule.rule_id,
            title=rule.title,
            severity=rule.severity,
            score=rule.score,
            user_id=group.user,
            patient_id=None,
            first_seen=group.first,
            last_seen=group.last,
            event_ids=sorted(set(group.event_ids)),
            explanation=explanation,
            mapping=rule.attack(),
            host=group.host or None,
            author=rule.author,
            reference=self.reference.get(rule.rule_id, rule.path),
        )

    def _correlate(self, rule: CompiledRule) -> list[Alert]:
        correlation = rule.correlation
        assert correlation is not None
        by_group: dict[tuple[str | None, ...], list[Hit]] = defaultdict(list)
        for hit in self.hits:
            if hit.rule_id not in correlation.rules:
                continue
            names = correlation.fields.get(hit.rule_id, {})
            key = tuple(hit.values.get(names.get(g, g)) for g in correlation.group_by)
            by_group[key].append(hit)
        alerts = []
        for key, hits in by_group.items():
            window = fire(correlation, sorted(hits, key=lambda h: h.time))
            if window is None:
                continue
            first, last = window[0].time, window[-1].time
            grouping = ", ".join(
                f"{name}={value}" for name, value in zip(correlation.group_by, key, strict=True)
            )
            host = window[0].host
            alerts.append(
                Alert(
                    alert_id=alert_key(rule.rule_id, grouping or host, None, first.date()),
                    rule_id=rule.rule_id,
                    title=rule.title,
                    severity=rule.severity,
                    score=rule.score,
                    user_id=None,
                    patient_id=None,
                    first_seen=first,
                    last_seen=last,
                    event_ids=sorted({h.uid for h in window})[:MAX_EVENT_IDS],
                    explanation=(
                        f'Sigma correlation "{rule.title}" ({correlation.type}, '
                        f"{correlation.op} {correlation.count} within "
                        f"{correlation.timespan_s}s) held for {grouping or 'all events'}: "
                        f"{len(window)} matching event(s) from {first:%Y-%m-%d %H:%M:%S} to "
                        f"{last:%H:%M:%S} UTC. Rule by {rule.author or 'unknown author'}, "
                        f"{self.reference.get(rule.rule_id, rule.path)} ({DRL})."
                    ),
                    mapping=rule.attack(),
                    host=host or None,
                    author=rule.author,
                    reference=self.reference.get(rule.rule_id, rule.path),
                )
            )
        return alerts


_OPS: dict[str, Callable[[int, int], bool]] = {
    "gte": operator.ge,
    "gt": operator.gt,
    "lte": operator.le,
    "lt": operator.lt,
    "eq": operator.eq,
    "neq": operator.ne,
}


def _measure(correlation: Correlation, window: list[Hit]) -> int:
    if correlation.type == "event_count":
        return len(window)
    if correlation.type == "value_count":
        name = correlation.value_field or ""
        return len({h.values.get(name) for h in window if h.values.get(name) is not None})
    return len({h.rule_id for h in window})  # temporal: how many of the rules were seen


def fire(correlation: Correlation, hits: list[Hit]) -> list[Hit] | None:
    """The first window (hits sorted by time, each window starting at a hit and spanning
    the time span) where the correlation's condition holds, or None."""
    span = dt.timedelta(seconds=correlation.timespan_s)
    compare = _OPS[correlation.op]
    target = len(correlation.rules) if correlation.type == "temporal" else correlation.count
    end = 0
    for start, first in enumerate(hits):
        while end < len(hits) and hits[end].time - first.time <= span:
            end += 1
        window = hits[start:end]
        if compare(_measure(correlation, window), target):
            return window
    return None
