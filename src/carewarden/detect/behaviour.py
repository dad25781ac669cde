"""The behavioural model: a user's day of chart access against their own history and peers.

For each (user, site-local day) it computes features of how the user used the EHR, scores
each feature with robust statistics (median and MAD, so one odd day does not move the
baseline) against the user's other days and against their peer group (same role category
and department) that day, and feeds the robust scores to an Isolation Forest (scikit-learn),
which finds days that are unusual in combination. A day becomes an alert only when the forest
ranks it among the most unusual *and* a risk feature is far outside both baselines; the alert
names the features that drove it. The fitted model is saved in the ``model`` table with its
version (the library version and a digest of the data it saw).

Why an Isolation Forest: ``python bench/behaviour_models.py`` scores the user-days of labelled
synthetic hospitals (200 beds, 14 days, seeds 2-4) with each candidate; median average
precision: Isolation Forest 0.50, Elliptic Envelope 0.44, the largest robust score alone
0.34, Local Outlier Factor 0.07.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import pickle
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa

from carewarden.detect.engine import Alert, DetectContext, alert_key, user_descriptions
from carewarden.store import Store

if TYPE_CHECKING:
    from sklearn.ensemble import IsolationForest

# feature -> (label in explanations, floor of its spread so that a constant baseline still
# gives finite scores, whether a high value is a risk)
FEATURES: dict[str, tuple[str, float, bool]] = {
    "accesses": ("accesses", 10.0, False),
    "patients": ("distinct patients", 5.0, False),
    "unexplained_patients": ("unexplained patients", 1.0, True),
    "unexplained_share": ("unexplained share", 0.02, True),
    "dormant_patients": ("patients not in care", 1.0, True),
    "night_share": ("share of accesses between midnight and 6", 0.05, True),
    "new_patient_ratio": ("share of patients new to them", 0.1, True),
    "btg": ("break-the-glass accesses", 1.0, True),
}
RISK_FEATURES = [name for name, (_, _, risky) in FEATURES.items() if risky]
MIN_OWN_DAYS = 5  # fewer active days than this: the user is judged against peers only


def feature_sql() -> str:
    # Counted from one row per (user, day, patient) rather than with count(DISTINCT ...) over
    # every access: on 10M accesses the distinct aggregates were most of this query's time.
    return """
WITH per_patient AS (
    SELECT user_id, local_day AS day, patient_id,
           count(*) AS accesses,
           count(*) FILTER (WHERE reason IS NULL) AS unexplained,
           bool_or(reason IS NULL AND NOT patient_active) AS dormant,
           count(*) FILTER (WHERE local_hour < 6) AS night,
           count(*) FILTER (WHERE purpose = 'ETREAT') AS btg,
           min(time) AS first_seen, max(time) AS last_seen
    FROM access_explanation GROUP BY ALL
), new_per_day AS (
    -- patients a user opened for the first time that day (their first day with that chart)
    SELECT user_id, first_day AS day, count(*) AS new_patients
    FROM (SELECT user_id, min(day) AS first_day FROM per_patient GROUP BY user_id, patient_id)
    GROUP BY ALL
), unexplained_events AS (
    SELECT user_id, local_day AS day, list(event_id ORDER BY time) AS events
    FROM access_explanation WHERE reason IS NULL GROUP BY ALL
), groups AS (
    SELECT user_id, any_value(category || '/' || coalesce(department_id, '-')
                              ORDER BY category, department_id) AS peer_group
    FROM workforce_category GROUP BY user_id
), days AS (
    SELECT user_id, day,
           sum(accesses)::DOUBLE AS accesses,
           count(*)::DOUBLE AS patients,
           count(*) FILTER (WHERE unexplained > 0)::DOUBLE AS unexplained_patients,
           sum(unexplained) / sum(accesses) AS unexplained_share,
           count(*) FILTER (WHERE dormant)::DOUBLE AS dormant_patients,
           sum(night) / sum(accesses) AS night_share,
           sum(btg)::DOUBLE AS btg,
           min(first_seen) AS first_seen, max(last_seen) AS last_seen
    FROM per_patient GROUP BY user_id, day
)
SELECT d.user_id, d.day, coalesce(g.peer_group, 'unknown') AS peer_group,
       d.accesses, d.patients, d.unexplained_patients, d.unexplained_share,
       d.dormant_patients, d.night_share,
       coalesce(n.new_patients, 0) / d.patients AS new_patient_ratio,
       d.btg, d.first_seen, d.last_seen, u.events AS unexplained_events
