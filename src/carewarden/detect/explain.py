"""Explanation-based auditing: for every access, the documented relationship that explains it.

After Fabbri and LeFevre ("Explanation-based auditing", PVLDB 5(1), 2011): most accesses to a
chart are explained by data the hospital already has, and the few that are not are where a
privacy officer should look. Reasons, in order of preference:

``encounter``     the user is a participant of the patient's encounter (policy window)
``care team``     the user is on the patient's care team
``department``    the patient's encounter is in the user's department (covering colleagues)
``emergency``     emergency purpose (ETREAT) while the patient is in an emergency encounter
``<category>``    a service role (pharmacist, laboratory, radiology, transport, billing, him,
                  registration) with the relationship the policy gives that role
``repeat``        the same user's earlier access to this patient was explained, recently

The result is the ``access_explanation`` table (one row per access, ``reason`` NULL when
nothing explains it, ``patient_active`` true when the patient had an encounter within a day
of the access), rebuilt by every ``carewarden detect``; the privacy rules read it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from carewarden.detect.policy import PrivacyPolicy
from carewarden.detect.roles import RoleMapping, map_roles
from carewarden.store import Store

FOREVER = "TIMESTAMP '9999-12-31'"
LONG_AGO = "TIMESTAMP '1900-01-01'"


def _hours(value: float) -> str:
    return f"INTERVAL {round(value * 3600)} SECOND"


def _days(value: float) -> str:
    return _hours(value * 24)


@dataclass
class ExplainSummary:
    accesses: int = 0
    explained: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    roles: RoleMapping | None = None

    @property
    def explained_share(self) -> float:
        return self.explained / self.accesses if self.accesses else 0.0


def explanation_sql(policy: PrivacyPolicy, site_tz: str = "UTC") -> str:
    r = policy.relationships
    tz = site_tz.replace("'", "''")
    services = [
        f"('{category}', '{role.relationship}', {_hours(role.hours_before)}, "
        f"{_days(role.days_after)}, {_hours(role.hours_after)})"
        for category, role in policy.service_roles.items()
    ]
    service_values = (
        "SELECT * FROM (VALUES " + ", ".join(services) + ") "
        "AS t(category, relationship, before, after, after_start)"
        if services
        else "SELECT NULL::VARCHAR AS category, NULL::VARCHAR AS relationship, "
        "NULL::INTERVAL AS before, NULL::INTERVAL AS after, NULL::INTERVAL AS after_start "
        "WHERE false"
    )
    return f"""
