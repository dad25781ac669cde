"""The one place that owns the store's schema and its versioned migrations.

Every table of the store is created here, in numbered migrations applied in order inside
one transaction each; ``schema_version`` records the ones applied, so opening an older
store upgrades it. A migration is never edited once released: add a new one instead.

Naming: OCSF class and field names where a class fits (later security telemetry tables);
healthcare tables that OCSF lacks (``ehr_access``, ``patient``, ``workforce``, ``encounter``,
``care_team`` …) follow FHIR names. Every time is a naive ``TIMESTAMP`` holding UTC.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "bookkeeping, healthcare context tables, EHR access log, alerts",
        """
        CREATE TABLE source_file (
            file_id      VARCHAR PRIMARY KEY,   -- kind + ':' + a random id, on every row it gave
            kind         VARCHAR NOT NULL,      -- connector name, e.g. 'fhir', 'access-csv'
            path         VARCHAR NOT NULL,
            content_hash VARCHAR NOT NULL,      -- BLAKE3 of the content: ingested once per kind
            head_hash    VARCHAR NOT NULL,      -- BLAKE3 of the first MiB: a cheap first check
            bytes        BIGINT NOT NULL,
            records      BIGINT NOT NULL,       -- rows that landed
            duplicates   BIGINT NOT NULL,       -- rows already present (overlapping exports)
            quarantined  BIGINT NOT NULL,
            ingested_at  TIMESTAMP NOT NULL
        );
        CREATE TABLE quarantine (
            file_id      VARCHAR NOT NULL,
            kind         VARCHAR NOT NULL,
            path         VARCHAR NOT NULL,
            line         BIGINT,                -- 1-based line (record number for CSV)
            byte_offset  BIGINT,
            error        VARCHAR NOT NULL,
            raw          VARCHAR,               -- first bytes of the record, for triage
            quarantined_at TIMESTAMP NOT NULL
        );
        CREATE TABLE department (
            department_id VARCHAR PRIMARY KEY,
            name          VARCHAR,
            type_code     VARCHAR,
            part_of       VARCHAR,
            active        BOOLEAN,
            file_id       VARCHAR
        );
        CREATE TABLE workforce (
            user_id       VARCHAR PRIMARY KEY,  -- FHIR Practitioner id, exactly as exported
            identifier    VARCHAR,
            family_name   VARCHAR,
            given_name    VARCHAR,
            birth_date    DATE,
            gender        VARCHAR,
            address_line  VARCHAR,
            city          VARCHAR,
            state         VARCHAR,
            postal_code   VARCHAR,
            phone         VARCHAR,
            active        BOOLEAN,
            file_id       VARCHAR
        );
        CREATE TABLE workforce_role (
            role_id       VARCHAR PRIMARY KEY,  -- FHIR PractitionerRole id
            user_id       VARCHAR,
            role_system   VARCHAR,
            role_code     VARCHAR,
            role_display  VARCHAR,
            specialty     VARCHAR,
            department_id VARCHAR,
            period_start  TIMESTAMP,            -- employment start
            period_end    TIMESTAMP,            -- employment end (terminated), NULL if current
            active        BOOLEAN,
            file_id       VARCHAR
        );
        CREATE TABLE patient (
            patient_id    VARCHAR PRIMARY KEY,  -- FHIR Patient id, exactly as exported
            mrn           VARCHAR,
            family_name   VARCHAR,
            given_name    VARCHAR,
            birth_date    DATE,
            gender        VARCHAR,
            address_line  VARCHAR,
            city          VARCHAR,
            state         VARCHAR,
            postal_code   VARCHAR,
            phone         VARCHAR,
            deceased      BOOLEAN,
            deceased_at   TIMESTAMP,
            confidentiality VARCHAR[],          -- meta.security codes, e.g. ['R'] or ['V']
            contacts      JSON,                 -- Patient.contact: [{relationship, name, phone}]
            file_id       VARCHAR
        );
        CREATE TABLE encounter (
            encounter_id  VARCHAR PRIMARY KEY,
            patient_id    VARCHAR,
            status        VARCHAR,
            class_code    VARCHAR,
            period_start  TIMESTAMP,
            period_end    TIMESTAMP,
            department_id VARCHAR,
            file_id       VARCHAR
        );
        CREATE TABLE encounter_participant (
            encounter_id  VARCHAR NOT NULL,
            user_id       VARCHAR NOT NULL,
            type_code     VARCHAR,
            period_start  TIMESTAMP,
            period_end    TIMESTAMP,
            file_id       VARCHAR
        );
        CREATE TABLE care_team (
            care_team_id  VARCHAR PRIMARY KEY,
            patient_id    VARCHAR,
            encounter_id  VARCHAR,
            status        VARCHAR,
            period_start  TIMESTAMP,
            period_end    TIMESTAMP,
            department_id VARCHAR,
            file_id       VARCHAR
        );
        CREATE TABLE care_team_member (
            care_team_id  VARCHAR NOT NULL,
            user_id       VARCHAR NOT NULL,
            role          VARCHAR,
            period_start  TIMESTAMP,
            period_end    TIMESTAMP,
            file_id       VARCHAR
        );
        CREATE TABLE ehr_access (
            event_id      VARCHAR NOT NULL,     -- AuditEvent id, or a content hash for CSV rows
            time          TIMESTAMP NOT NULL,   -- UTC
            user_id       VARCHAR NOT NULL,
            patient_id    VARCHAR NOT NULL,
            action        VARCHAR,              -- read | search | update | create | delete | export
            outcome       VARCHAR,              -- AuditEvent.outcome: 0 success, 4/8/12 failure
            workstation   VARCHAR,
            purpose       VARCHAR,              -- v3-ActReason code, e.g. TREAT, ETREAT
            reason        VARCHAR,              -- free text, e.g. the break-the-glass reason
            file_id       VARCHAR NOT NULL
        );
        CREATE TABLE alert (
            alert_id      VARCHAR PRIMARY KEY,  -- stable: hash of (rule, user, patient, day)
            rule_id       VARCHAR NOT NULL,
            title         VARCHAR NOT NULL,
            severity      VARCHAR NOT NULL,     -- info | low | medium | high | critical
            score         INTEGER NOT NULL,     -- 0-100
            user_id       VARCHAR,
            patient_id    VARCHAR,
            first_seen    TIMESTAMP NOT NULL,
            last_seen     TIMESTAMP NOT NULL,
            event_ids     VARCHAR[] NOT NULL,
            explanation   VARCHAR NOT NULL,
            mapping       VARCHAR[],            -- ATT&CK technique ids / HIPAA citations
            status        VARCHAR NOT NULL DEFAULT 'open',
            created_at    TIMESTAMP NOT NULL
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        2,
        "derived privacy tables: role categories and access explanations",
        """
        CREATE TABLE workforce_category (
            user_id       VARCHAR NOT NULL,
            role_id       VARCHAR NOT NULL,
            category      VARCHAR NOT NULL,     -- physician | nurse | pharmacist | … | other
            department_id VARCHAR,
            period_start  TIMESTAMP,
            period_end    TIMESTAMP
        );
        CREATE TABLE access_explanation (
            event_id      VARCHAR NOT NULL,
            patient_id    VARCHAR NOT NULL,
            user_id       VARCHAR NOT NULL,
            time          TIMESTAMP NOT NULL,
            local_day     DATE NOT NULL,        -- the day at the site (alerts are per site day)
            local_hour    TINYINT NOT NULL,     -- the hour of day at the site (0-23)
            action        VARCHAR,
            purpose       VARCHAR,              -- as in ehr_access (e.g. ETREAT)
            purpose_text  VARCHAR,              -- the break-the-glass reason, as typed
            workstation   VARCHAR,
            reason        VARCHAR,              -- NULL: no documented relationship
            encounter_id  VARCHAR,              -- the encounter that explains it, if any
            patient_active BOOLEAN              -- the patient had an encounter then (+-1 day)
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        3,
        "fitted models, versioned",
        """
        CREATE TABLE model (
            name        VARCHAR NOT NULL,       -- the detector, e.g. privacy.behaviour
            version     VARCHAR NOT NULL,       -- algorithm/library version/data digest
            features    VARCHAR[],
            rows        BIGINT,                 -- training rows
            blob        BLOB,                   -- the fitted model (pickle)
            created_at  TIMESTAMP NOT NULL
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        4,
        "site settings (the site's time zone)",
        """
        CREATE TABLE site_setting (
            key         VARCHAR PRIMARY KEY,
            value       VARCHAR NOT NULL,
            updated_at  TIMESTAMP NOT NULL
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        5,
        "access explanations are built per detect session; only their counts are kept",
        """
        DROP TABLE access_explanation;
        CREATE TABLE explanation_summary (
            reason      VARCHAR,                -- NULL: accesses nothing explains
            accesses    BIGINT NOT NULL,
            computed_at TIMESTAMP NOT NULL
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        7,
        "security telemetry (Windows events), imported Sigma rules, alert host and credit",
        """
        CREATE TABLE security_event (
            event_uid     VARCHAR NOT NULL,     -- host/channel/record number, or a content hash
            time          TIMESTAMP NOT NULL,
            host          VARCHAR,
            channel       VARCHAR,
            provider      VARCHAR,
            event_id      INTEGER,
            record_id     BIGINT,
            class_uid     INTEGER,              -- OCSF class (3002 authentication, 1007 process…)
            class_name    VARCHAR,
            user_name     VARCHAR,
            user_domain   VARCHAR,
            logon_type    VARCHAR,
            status        VARCHAR,
            process_name  VARCHAR,
            process_pid   VARCHAR,
            process_cmd_line VARCHAR,
            parent_process_name VARCHAR,
            target_process_name VARCHAR,
            src_ip        VARCHAR,
            src_port      VARCHAR,
            dst_ip        VARCHAR,
            dst_port      VARCHAR,
            dns_query     VARCHAR,
            file_path     VARCHAR,
            registry_key  VARCHAR,
            threat_name   VARCHAR,
            raw           VARCHAR NOT NULL,     -- the event as read (JSON), for Sigma and triage
            file_id       VARCHAR
        );
        CREATE TABLE sigma_rule (
            rule_id       VARCHAR PRIMARY KEY,  -- the rule's own id
            title         VARCHAR NOT NULL,
            kind          VARCHAR NOT NULL,     -- rule | correlation
            author        VARCHAR,
            level         VARCHAR,
            status        VARCHAR,
            tags          VARCHAR[],
            logsource     VARCHAR,              -- product/category/service
            path          VARCHAR NOT NULL,     -- the rule file, relative to the imported folder
            reference     VARCHAR,              -- where the rule comes from (credit, DRL 1.1)
            compiled      VARCHAR,              -- JSON: route, SQL condition, fields (NULL: failed)
            error         VARCHAR,              -- why it does not compile (NULL: compiled)
            imported_at   TIMESTAMP NOT NULL
        );
        ALTER TABLE alert ADD COLUMN host VARCHAR;
        ALTER TABLE alert ADD COLUMN author VARCHAR;
        ALTER TABLE alert ADD COLUMN reference VARCHAR;
        """,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version

# Tables whose row counts `carewarden status` reports, in display order.
DATA_TABLES: tuple[str, ...] = (
    "department",
    "workforce",
    "workforce_role",
    "patient",
    "encounter",
    "encounter_participant",
    "care_team",
    "care_team_member",
    "ehr_access",
    "security_event",
    "sigma_rule",
    "alert",
    "quarantine",
)
