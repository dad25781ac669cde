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
``colleague``     a participant of the patient's encounter works in the user's department
                  (cross-cover; after Fabbri and LeFevre's department-of-the-doctor paths)
``repeat``        the same user's earlier access to this patient was explained, recently

The result is the TEMP table ``access_explanation`` (one row per access in scope; ``reason``
NULL when nothing explains it; ``patient_active``, computed for unexplained accesses only,
true when the patient had an encounter within a day of the access). ``carewarden detect``
builds it for every access and its rules read it in the same session; investigation builds
it for one user's or one patient's accesses. Only the counts per reason are kept in the store
(``explanation_summary``).

Why a session table and these steps: on 10M accesses a persisted copy cost ~4.7 s to write
against ~1.3 s for a temp table, and a window over every (user, patient) for ``repeat`` cost
~10 s; ``repeat`` and ``patient_active`` now look only at the few unexplained accesses, and
the preferred reason is a min() over one integer (reason index << 40 | encounter row) rather
than an arg_min over strings (bench/privacy.py).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

from carewarden.connectors.fhir import ROLE_REFERENCE
from carewarden.detect.policy import PrivacyPolicy
from carewarden.detect.roles import RoleMapping, map_roles
from carewarden.store import Store

FOREVER = "TIMESTAMP '9999-12-31'"
LONG_AGO = "TIMESTAMP '1900-01-01'"
ENCOUNTER_BITS = 40
NO_ENCOUNTER = (1 << ENCOUNTER_BITS) - 1
FIXED_REASONS = ("encounter", "care team", "department", "emergency")
SCOPE_ALL = "(SELECT rowid AS aid, * FROM ehr_access)"
UNEXPLAINED = "(unexplained)"
POLICY_SETTING = "privacy_policy"
"""The site setting holding the policy of the last detect, as JSON (investigation uses it)."""


def _hours(value: float) -> str:
    return f"INTERVAL {round(value * 3600)} SECOND"


def _days(value: float) -> str:
    return _hours(value * 24)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class ExplainSummary:
    accesses: int = 0
    explained: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    roles: RoleMapping | None = None

    @property
    def explained_share(self) -> float:
        return self.explained / self.accesses if self.accesses else 0.0


def reasons(policy: PrivacyPolicy) -> list[str]:
    """Every reason, most preferred first; a reason's code is its index + 1."""
    colleague = ["colleague"] if policy.relationships.colleague_cover else []
    return [*FIXED_REASONS, *policy.service_roles, *colleague]


def _windows_sql(policy: PrivacyPolicy, categories: str) -> str:
    """The relationships of the policy as two relations, the one definition the audit and the
    decision point share (``WITH`` clauses, without the ``WITH``):

    ``patient_windows(patient_id, key, code, lo, hi)``: the patient may be opened between
    ``lo`` and ``hi`` by whoever holds ``key``; ``code`` is the reason's index + 1 shifted left
    by ``ENCOUNTER_BITS``, or'ed with the encounter row (the smallest code is preferred).
    ``user_keys(user_id, key, held_from, held_until)``: the keys a user holds, and when.

    Keys: ``u:<user>`` (a participant or care-team member: held by that user only, always),
    ``d:<department>`` (the patient's encounter is in that department), ``c:<department>``
    (a participant of the encounter works in that department: cross-cover), ``s:<category>``
    (a service role's relationship) and ``p:<purpose>`` (held by an access with that
    purpose of use: ``p:ETREAT`` during an emergency encounter)."""
    r = policy.relationships
    code = {reason: i + 1 for i, reason in enumerate(reasons(policy))}
    services = [
        f"({_literal(category)}, {code[category]}, {_literal(role.relationship)}, "
        f"{_hours(role.hours_before)}, {_days(role.days_after)}, {_hours(role.hours_after)})"
        for category, role in policy.service_roles.items()
    ]
    service_values = (
        "SELECT * FROM (VALUES " + ", ".join(services) + ") "
        "AS t(category, code, relationship, before, after, after_start)"
        if services
        else "SELECT NULL::VARCHAR AS category, NULL::BIGINT AS code, "
        "NULL::VARCHAR AS relationship, NULL::INTERVAL AS before, NULL::INTERVAL AS after, "
        "NULL::INTERVAL AS after_start WHERE false"
    )
    shift = ENCOUNTER_BITS
    role_prefix = _literal(ROLE_REFERENCE)
    colleague_cover = "true" if r.colleague_cover else "false"
    return f"""
staff AS (
    -- participants and team members referenced by PractitionerRole: that role's practitioner
    SELECT {role_prefix} || role_id AS ref, user_id FROM workforce_role
), service_roles AS (
    {service_values}
), patient_windows AS (
    SELECT en.patient_id, 'u:' || coalesce(st.user_id, p.user_id) AS key,
           ({code["encounter"]}::BIGINT << {shift}) | en.erow AS code,
           coalesce(p.period_start, en.s) - {_hours(r.participant_hours_before)} AS lo,
           coalesce(p.period_end, en.e) + {_days(r.participant_days_after)} AS hi
    FROM encounter_participant p JOIN _explain_enc en USING (encounter_id)
    LEFT JOIN staff st ON st.ref = p.user_id
    UNION ALL
    SELECT ct.patient_id, 'u:' || coalesce(st.user_id, m.user_id),
           ({code["care team"]}::BIGINT << {shift}) | coalesce(en.erow, {NO_ENCOUNTER}),
           coalesce(m.period_start, ct.period_start, {LONG_AGO})
               - {_hours(r.participant_hours_before)},
           coalesce(m.period_end, ct.period_end, {FOREVER}) + {_days(r.participant_days_after)}
    FROM care_team_member m JOIN care_team ct USING (care_team_id)
    LEFT JOIN _explain_enc en ON en.encounter_id = ct.encounter_id
    LEFT JOIN staff st ON st.ref = m.user_id
    UNION ALL
    SELECT en.patient_id, 'd:' || en.department_id,
           ({code["department"]}::BIGINT << {shift}) | en.erow,
           en.s - {_hours(r.department_hours_before)}, en.e + {_days(r.department_days_after)}
    FROM _explain_enc en WHERE en.department_id IS NOT NULL
    UNION ALL
    SELECT en.patient_id, 'p:ETREAT', ({code["emergency"]}::BIGINT << {shift}) | en.erow,
           en.s - {_hours(r.emergency_hours_around)}, en.e + {_hours(r.emergency_hours_around)}
    FROM _explain_enc en WHERE en.class_code = 'EMER'
    UNION ALL
    -- the departments of each encounter's participants, for cross-cover
    SELECT DISTINCT en.patient_id, 'c:' || c.department_id,
           ({code.get("colleague", 0)}::BIGINT << {shift}) | en.erow,
           en.s - {_hours(r.department_hours_before)}, en.e + {_days(r.department_days_after)}
    FROM encounter_participant p JOIN _explain_enc en USING (encounter_id)
    LEFT JOIN staff st ON st.ref = p.user_id
    JOIN {categories} c ON c.user_id = coalesce(st.user_id, p.user_id)
    WHERE c.department_id IS NOT NULL AND c.department_id IS DISTINCT FROM en.department_id
      AND {colleague_cover}
    UNION ALL
    SELECT en.patient_id, 's:' || sr.category, (sr.code::BIGINT << {shift}) | en.erow,
           en.s - sr.before,
           CASE sr.relationship WHEN 'at_admission' THEN en.s + sr.after_start
                ELSE en.e + sr.after END
    FROM _explain_enc en CROSS JOIN service_roles sr
), user_keys AS (
    -- only while the user held that role
    SELECT user_id, 'd:' || department_id AS key, coalesce(period_start, {LONG_AGO}) AS held_from,
           coalesce(period_end, {FOREVER}) AS held_until
    FROM {categories} WHERE department_id IS NOT NULL
    UNION ALL
    SELECT user_id, 'c:' || department_id, coalesce(period_start, {LONG_AGO}),
           coalesce(period_end, {FOREVER})
    FROM {categories} WHERE department_id IS NOT NULL AND {colleague_cover}
    UNION ALL
    SELECT c.user_id, 's:' || c.category, coalesce(c.period_start, {LONG_AGO}),
           coalesce(c.period_end, {FOREVER})
    FROM {categories} c JOIN service_roles sr ON sr.category = c.category
)"""


def _found_sql(policy: PrivacyPolicy, scope: str, categories: str) -> str:
    """(aid, code) for every relationship that explains an access in ``scope``; an access may
    have several, the smallest code is the preferred one. A window explains an access when
    the access's user holds the window's key at the time and the time is in the window."""
    return f"""
WITH {_windows_sql(policy, categories)}
SELECT a.aid, w.code
FROM {scope} a JOIN patient_windows w
  ON w.patient_id = a.patient_id AND w.key = 'u:' || a.user_id
WHERE a.time BETWEEN w.lo AND w.hi
UNION ALL
SELECT a.aid, w.code
FROM {scope} a JOIN patient_windows w
  ON w.patient_id = a.patient_id AND w.key = 'p:' || a.purpose
WHERE a.time BETWEEN w.lo AND w.hi
UNION ALL
SELECT a.aid, w.code
FROM {scope} a
JOIN user_keys u ON u.user_id = a.user_id
JOIN patient_windows w ON w.patient_id = a.patient_id AND w.key = u.key
WHERE a.time BETWEEN u.held_from AND u.held_until AND a.time BETWEEN w.lo AND w.hi
"""


def explanation_statements(
    policy: PrivacyPolicy,
    site_tz: str = "UTC",
    *,
    scope: str = SCOPE_ALL,
    categories: str = "workforce_category",
) -> list[str]:
    """The SQL that builds the TEMP table ``access_explanation`` for the accesses of
    ``scope`` (a relation over ``ehr_access`` with its rowid as ``aid``), with the role
    categories of the table ``categories``."""
    names = ", ".join(
        f"({i + 1}, {_literal(reason)})" for i, reason in enumerate(reasons(policy))
    )
    repeat = _days(policy.relationships.repeat_days)
    mask = NO_ENCOUNTER
    return [
        f"""CREATE OR REPLACE TEMP TABLE _explain_enc AS
            SELECT rowid AS erow, encounter_id, patient_id, department_id, class_code,
                   period_start AS s, coalesce(period_end, {FOREVER}) AS e
            FROM encounter WHERE period_start IS NOT NULL""",
        f"""CREATE OR REPLACE TEMP TABLE _explain_best AS
            SELECT aid, min(code) AS code FROM ({_found_sql(policy, scope, categories)})
            GROUP BY aid""",
        # The site's local time: the zone's offset looked up once per minute of the data
        # (offsets are whole minutes), not converted row by row.
        f"""CREATE OR REPLACE TEMP TABLE _explain_offset AS
            SELECT m, timezone({_literal(site_tz)}, m::TIMESTAMPTZ) - m AS offset
            FROM (SELECT DISTINCT date_trunc('minute', time) AS m FROM {scope})""",
        f"""CREATE OR REPLACE TEMP TABLE access_explanation AS
            SELECT a.event_id, a.patient_id, a.user_id, a.time,
                   (a.time + o.offset)::DATE AS local_day,
                   hour(a.time + o.offset)::TINYINT AS local_hour,
                   a.action, a.purpose, a.reason AS purpose_text, a.workstation,
                   n.reason, en.encounter_id, NULL::BOOLEAN AS patient_active
            FROM {scope} a
            JOIN _explain_offset o ON o.m = date_trunc('minute', a.time)
            LEFT JOIN _explain_best b ON b.aid = a.aid
            LEFT JOIN (VALUES {names}) n(code, reason) ON n.code = b.code >> {ENCOUNTER_BITS}
            LEFT JOIN _explain_enc en ON en.erow = b.code & {mask}""",
        # The rest only concern the few accesses nothing explained directly.
        """CREATE OR REPLACE TEMP TABLE _explain_open AS
            SELECT rowid AS rid, user_id, patient_id, time FROM access_explanation
            WHERE reason IS NULL""",
        f"""UPDATE access_explanation SET reason = 'repeat' WHERE rowid IN (
                SELECT DISTINCT u.rid FROM _explain_open u
                JOIN access_explanation x
                  ON x.user_id = u.user_id AND x.patient_id = u.patient_id
                 AND x.time BETWEEN u.time - {repeat} AND u.time
                WHERE x.reason IS NOT NULL)""",
        """UPDATE access_explanation SET patient_active = rowid IN (
                SELECT u.rid FROM _explain_open u
                JOIN _explain_enc en ON en.patient_id = u.patient_id
                 AND u.time BETWEEN en.s - INTERVAL 1 DAY AND en.e + INTERVAL 1 DAY)
            WHERE reason IS NULL""",
        "DROP TABLE _explain_open",
        "DROP TABLE _explain_best",
        "DROP TABLE _explain_offset",
        "DROP TABLE _explain_enc",
    ]


def explain_accesses(store: Store, policy: PrivacyPolicy, site_tz: str = "UTC") -> ExplainSummary:
    """Rebuild ``workforce_category``, build the session's ``access_explanation`` for every
    access, record the counts per reason and the policy used; return the shares."""
    roles = map_roles(store, policy)
    with store.transaction():
        store.replace_table("workforce_category", roles.categories)
    for statement in explanation_statements(policy, site_tz):
        store.query(statement)
    summary = ExplainSummary(roles=roles)
    if roles.unmapped:
        for system, code, display, accesses, unexplained in store.query(
            """
            SELECT coalesce(r.role_system, ''), coalesce(r.role_code, ''),
                   coalesce(r.role_display, ''), count(*),
                   count(*) FILTER (WHERE x.reason IS NULL)
            FROM access_explanation x
            JOIN workforce_category c ON c.user_id = x.user_id AND c.category = 'other'
             AND x.time BETWEEN coalesce(c.period_start, TIMESTAMP '1900-01-01')
                            AND coalesce(c.period_end, TIMESTAMP '9999-12-31')
            JOIN workforce_role r ON r.role_id = c.role_id
            GROUP BY ALL
            """
        ):
            roles.unmapped_accesses[(system, code, display)] = (int(accesses), int(unexplained))
    for reason, count in store.query(
        "SELECT reason, count(*) FROM access_explanation GROUP BY 1 ORDER BY 2 DESC"
    ):
        summary.by_reason[str(reason) if reason is not None else UNEXPLAINED] = int(count)
        summary.accesses += int(count)
        if reason is not None:
            summary.explained += int(count)
    with store.transaction():
        store.query("DELETE FROM explanation_summary")
        store.query(
            "INSERT INTO explanation_summary SELECT reason, count(*), now()::TIMESTAMP "
            "FROM access_explanation GROUP BY 1"
        )
        store.set_setting(POLICY_SETTING, policy.model_dump_json())
    return summary


def _saved_policy(store: Store) -> PrivacyPolicy:
    saved = store.setting(POLICY_SETTING)
    return PrivacyPolicy.model_validate_json(saved) if saved else PrivacyPolicy.load()


def _register_categories(store: Store, policy: PrivacyPolicy) -> None:
    """The temp table ``_explain_category``: role categories mapped now (a read-only session
    cannot rely on a stale or missing ``workforce_category``)."""
    categories = map_roles(store, policy).categories
    store.con.register("_explain_category_rows", categories)
    try:
        store.query(
            "CREATE OR REPLACE TEMP TABLE _explain_category AS "
            "SELECT * FROM _explain_category_rows"
        )
    finally:
        store.con.unregister("_explain_category_rows")


def _explain_scope(store: Store, policy: PrivacyPolicy) -> None:
    """Build ``access_explanation`` for the temp table ``_explain_scope``."""
    _register_categories(store, policy)
    statements = explanation_statements(
        policy,
        store.setting("site_tz") or "UTC",
        scope="_explain_scope",
        categories="_explain_category",
    )
    for statement in [*statements, "DROP TABLE _explain_scope", "DROP TABLE _explain_category"]:
        store.query(statement)


def explain_subset(store: Store, column: str, value: str) -> None:
    """Build the session's ``access_explanation`` for the accesses whose ``column``
    (``user_id`` or ``patient_id``) is ``value``, under the policy and site zone of the last
    ``carewarden detect`` (the shipped policy and UTC before the first)."""
    if column not in ("user_id", "patient_id"):
        raise ValueError(f"cannot explain by {column!r}")
    store.query(
        "CREATE OR REPLACE TEMP TABLE _explain_scope AS "
        f"SELECT rowid AS aid, * FROM ehr_access WHERE {column} = ?",
        [value],
    )
    _explain_scope(store, _saved_policy(store))


def explain_requests(store: Store, requests: pa.Table) -> list[str | None]:
    """The reason that would explain each requested access, None where nothing would: the
    audit's own relationships, for decisions made before the access (zero trust).

    ``requests`` has columns ``user_id``, ``patient_id``, ``time`` (naive UTC) and
    ``purpose`` (e.g. TREAT, ETREAT; may be null). The user's earlier accesses to the same
    patient count, so a recent explained access makes a later one a ``repeat``."""
    policy = _saved_policy(store)
    numbered = requests.select(["user_id", "patient_id", "time", "purpose"]).append_column(
        "request_no", pa.array(range(requests.num_rows), pa.int64())
    )
    store.con.register("_explain_request_rows", numbered)
    try:
        store.query(
            f"""CREATE OR REPLACE TEMP TABLE _explain_scope AS
            SELECT -1 - r.request_no AS aid, 'request:' || r.request_no AS event_id,
                   r.patient_id::VARCHAR AS patient_id, r.user_id::VARCHAR AS user_id,
                   r.time::TIMESTAMP AS time, 'read' AS action, r.purpose::VARCHAR AS purpose,
                   NULL::VARCHAR AS reason, NULL::VARCHAR AS workstation
            FROM _explain_request_rows r
            UNION ALL
            SELECT a.rowid, a.event_id, a.patient_id, a.user_id, a.time, a.action, a.purpose,
                   a.reason, a.workstation
            FROM ehr_access a
            WHERE EXISTS (SELECT 1 FROM _explain_request_rows r
                          WHERE r.user_id = a.user_id AND r.patient_id = a.patient_id
                            AND a.time BETWEEN r.time::TIMESTAMP
                                               - {_days(policy.relationships.repeat_days)}
                                           AND r.time::TIMESTAMP)"""
        )
    finally:
        store.con.unregister("_explain_request_rows")
    _explain_scope(store, policy)
    found = dict(
        store.query(
            "SELECT event_id, reason FROM access_explanation WHERE event_id LIKE 'request:%'"
        )
    )
    store.query("DROP TABLE access_explanation")
    return [found.get(f"request:{n}") for n in range(requests.num_rows)]


@dataclass(frozen=True)
class RelationshipWindows:
    """The policy's relationships, materialised for a decision point (see ``_windows_sql``).

    ``patient_windows``: patient_id, key, code, lo, hi (times as microseconds since the epoch,
    UTC), sorted by patient; ``user_keys``: user_id, key, held_from, held_until (the same);
    ``categories``: the role categories of every role (``map_roles``). An access by ``user``
    with purpose ``purpose`` at ``t`` is explained by the smallest ``code`` of a window of the
    patient with ``lo <= t <= hi`` whose key is ``u:<user>``, ``p:<purpose>`` or one the user
    holds at ``t``; ``reasons[(code >> ENCOUNTER_BITS) - 1]`` names it."""

    policy: PrivacyPolicy
    reasons: list[str]
    patient_windows: pa.Table
    user_keys: pa.Table
    categories: pa.Table


def relationship_windows(store: Store, policy: PrivacyPolicy | None = None) -> RelationshipWindows:
    """Materialise the relationships that explain accesses, under ``policy`` (default: the
    policy of the last ``carewarden detect``): the same SQL the audit joins accesses with."""
    policy = policy or _saved_policy(store)
    statements = explanation_statements(policy, scope="_explain_none")
    store.query(statements[0])  # _explain_enc
    _register_categories(store, policy)
    try:
        windows_sql = _windows_sql(policy, "_explain_category")
        windows = store.arrow(
            f"WITH {windows_sql} SELECT patient_id, key, code, epoch_us(lo) AS lo, "
            "epoch_us(hi) AS hi FROM patient_windows WHERE patient_id IS NOT NULL "
            "AND key IS NOT NULL ORDER BY patient_id, code"
        )
        keys = store.arrow(
            f"WITH {windows_sql} SELECT DISTINCT user_id, key, epoch_us(held_from) AS held_from, "
            "epoch_us(held_until) AS held_until FROM user_keys ORDER BY user_id"
        )
        categories = store.arrow("SELECT * FROM _explain_category")
    finally:
        store.query("DROP TABLE IF EXISTS _explain_enc")
        store.query("DROP TABLE IF EXISTS _explain_category")
    return RelationshipWindows(policy, reasons(policy), windows, keys, categories)


def explain_since(store: Store, since: dt.datetime | None = None) -> pa.Table:
    """``user_id, patient_id, time`` (microseconds since the epoch, UTC) and ``reason``
    (``repeat`` included; null where nothing explains it) of every access at or after
    ``since`` (all when None), under the policy of the last ``carewarden detect``; earlier
    accesses within the repeat window are looked at, for ``repeat``, but not returned."""
    policy = _saved_policy(store)
    lower = None if since is None else since - dt.timedelta(days=policy.relationships.repeat_days)
    where = "" if lower is None else "WHERE time >= ?"
    store.query(
        f"CREATE OR REPLACE TEMP TABLE _explain_scope AS "
        f"SELECT rowid AS aid, * FROM ehr_access {where}",
        [] if lower is None else [lower],
    )
    _explain_scope(store, policy)
    try:
        return store.arrow(
            "SELECT user_id, patient_id, epoch_us(time) AS time, reason FROM access_explanation "
            "WHERE time >= ? ORDER BY time",
            [since or dt.datetime(1900, 1, 1)],
        )
    finally:
        store.query("DROP TABLE access_explanation")
