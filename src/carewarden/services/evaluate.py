"""How well the alerts in a store find the violations the synthetic hospital planted.

``carewarden synth`` writes ``labels.jsonl``, one JSON object per planted violation::

    {"kind": "family", "user": "pr7", "patients": ["pt3"], "event_ids": ["ae12", "ae13"],
     "start": "2026-03-03T13:13:57Z", "end": "2026-03-03T13:20:01Z", "repeat": false}

:func:`load_labels` reads it; :func:`evaluate` compares it with the store's ``alert`` table.

Matching
--------
An alert *matches* a label when the alert's ``user_id`` equals the label's ``user`` (an alert
without a user matches nothing) and at least one of:

1. the alert's ``event_ids`` and the label's ``event_ids`` share an id;
2. the alert's ``patient_id`` is one of the label's ``patients`` and the alert's
   ``[first_seen, last_seen]`` overlaps the label's ``[start, end]`` widened by one day on
   each side (``[start - 1 day, end + 1 day]``);
3. the alert is user-level (``patient_id`` is NULL) and its ``[first_seen, last_seen]``
   overlaps that widened span.

Intervals are closed: touching ends overlap. Every time is naive UTC, as in the store.

Figures
-------
- A label is *detected* when at least one alert matches it. Recall (per kind and overall) is
  detected labels / planted labels.
- An alert is a *true positive* when it matches at least one label. Precision is true-positive
  alerts / alerts (per rule too).
- Precision at the budget ranks alerts by score (highest first), ties broken by
  ``first_seen`` (earliest first) then ``alert_id``, and is the true positives among the first
  ``budget`` alerts divided by how many alerts that is (``min(budget, alerts)``).
- Alerts per 1,000 accesses is alerts / ``ehr_access`` rows * 1000.

A ratio whose denominator is zero (no labels of a kind, no alerts, no accesses) is ``None``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from carewarden.errors import ConfigError
from carewarden.store import Store
from carewarden.synth import KINDS

WIDEN = dt.timedelta(days=1)
"""How far a label's [start, end] is widened on each side for time-based matching."""

DEFAULT_BUDGET = 20


@dataclass(frozen=True)
class Label:
    """One planted violation from ``labels.jsonl``. Times are naive UTC."""

    kind: str
    user: str
    patients: tuple[str, ...]
    event_ids: tuple[str, ...]
    start: dt.datetime
    end: dt.datetime
    repeat: bool = False


@dataclass(frozen=True)
class AlertRow:
    """The fields of a stored alert that evaluation needs."""

    alert_id: str
    rule_id: str
    score: int
    user_id: str | None
    patient_id: str | None
    first_seen: dt.datetime
    last_seen: dt.datetime
    event_ids: tuple[str, ...]


@dataclass(frozen=True)
class KindFigures:
    kind: str
    planted: int
    detected: int
    recall: float | None


@dataclass(frozen=True)
class RuleFigures:
    rule_id: str
    alerts: int
    true_positives: int
    precision: float | None


