"""Continuous verification: a user's risk re-evaluated as accesses arrive.

Two sources of unexplained accesses feed it: the audit log (accesses in the store that no
relationship explains, read at each refresh) and the decision point's own requests that no
relationship explains (reads, updates and exports; a search or a break-the-glass is not
counted). A user's session risk is the share of the privacy policy's hourly bulk threshold
(``bulk_patients_per_hour``, the threshold of the audit's bulk-access rule) reached by the
distinct patients of their unexplained accesses in the hour before the request: 100 at the
threshold. The user's risk is the larger of it and the risk of their open alerts.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from dataclasses import dataclass

HOUR_US = 3_600 * 1_000_000
NEVER_S = 10**9
"""``risk_age_s`` of a user whose risk never rose: older than any MFA."""


@dataclass(frozen=True)
class Risk:
    score: int  # 0-100
    raised_at: int | None  # microseconds: when the score last rose (None: never)
    unexplained: int  # distinct patients opened without a relationship in the last hour
    source: str  # "alerts", "session" or "none"

    def age_s(self, at: int) -> int:
        if self.raised_at is None or self.score == 0:
            return NEVER_S
        return max(0, (at - self.raised_at) // 1_000_000)


class SessionRisk:
    """Unexplained accesses per user, in time order (microseconds)."""

    def __init__(self, bulk_patients_per_hour: int, window_us: int = HOUR_US) -> None:
        self.bulk = max(1, bulk_patients_per_hour)
        self.window_us = window_us
        self._audit: dict[str, list[tuple[int, str]]] = {}
        self._observed: dict[str, list[tuple[int, str]]] = defaultdict(list)

    def replace_audit(self, events: list[tuple[str, str, int]]) -> None:
        """The store's unexplained accesses (user, patient, time), replacing the last set."""
        audit: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for user, patient, at in events:
            audit[user].append((at, patient))
        for items in audit.values():
            items.sort()
        self._audit = dict(audit)

    def observe(self, user: str, patient: str, at: int) -> None:
        """A request no relationship explains."""
        items = self._observed[user]
        insort(items, (at, patient))
        # Forget what no request can look back to any more (requests come in time order).
        horizon = items[-1][0] - 2 * self.window_us
        if items[0][0] < horizon:
            del items[: bisect_left(items, (horizon, ""))]

    def risk(self, user: str, at: int, alerts: tuple[int, int] | None = None) -> Risk:
        """The user's risk at ``at``; ``alerts``: (risk, last seen) of their open alerts."""
        patients: set[str] = set()
        latest: int | None = None
        for items in (self._audit.get(user), self._observed.get(user)):
            if not items:
                continue
            lo = bisect_left(items, (at - self.window_us, ""))
            hi = bisect_right(items, (at, "\uffff"))
            for when, patient in items[lo:hi]:
                patients.add(patient)
                latest = when if latest is None else max(latest, when)
        session = min(100, round(100 * len(patients) / self.bulk))
        if alerts is not None and alerts[0] > session:
            return Risk(alerts[0], alerts[1], len(patients), "alerts")
        if session:
            return Risk(session, latest, len(patients), "session")
        return Risk(0, None, 0, "none")
