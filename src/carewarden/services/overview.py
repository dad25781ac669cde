"""What the store holds and what was found: the figures `status`, `demo` and reports show."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from carewarden.services.assets import ClassCount, inventory_by_class
from carewarden.services.cases import ALERT_RISK, Preparedness, list_cases, preparedness
from carewarden.services.dr import DrStatus, dr_status
from carewarden.services.endpoint import (
    HostFindings,
    ShareMapping,
    admin_share_mappings,
    sigma_findings,
)
from carewarden.services.exercises import ExerciseReadiness, exercise_readiness
from carewarden.services.patch_plan import PlanSummary
from carewarden.services.patch_plan import summary as patch_plan_summary
from carewarden.services.segmentation import SegmentationSummary
from carewarden.services.segmentation import summary as segmentation_summary
from carewarden.store import SourceFile, Store


@dataclass(frozen=True)
class UserRisk:
    """A case about a user, as the privacy officer reads it.

    ``risk`` (0-100): the case's highest alert score, plus 5 for each other kind of
    violation, 3 for each other day with an alert and 10 for each other standing case of
    the user, so repeat offenders rank first (``services/cases.py``)."""

    case_id: str
    status: str
    user_id: str
    name: str
    role: str
    alerts: int
    risk: int
    rules: list[str]
    patients: int
    days: int
    explanations: list[str]


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
    explained: dict[str, int] = field(default_factory=dict)  # accesses by explanation
    preparedness: Preparedness | None = None
    exercises: ExerciseReadiness | None = None  # tabletop exercises per playbook
    dr: DrStatus | None = None  # disaster-recovery readiness; None: no inventory imported
    segmentation: SegmentationSummary | None = None  # IoMT network segmentation
    assets_by_class: list[ClassCount] = field(default_factory=list)  # the device inventory
    endpoint: list[HostFindings] = field(default_factory=list)  # Sigma alerts by host
    admin_shares: list[ShareMapping] = field(default_factory=list)  # Zeek SMB admin shares
    patch_plan: PlanSummary | None = None  # riskiest devices, first plan items; None: no device

    @property
    def explained_share(self) -> float | None:
        total = sum(self.explained.values())
        return (total - self.explained.get("unexplained", 0)) / total if total else None


PRIVACY_PREFIX = "privacy."  # the privacy section ranks the user cases holding privacy alerts
RISK = f"least(100, {ALERT_RISK})"
"""A user's risk over a group of their alerts (see :class:`UserRisk`)."""


def user_risks(store: Store) -> dict[str, tuple[int, dt.datetime]]:
    """user id -> (risk over the user's open alerts, the last time one of them was seen)."""
    rows = store.query(
        f"SELECT user_id, round({RISK}), max(last_seen) FROM alert "
        "WHERE user_id IS NOT NULL AND status = 'open' GROUP BY user_id"
    )
    return {str(u): (int(r), t) for u, r, t in rows}


def overview(
    store: Store,
    *,
    top: int = 10,
    now: dt.datetime | None = None,
    dr_at: dt.datetime | None = None,
) -> Overview:
    """The store's figures; ``now`` decides which case tasks are overdue, ``dr_at`` (default
    ``now``) the time disaster-recovery readiness is assessed at."""
    span = store.query("SELECT min(time), max(time) FROM ehr_access")[0]
    by_rule = store.query(
        "SELECT rule_id, any_value(title), any_value(severity), count(*) FROM alert "
        "GROUP BY rule_id ORDER BY count(*) DESC, rule_id"
    )
    by_severity = dict(
        store.query("SELECT severity, count(*) FROM alert GROUP BY severity ORDER BY severity")
    )
    users = [
        UserRisk(
            case_id=c.case_id,
            status=c.status,
            user_id=c.entity_id,
            name=c.entity_name or c.entity_id,
            role=c.entity_role or "",
            alerts=c.alerts,
            risk=c.risk,
            rules=c.rules,
            patients=c.patients,
            days=c.days,
            explanations=c.explanations,
        )
        for c in list_cases(store, entity_kind="user", now=now)
        if any(rule.startswith(PRIVACY_PREFIX) for rule in c.rules)
    ][:top]
    explained = dict(
        store.query(
            "SELECT coalesce(reason, 'unexplained'), accesses FROM explanation_summary "
            "ORDER BY 2 DESC"
        )
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
        top_users=users,
        top_alerts=alerts,
        explained={str(k): int(v) for k, v in explained.items()},
        preparedness=preparedness(store, now=now, top=top),
        exercises=exercise_readiness(store, now=now),
        dr=dr_status(store, dr_at or now),
        segmentation=segmentation_summary(store, top=top),
        assets_by_class=inventory_by_class(store),
        endpoint=sigma_findings(store),
        admin_shares=admin_share_mappings(store),
        patch_plan=patch_plan_summary(store, top=top, at=now),
    )
