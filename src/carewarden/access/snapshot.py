"""What the decision point knows of the hospital, read from the store in one short read-only
session and held in memory: the audit's relationship windows, users' roles and employment
periods, patients and their confidentiality, users' alert risk, and the recent accesses
(explained ones make later accesses a repeat; unexplained ones raise the session risk).

The store is opened read-only and closed again, so ``carewarden ingest`` and ``detect`` can
write between refreshes; a refresh that finds the store held by a writer keeps the previous
snapshot (see :class:`carewarden.access.decision.DecisionPoint`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from carewarden.access.relations import RelationshipIndex, columns, micros
from carewarden.detect.explain import explain_since, relationship_windows
from carewarden.services.overview import user_risks
from carewarden.store import Store

FOREVER_US = 2**62
DEFAULT_BULK = 20


@dataclass
class Snapshot:
    index: RelationshipIndex
    roles: dict[str, list[tuple[str, int, int]]]  # user -> (category, from, until) in µs
    inactive: frozenset[str]  # Practitioner.active false
    patients: frozenset[str]
    restricted: dict[str, bool]  # restricted patient -> very restricted (V, a VIP)
    alert_risk: dict[str, tuple[int, int]]  # user -> (risk of open alerts, last seen µs)
    unexplained: list[tuple[str, str, int]]  # recent accesses nothing explains
    bulk_patients_per_hour: int
    loaded_at: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Store) -> Snapshot:
        windows = relationship_windows(store)
        index = RelationshipIndex(windows)
        latest = store.query("SELECT max(time) FROM ehr_access")[0][0]
        repeat = dt.timedelta(days=windows.policy.relationships.repeat_days)
        recent = explain_since(store, None if latest is None else latest - repeat)
        index.remember(recent)
        unexplained = [
            (u, p, t)
            for u, p, t, r in zip(
                *columns(recent, "user_id", "patient_id", "time", "reason"), strict=True
            )
            if r is None
        ]
        roles: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
        categories = windows.categories
        for user, category, start, end in zip(
            *columns(categories, "user_id", "category", "period_start", "period_end"), strict=True
        ):
            roles[user].append(
                (category, 0 if start is None else micros(start),
                 FOREVER_US if end is None else micros(end))
            )
        inactive = frozenset(
            u for (u,) in store.query("SELECT user_id FROM workforce WHERE active IS FALSE")
        )
        patients = frozenset(store.arrow("SELECT patient_id FROM patient").column(0).to_pylist())
        restricted = {
            p: bool(v)
            for p, v in store.query(
                "SELECT patient_id, list_contains(confidentiality, 'V') FROM patient "
                "WHERE list_contains(confidentiality, 'R') OR list_contains(confidentiality, 'V')"
            )
        }
        bulk = windows.policy.thresholds.get("bulk_patients_per_hour", DEFAULT_BULK)
        risks = {u: (r, micros(t)) for u, (r, t) in user_risks(store).items()}
        return cls(
            index=index,
            roles=dict(roles),
            inactive=inactive,
            patients=patients,
            restricted=restricted,
            alert_risk=risks,
            unexplained=unexplained,
            bulk_patients_per_hour=int(bulk) if isinstance(bulk, int | float) else DEFAULT_BULK,
            loaded_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            counts={
                "users": len(roles),
                "patients": len(patients),
                "windows": index.windows,
                "recent_accesses": recent.num_rows,
            },
        )

    def roles_at(self, user: str, at: int) -> tuple[bool, list[str]]:
        """(employed at ``at``, the categories of the roles held then)."""
        if user in self.inactive:
            return False, []
        held = sorted({c for c, start, end in self.roles.get(user, ()) if start <= at <= end})
        return bool(held), held
