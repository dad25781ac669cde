"""What the store holds and what was found: the figures `status`, `demo` and reports show."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from carewarden.store import SourceFile, Store


@dataclass(frozen=True)
class UserRisk:
    user_id: str
    name: str
    alerts: int
    risk: int  # sum of alert scores, capped at 100 per rule and day by the scores themselves
    rules: list[str]


@dataclass
class Overview:
    store_path: str
    schema_version: int
    tables: dict[str, int]
    sources: list[SourceFile]
    quarantine_by_error: list[tuple[str, int]]
    access_span: tuple[dt.datetime | None, dt.datetime | None]
    alerts_by_rule: list[tuple[str, str, str, int]]  # rule id, title, severity, count
    alerts_by_severity: dict[str, int]
    top_users: list[UserRisk]
    top_alerts: list[dict[str, Any]] = field(default_factory=list)


def overview(store: Store, *, top: int = 10) -> Overview:
    span = store.query("SELECT min(time), max(time) FROM ehr_access")[0]
    by_rule = store.query(
        "SELECT rule_id, any_value(title), any_value(severity), count(*) FROM alert "
        "GROUP BY rule_id ORDER BY count(*) DESC, rule_id"
    )
    by_severity = dict(
        store.query("SELECT severity, count(*) FROM alert GROUP BY severity ORDER BY severity")
    )
    users = store.query(
        """
        SELECT a.user_id,
               coalesce(any_value(w.given_name) || ' ' || any_value(w.family_name), a.user_id),
               count(*), sum(a.score), list(DISTINCT a.rule_id ORDER BY a.rule_id)
        FROM alert a LEFT JOIN workforce w ON w.user_id = a.user_id
        WHERE a.user_id IS NOT NULL
        GROUP BY a.user_id ORDER BY sum(a.score) DESC, a.user_id LIMIT ?
        """,
        [top],
    )
    quarantine = store.query(
        "SELECT regexp_replace(error, '[0-9]+', 'N', 'g') AS e, count(*) FROM quarantine "
        "GROUP BY e ORDER BY count(*) DESC LIMIT 10"
    )
    alerts = store.arrow(
        "SELECT rule_id, title, severity, score, user_id, patient_id, first_seen, explanation "
        "FROM alert ORDER BY score DESC, first_seen LIMIT ?",
        [top * 5],
    ).to_pylist()
    return Overview(
        store_path=str(store.path),
        schema_version=store.schema_version(),
        tables=store.table_counts(),
        sources=store.sources(),
        quarantine_by_error=[(e, int(n)) for e, n in quarantine],
        access_span=(span[0], span[1]),
        alerts_by_rule=[(r, t, s, int(n)) for r, t, s, n in by_rule],
        alerts_by_severity={str(k): int(v) for k, v in by_severity.items()},
        top_users=[UserRisk(u, n, int(c), int(r), list(rules)) for u, n, c, r, rules in users],
        top_alerts=alerts,
    )