FROM days d
LEFT JOIN new_per_day n ON n.user_id = d.user_id AND n.day = d.day
LEFT JOIN unexplained_events u ON u.user_id = d.user_id AND u.day = d.day
LEFT JOIN groups g ON g.user_id = d.user_id
ORDER BY d.user_id, d.day
"""


def robust_scores(values: np.ndarray, keys: np.ndarray, floor: float, min_rows: int) -> np.ndarray:
    """(x - median) / (1.4826 * MAD) of each value within its key group (NaN for groups of
    fewer than ``min_rows``). The median and MAD ignore a few odd rows, so a user's unusual
    day barely moves their own baseline: it can be scored against a baseline it belongs to."""
    out = np.full(values.shape, np.nan)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    boundaries = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    for group in np.split(order, boundaries):
        if len(group) < min_rows:
            continue
        group_values = values[group]
        median = float(np.median(group_values))
        spread = max(1.4826 * float(np.median(np.abs(group_values - median))), floor)
        out[group] = (group_values - median) / spread
    return out


@dataclass
class BehaviourModel:
    """The ``privacy.behaviour`` detector."""

    contamination: float = 0.002
    min_risk_score: float = 6.0
    id: ClassVar[str] = "privacy.behaviour"
    title: ClassVar[str] = "Unusual day of chart access for this user"

    def features(
        self, store: Store
    ) -> tuple[dict[str, list[Any]], np.ndarray, dict[str, np.ndarray]]:
        """(raw features per user-day, the matrix of combined robust scores, the scores
        against the user's own days per feature)."""
        data = store.arrow(feature_sql()).to_pydict()
        users = np.array(data["user_id"], dtype=object)
        groups = np.array(
            [f"{g}|{d}" for g, d in zip(data["peer_group"], data["day"], strict=True)],
            dtype=object,
        )
        columns, self_z = [], {}
        for name, (_, floor, _) in FEATURES.items():
            values = np.array(data[name], dtype=float)
            self_z[name] = robust_scores(values, users, floor, min_rows=MIN_OWN_DAYS)
            peer_z = robust_scores(values, groups, floor, min_rows=1)
            # Unusual for both the user and their peers: the smaller of the two scores.
            combined = np.where(np.isnan(self_z[name]), peer_z, np.fmin(self_z[name], peer_z))
            columns.append(np.clip(combined, -20, 50))
        return data, np.column_stack(columns) if columns else np.empty((0, 0)), self_z

    def run(self, store: Store, context: DetectContext) -> list[Alert]:
        data, matrix, self_z = self.features(store)
        if len(data["user_id"]) < 50:
            return []  # too little activity to learn what is normal
        # Imported here: scikit-learn takes 0.8 s to import, which every command of the CLI
        # paid (carewarden ingest included) while only detect fits the model.
        from sklearn.ensemble import IsolationForest

        forest = IsolationForest(
            n_estimators=200, contamination=self.contamination, random_state=0
        ).fit(matrix)
        flagged = forest.predict(matrix) == -1
        self._save(store, forest, matrix)
        risk_index = [list(FEATURES).index(n) for n in RISK_FEATURES]
        rows = [
            int(row)
            for row in np.flatnonzero(flagged)
            if float(matrix[row, risk_index].max()) >= self.min_risk_score
        ]
        people = user_descriptions(store, sorted({str(data["user_id"][r]) for r in rows}))
        return [self._alert(data, row, matrix[row], self_z, people) for row in rows]

    def _alert(
        self,
        data: dict[str, list[Any]],
        row: int,
        scores: np.ndarray,
        self_z: dict[str, np.ndarray],
        people: dict[str, tuple[str, str]],
    ) -> Alert:
        names = list(FEATURES)
        drivers = sorted(
            (i for i, n in enumerate(names) if FEATURES[n][2] and scores[i] > 3),
            key=lambda i: -scores[i],
        )[:3]
        parts = []
        for i in drivers:
            feature = names[i]
            value = data[feature][row]
            shown = f"{value:.0%}" if "share" in feature or "ratio" in feature else f"{value:.0f}"
            baseline = "" if np.isnan(self_z[feature][row]) else "their own days' and "
            parts.append(
                f"{FEATURES[feature][0]} {shown} ({scores[i]:.0f} spreads above {baseline}"
                "their peers' usual)"
            )
        day: dt.date = data["day"][row]
        user = str(data["user_id"][row])
        name, role = people.get(user, (user, "unknown role"))
        score = int(min(95, 60 + 5 * float(scores[drivers[0]] if drivers else 0) / 3))
        events = list(data["unexplained_events"][row] or [])
        return Alert(
            alert_id=alert_key(self.id, user, None, day),
            rule_id=self.id,
            title=self.title,
            severity="high" if score >= 80 else "medium",
            score=score,
            user_id=user,
            patient_id=None,
            first_seen=data["first_seen"][row],
            last_seen=data["last_seen"][row],
            event_ids=events,
            explanation=(
                f"{name} ({role}) had an unusual day of chart access on {day:%-d %B %Y}, "
                "against their own other days and their peers: " + "; ".join(parts) + "."
            ),
            mapping=["HIPAA 164.308(a)(1)(ii)(D)"],
        )

    def _save(self, store: Store, forest: IsolationForest, matrix: np.ndarray) -> None:
        buffer = io.BytesIO()
        pickle.dump(forest, buffer)
        digest = hashlib.sha256(matrix.tobytes()).hexdigest()[:16]
        from sklearn import __version__ as sklearn_version

        version = f"isolation-forest/sklearn-{sklearn_version}/{digest}"
        store.save_model(
            pa.table(
                {
                    "name": [self.id],
                    "version": [version],
                    "features": [list(FEATURES)],
                    "rows": [int(matrix.shape[0])],
                    "blob": [buffer.getvalue()],
                }
            )
        )
