"""`carewarden investigate`: a user's or a patient's access timeline, each access with the
relationship that explains it, or the lack of one, and the alerts it is evidence for."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from carewarden.detect.explain import explain_subset
from carewarden.errors import CarewardenError
from carewarden.store import Store

UNEXPLAINED = "UNEXPLAINED"


@dataclass
class Timeline:
    kind: Literal["user", "patient"]
    subject_id: str
    subject: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0


def _subject(store: Store, kind: str, subject_id: str) -> dict[str, Any]:
    if kind == "user":
        found = store.arrow(
            """
            SELECT w.user_id, w.given_name || ' ' || w.family_name AS name,
                   string_agg(DISTINCT coalesce(r.role_display, r.role_code)
                              || coalesce(' (' || d.name || ')', ''), '; ') AS roles,
                   min(r.period_start) AS employed_from,
                   CASE WHEN count(r.role_id) = count(r.period_end)
                        THEN max(r.period_end) END AS employed_until
            FROM workforce w
            LEFT JOIN workforce_role r ON r.user_id = w.user_id
            LEFT JOIN department d ON d.department_id = r.department_id
            WHERE w.user_id = ? GROUP BY w.user_id, w.given_name, w.family_name
            """,
            [subject_id],
        ).to_pylist()
    else:
        found = store.arrow(
            """
            SELECT patient_id, given_name || ' ' || family_name AS name, mrn, birth_date,
                   confidentiality, deceased_at
            FROM patient WHERE patient_id = ?
            """,
            [subject_id],
        ).to_pylist()
    return dict(found[0]) if found else {}


def timeline(
    store: Store,
    kind: Literal["user", "patient"],
    subject_id: str,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 500,
) -> Timeline:
    """The accesses by (``kind="user"``) or to (``"patient"``) ``subject_id``, oldest first."""
    column = "user_id" if kind == "user" else "patient_id"
    where = f"a.{column} = ?"
    params: list[Any] = [subject_id]
    if since:
        where += " AND a.time >= ?"
        params.append(since)
    if until:
        where += " AND a.time < ?"
        params.append(until)
    total = int(store.query(f"SELECT count(*) FROM ehr_access a WHERE {where}", params)[0][0])
    subject = _subject(store, kind, subject_id)
    if not subject and not total:
        raise CarewardenError(f"no {kind} {subject_id!r} in the store")
    explain_subset(store, column, subject_id)
    rows = store.arrow(
        f"""
        SELECT a.time, a.event_id, a.user_id,
               coalesce(w.given_name || ' ' || w.family_name, a.user_id) AS user_name,
               a.patient_id,
               coalesce(p.given_name || ' ' || p.family_name, a.patient_id) AS patient_name,
               a.action, a.workstation, a.purpose, a.purpose_text,
               coalesce(a.reason, '{UNEXPLAINED}') AS explanation, a.encounter_id,
               (SELECT list(DISTINCT al.rule_id) FROM alert al
                WHERE list_contains(al.event_ids, a.event_id)
                  AND (al.patient_id IS NULL OR al.patient_id = a.patient_id)) AS alerts
        FROM access_explanation a
        LEFT JOIN workforce w ON w.user_id = a.user_id
        LEFT JOIN patient p ON p.patient_id = a.patient_id
        WHERE {where}
        ORDER BY a.time, a.event_id
        LIMIT {int(limit)}
        """,
        params,
    ).to_pylist()
    store.query("DROP TABLE access_explanation")
    return Timeline(kind, subject_id, subject, rows, total)
