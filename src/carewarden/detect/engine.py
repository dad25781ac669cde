"""Runs detectors over the store, isolates their failures, and records their alerts.

A detector is anything with an ``id`` and a ``run(store, context)`` returning
:class:`Alert` objects. The built-in ones are SQL rules: a ``.yaml`` header (id, title,
severity, score, mapping, explanation template) beside a ``.sql`` query that returns one row
per (user, patient, day) with ``user_id, patient_id, day, first_seen, last_seen, event_ids``
and the template's fields. Alerts are keyed by (rule, user, patient, day), so running the
detections again on an unchanged store adds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from carewarden.config import load_yaml_model
from carewarden.errors import ConfigError
from carewarden.store import Store

RULES_DIR = Path(__file__).parent / "rules"
SEVERITIES = ("info", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class Alert:
    alert_id: str
    rule_id: str
    title: str
    severity: str
    score: int
    user_id: str | None
    patient_id: str | None
    first_seen: dt.datetime
    last_seen: dt.datetime
    event_ids: list[str]
    explanation: str
    mapping: list[str]
    # Telemetry alerts (Sigma): the host, and the rule's author and source (DRL credit).
    host: str | None = None
    author: str | None = None
    reference: str | None = None


def alert_key(rule_id: str, user_id: str | None, patient_id: str | None, day: dt.date) -> str:
    text = f"{rule_id}|{user_id or ''}|{patient_id or ''}|{day.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class DetectContext:
    site_tz: str = "UTC"
    # Named parameters a rule's SQL may read as $name (the policy's thresholds).
    parameters: dict[str, Any] = field(default_factory=dict)


class Detector(Protocol):
    @property
    def id(self) -> str: ...

    def run(self, store: Store, context: DetectContext) -> list[Alert]: ...


class RuleHeader(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: str
    severity: str
    score: int
    mapping: list[str] = []
    description: str = ""
    explanation: str


class _Unknown:
    """Stands in for a template field the rule's query did not return, whatever its format."""

    def __format__(self, spec: str) -> str:
        return "?"


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> _Unknown:
        return _Unknown()


@dataclass
class SqlRule:
    """A detection written as SQL with a YAML header."""

    header: RuleHeader
    sql: str
    source: Path
    kind: ClassVar[str] = "sql"

    @property
    def id(self) -> str:
        return self.header.id

    @classmethod
    def load(cls, yaml_path: Path) -> SqlRule:
        sql_path = yaml_path.with_suffix(".sql")
        header = load_yaml_model(RuleHeader, yaml_path, "rule header")
        if header.severity not in SEVERITIES:
            raise ConfigError(f"severity must be one of {SEVERITIES}", path=str(yaml_path))
        if not 0 <= header.score <= 100:
            raise ConfigError("score must be 0-100", path=str(yaml_path))
        if not sql_path.exists():
            raise ConfigError("the rule's .sql file is missing", path=str(sql_path))
        return cls(header, sql_path.read_text("utf-8"), yaml_path)

    def parameters(self, available: dict[str, Any]) -> dict[str, Any]:
        """The $name parameters this rule's SQL uses, from ``available``."""
        names = sorted(set(re.findall(r"\$([a-z_][a-z0-9_]*)", self.sql)))
        missing = [n for n in names if n not in available]
        if missing:
            raise ConfigError(
                f"rule {self.id} needs threshold(s) {missing} in the policy", path=str(self.source)
            )
        return {n: available[n] for n in names}

    def run(self, store: Store, context: DetectContext) -> list[Alert]:
        table = store.arrow(self.sql, self.parameters(context.parameters))
        if table.num_rows == 0:
            return []
        rows = table.to_pylist()
        people = user_descriptions(store, sorted({str(r["user_id"]) for r in rows}))
        zone = ZoneInfo(context.site_tz)
        alerts = []
        for row in rows:
            first: dt.datetime = row["first_seen"]
            local = first.replace(tzinfo=dt.UTC).astimezone(zone)
            name, role = people.get(str(row["user_id"]), (str(row["user_id"]), "unknown role"))
            fields = _SafeDict(
                {
                    "user_name": name,
                    "user_role": role,
                    # Times in templates are shown in the site's zone: {deceased_at:%Y-%m-%d}.
                    **{k: _local(v, zone) for k, v in row.items() if v is not None},
                    # Always in the site's zone, whatever the rule's own columns hold.
                    "day": local.strftime("%-d %B %Y"),
                    "first_local": local.strftime("%H:%M %Z"),
                }
            )
            day = row["day"].date() if isinstance(row["day"], dt.datetime) else row["day"]
            alerts.append(
                Alert(
                    alert_id=alert_key(self.id, row["user_id"], row.get("patient_id"), day),
                    rule_id=self.id,
                    title=self.header.title,
                    severity=self.header.severity,
                    score=int(row.get("score") or self.header.score),
                    user_id=row["user_id"],
                    patient_id=row.get("patient_id"),
                    first_seen=first,
                    last_seen=row["last_seen"],
                    event_ids=list(row["event_ids"]),
                    explanation=" ".join(self.header.explanation.format_map(fields).split()),
                    mapping=list(self.header.mapping),
                )
            )
        return alerts