WITH enc AS MATERIALIZED (
    SELECT encounter_id, patient_id, department_id, class_code,
           period_start AS s, coalesce(period_end, {FOREVER}) AS e
    FROM encounter WHERE period_start IS NOT NULL
), links AS MATERIALIZED (
    SELECT en.patient_id, p.user_id, en.encounter_id, 1 AS rank, 'encounter' AS reason,
           coalesce(p.period_start, en.s) - {_hours(r.participant_hours_before)} AS lo,
           coalesce(p.period_end, en.e) + {_days(r.participant_days_after)} AS hi
    FROM encounter_participant p JOIN enc en USING (encounter_id)
    UNION ALL
    SELECT ct.patient_id, m.user_id, ct.encounter_id, 2, 'care team',
           coalesce(m.period_start, ct.period_start, {LONG_AGO})
               - {_hours(r.participant_hours_before)},
           coalesce(m.period_end, ct.period_end, {FOREVER}) + {_days(r.participant_days_after)}
    FROM care_team_member m JOIN care_team ct USING (care_team_id)
), user_departments AS (
    SELECT user_id, department_id, coalesce(period_start, {LONG_AGO}) AS held_from,
           coalesce(period_end, {FOREVER}) AS held_until
    FROM workforce_category WHERE department_id IS NOT NULL
), user_services AS (
    SELECT c.user_id, coalesce(c.period_start, {LONG_AGO}) AS held_from,
           coalesce(c.period_end, {FOREVER}) AS held_until, sr.*
    FROM workforce_category c JOIN ({service_values}) sr ON sr.category = c.category
), found AS (
    SELECT a.rowid AS aid, l.rank, l.reason, l.encounter_id
    FROM ehr_access a JOIN links l ON l.patient_id = a.patient_id AND l.user_id = a.user_id
    WHERE a.time BETWEEN l.lo AND l.hi
    UNION ALL
    SELECT a.rowid, 3, 'department', en.encounter_id
    FROM ehr_access a
    JOIN user_departments u ON u.user_id = a.user_id
    JOIN enc en ON en.patient_id = a.patient_id AND en.department_id = u.department_id
    WHERE a.time BETWEEN en.s - {_hours(r.department_hours_before)}
                     AND en.e + {_days(r.department_days_after)}
      AND a.time BETWEEN u.held_from AND u.held_until  -- only while the user held that role
    UNION ALL
    SELECT a.rowid, 4, 'emergency', en.encounter_id
    FROM ehr_access a JOIN enc en ON en.patient_id = a.patient_id AND en.class_code = 'EMER'
    WHERE a.purpose = 'ETREAT'
      AND a.time BETWEEN en.s - {_hours(r.emergency_hours_around)}
                     AND en.e + {_hours(r.emergency_hours_around)}
    UNION ALL
    SELECT a.rowid, 5, sv.category, en.encounter_id
    FROM ehr_access a
    JOIN user_services sv ON sv.user_id = a.user_id
    JOIN enc en ON en.patient_id = a.patient_id
    WHERE a.time BETWEEN sv.held_from AND sv.held_until
      AND CASE sv.relationship
            WHEN 'at_admission' THEN a.time BETWEEN en.s - sv.before AND en.s + sv.after_start
            ELSE a.time BETWEEN en.s - sv.before AND en.e + sv.after END
), best AS (
    SELECT aid, arg_min(reason, rank) AS reason, arg_min(encounter_id, rank) AS encounter_id
    FROM found GROUP BY aid
), active AS (
    SELECT DISTINCT a.rowid AS aid
    FROM ehr_access a JOIN enc en ON en.patient_id = a.patient_id
    WHERE a.time BETWEEN en.s - INTERVAL 1 DAY AND en.e + INTERVAL 1 DAY
), joined AS (
    SELECT a.event_id, a.patient_id, a.user_id, a.time, a.action, a.purpose,
           a.reason AS purpose_text, a.workstation, b.reason, b.encounter_id,
           act.aid IS NOT NULL AS patient_active,
           max(CASE WHEN b.reason IS NOT NULL THEN a.time END) OVER (
               PARTITION BY a.user_id, a.patient_id ORDER BY a.time
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS last_explained
    FROM ehr_access a LEFT JOIN best b ON b.aid = a.rowid LEFT JOIN active act ON act.aid = a.rowid
)
SELECT event_id, patient_id, user_id, time, local_time::DATE, hour(local_time),
       action, purpose, purpose_text, workstation,
       coalesce(reason, CASE WHEN last_explained >= time - {_days(r.repeat_days)}
                             THEN 'repeat' END) AS reason,
       encounter_id, patient_active
FROM (SELECT *, timezone('{tz}', time::TIMESTAMPTZ) AS local_time FROM joined)
"""


def explain_accesses(store: Store, policy: PrivacyPolicy, site_tz: str = "UTC") -> ExplainSummary:
    """Rebuild ``workforce_category`` and ``access_explanation``; return the shares."""
    roles = map_roles(store, policy)
    with store.transaction():
        store.replace_table("workforce_category", roles.categories)
        store.rebuild_table("access_explanation", explanation_sql(policy, site_tz))
    summary = ExplainSummary(roles=roles)
    for reason, count in store.query(
        "SELECT coalesce(reason, '(unexplained)'), count(*) FROM access_explanation GROUP BY 1"
    ):
        summary.by_reason[str(reason)] = int(count)
        summary.accesses += int(count)
        if reason != "(unexplained)":
            summary.explained += int(count)
    return summary