@dataclass(frozen=True)
class Evaluation:
    """The figures of one evaluation (see the module docstring for their definitions)."""

    labels: int
    detected: int
    recall: float | None
    by_kind: list[KindFigures]
    alerts: int
    true_positives: int
    precision: float | None
    budget: int
    budget_alerts: int  # alerts ranked within the budget: min(budget, alerts)
    budget_true_positives: int
    precision_at_budget: float | None
    accesses: int
    alerts_per_1000_accesses: float | None
    by_rule: list[RuleFigures]

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready figures."""
        return asdict(self)


# -- labels ------------------------------------------------------------------------------


def _parse_time(value: object, field: str) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError(f"{field!r} must be an ISO 8601 time string")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{field!r} is not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _string_list(value: object, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{field!r} must be a list of strings")
    return tuple(value)


def _nonempty_string(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field!r} must be a non-empty string")
    return value


def parse_label(record: object) -> Label:
    """One decoded JSON line as a :class:`Label`; ``ValueError`` says what is wrong."""
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    missing = [
        f for f in ("kind", "user", "patients", "event_ids", "start", "end") if f not in record
    ]
    if missing:
        raise ValueError("missing field(s) " + ", ".join(repr(f) for f in missing))
    repeat = record.get("repeat", False)
    if not isinstance(repeat, bool):
        raise ValueError("'repeat' must be true or false")
    start = _parse_time(record["start"], "start")
    end = _parse_time(record["end"], "end")
    if end < start:
        raise ValueError(f"'end' ({record['end']}) is before 'start' ({record['start']})")
    return Label(
        kind=_nonempty_string(record["kind"], "kind"),
        user=_nonempty_string(record["user"], "user"),
        patients=_string_list(record["patients"], "patients"),
        event_ids=_string_list(record["event_ids"], "event_ids"),
        start=start,
        end=end,
        repeat=repeat,
    )


def load_labels(path: Path) -> list[Label]:
    """Read ``labels.jsonl`` (blank lines are skipped).

    Raises :class:`ConfigError` naming ``file:line`` for a line that is not valid JSON or not
    a valid label, and naming the file when it cannot be read.
    """
    labels: list[Label] = []
    try:
        handle = path.open("rb")
    except OSError as exc:
        reason = "no such file" if isinstance(exc, FileNotFoundError) else exc.strerror or exc
        raise ConfigError(f"cannot read labels: {reason}", path=str(path)) from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise ConfigError(f"malformed JSON: {exc}", path=f"{path}:{number}") from exc
            try:
                labels.append(parse_label(record))
            except ValueError as exc:
                raise ConfigError(f"invalid label: {exc}", path=f"{path}:{number}") from exc
    return labels


# -- matching ----------------------------------------------------------------------------


def _overlaps(
    a_start: dt.datetime, a_end: dt.datetime, b_start: dt.datetime, b_end: dt.datetime
) -> bool:
    """Whether two closed intervals share at least one instant."""
    return a_start <= b_end and b_start <= a_end


def matches(alert: AlertRow, label: Label) -> bool:
    """Whether ``alert`` matches ``label`` (the rule in the module docstring)."""
    if alert.user_id is None or alert.user_id != label.user:
        return False
    if not set(label.event_ids).isdisjoint(alert.event_ids):
        return True
    if alert.patient_id is not None and alert.patient_id not in label.patients:
        return False
    return _overlaps(alert.first_seen, alert.last_seen, label.start - WIDEN, label.end + WIDEN)


def read_alerts(store: Store) -> list[AlertRow]:
    """Every alert in the store, in budget order (score desc, first_seen, alert_id)."""
    table = store.arrow(
        "SELECT alert_id, rule_id, score, user_id, patient_id, first_seen, last_seen, event_ids "
        "FROM alert"
    )
    rows = [
        AlertRow(
            alert_id=row["alert_id"],
            rule_id=row["rule_id"],
            score=int(row["score"]),
            user_id=row["user_id"],
            patient_id=row["patient_id"],
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
            event_ids=tuple(row["event_ids"] or ()),
        )
        for row in table.to_pylist()
    ]
    rows.sort(key=budget_order)
    return rows


def budget_order(alert: AlertRow) -> tuple[int, dt.datetime, str]:
    """Sort key of the budget ranking: score desc, then first_seen, then alert_id."""
    return (-alert.score, alert.first_seen, alert.alert_id)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _kind_order(kinds: Iterable[str]) -> list[str]:
    """The generator's kinds in its order, then any others found in the labels, sorted."""
    return list(KINDS) + sorted(set(kinds) - set(KINDS))


def evaluate(store: Store, labels: list[Label], budget: int = DEFAULT_BUDGET) -> Evaluation:
    """Compare the store's alerts with ``labels``; ``budget`` (>= 1) alerts for precision@k."""
    if budget < 1:
        raise ValueError("budget must be at least 1")
    alerts = read_alerts(store)  # already in budget order
    accesses = int(store.query("SELECT count(*) FROM ehr_access")[0][0])

    by_user: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_user[label.user].append(index)

    detected = [False] * len(labels)
    positive: list[bool] = []
    for alert in alerts:
        hit = False
        for index in by_user.get(alert.user_id, []) if alert.user_id is not None else []:
            if matches(alert, labels[index]):
                detected[index] = True
                hit = True
        positive.append(hit)

    planted: dict[str, int] = defaultdict(int)
    found: dict[str, int] = defaultdict(int)
    for label, was_detected in zip(labels, detected, strict=True):
        planted[label.kind] += 1
        found[label.kind] += was_detected
    by_kind = [
        KindFigures(kind, planted[kind], found[kind], _ratio(found[kind], planted[kind]))
        for kind in _kind_order(planted)
    ]

    rule_alerts: dict[str, int] = defaultdict(int)
    rule_hits: dict[str, int] = defaultdict(int)
    for alert, hit in zip(alerts, positive, strict=True):
        rule_alerts[alert.rule_id] += 1
        rule_hits[alert.rule_id] += hit
    by_rule = [
        RuleFigures(rule, rule_alerts[rule], rule_hits[rule], _ratio(rule_hits[rule], n))
        for rule, n in sorted(rule_alerts.items(), key=lambda item: (-item[1], item[0]))
    ]

    true_positives = sum(positive)
    ranked = positive[:budget]
    return Evaluation(
        labels=len(labels),
        detected=sum(detected),
        recall=_ratio(sum(detected), len(labels)),
        by_kind=by_kind,
        alerts=len(alerts),
        true_positives=true_positives,
        precision=_ratio(true_positives, len(alerts)),
        budget=budget,
        budget_alerts=len(ranked),
        budget_true_positives=sum(ranked),
        precision_at_budget=_ratio(sum(ranked), len(ranked)),
        accesses=accesses,
        alerts_per_1000_accesses=(len(alerts) / accesses * 1000) if accesses else None,
        by_rule=by_rule,
    )