def _local(value: Any, zone: ZoneInfo) -> Any:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC).astimezone(zone)
    return value


def user_descriptions(store: Store, user_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """user id -> (display name, "role, department") for explanations."""
    if not user_ids:
        return {}
    rows = store.query(
        """
        SELECT w.user_id,
               coalesce(w.given_name || ' ', '') || coalesce(w.family_name, w.user_id),
               coalesce(any_value(coalesce(r.role_display, r.role_code)
                                  ORDER BY r.period_start DESC), 'unknown role')
               || coalesce(', ' || any_value(d.name ORDER BY r.period_start DESC), '')
        FROM workforce w
        LEFT JOIN workforce_role r ON r.user_id = w.user_id
        LEFT JOIN department d ON d.department_id = r.department_id
        WHERE w.user_id IN (SELECT unnest(?::VARCHAR[]))
        GROUP BY w.user_id, w.given_name, w.family_name
        """,
        [list(user_ids)],
    )
    return {r[0]: (r[1], r[2]) for r in rows}


ALERT_SCHEMA = pa.schema(
    [
        ("alert_id", pa.string()),
        ("rule_id", pa.string()),
        ("title", pa.string()),
        ("severity", pa.string()),
        ("score", pa.int32()),
        ("user_id", pa.string()),
        ("patient_id", pa.string()),
        ("first_seen", pa.timestamp("us")),
        ("last_seen", pa.timestamp("us")),
        ("event_ids", pa.list_(pa.string())),
        ("explanation", pa.string()),
        ("mapping", pa.list_(pa.string())),
        ("host", pa.string()),
        ("author", pa.string()),
        ("reference", pa.string()),
    ]
)


def alerts_table(alerts: Sequence[Alert]) -> pa.Table:
    return pa.Table.from_pylist([asdict(a) for a in alerts], schema=ALERT_SCHEMA)


def builtin_detectors() -> list[Detector]:
    return [SqlRule.load(p) for p in sorted(RULES_DIR.glob("*.yaml"))]


@dataclass
class DetectSummary:
    new_alerts: int = 0
    total_alerts: int = 0
    by_detector: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def merge(self, later: DetectSummary) -> None:
        """Add the counts of a later run of other detectors (its total is the newer)."""
        self.new_alerts += later.new_alerts
        self.total_alerts = later.total_alerts
        self.by_detector.update(later.by_detector)
        self.failures.update(later.failures)


MACROS = Path(__file__).parent / "macros.sql"
"""Name and address normal forms the rules share (TEMP macros of the session)."""


def run_detectors(
    store: Store, detectors: Iterable[Detector], context: DetectContext | None = None
) -> DetectSummary:
    """Run each detector; a failing one is reported and skipped, never stops the others."""
    context = context or DetectContext()
    summary = DetectSummary()
    store.query(MACROS.read_text(encoding="utf-8"))
    for detector in detectors:
        try:
            alerts = detector.run(store, context)
        except Exception as exc:
            summary.failures[detector.id] = f"{type(exc).__name__}: {exc}"
            continue
        with store.transaction():
            added = store.add_alerts(alerts_table(alerts))
        summary.by_detector[detector.id] = added
        summary.new_alerts += added
    summary.total_alerts = store.table_counts()["alert"]
    return summary
