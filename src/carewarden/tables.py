"""Arrow schemas of the normalized tables that connectors produce.

They mirror the DuckDB tables in :mod:`carewarden.store.schema` minus the bookkeeping
column ``file_id`` (the ingest service adds it); a test keeps the two in step.
"""

from __future__ import annotations

import pyarrow as pa

_S = pa.string()
_TS = pa.timestamp("us")
_LIST = pa.list_(pa.string())

SCHEMAS: dict[str, pa.Schema] = {
    "department": pa.schema(
        [
            ("department_id", _S),
            ("name", _S),
            ("type_code", _S),
            ("part_of", _S),
            ("active", pa.bool_()),
        ]
    ),
    "workforce": pa.schema(
        [
            ("user_id", _S),
            ("identifier", _S),
            ("family_name", _S),
            ("given_name", _S),
            ("birth_date", pa.date32()),
            ("gender", _S),
            ("address_line", _S),
            ("city", _S),
            ("state", _S),
            ("postal_code", _S),
            ("phone", _S),
            ("active", pa.bool_()),
        ]
    ),
    "workforce_role": pa.schema(
        [
            ("role_id", _S),
            ("user_id", _S),
            ("role_system", _S),
            ("role_code", _S),
            ("role_display", _S),
            ("specialty", _S),
            ("department_id", _S),
            ("period_start", _TS),
            ("period_end", _TS),
            ("active", pa.bool_()),
        ]
    ),
    "patient": pa.schema(
        [
            ("patient_id", _S),
            ("mrn", _S),
            ("family_name", _S),
            ("given_name", _S),
            ("birth_date", pa.date32()),
            ("gender", _S),
            ("address_line", _S),
            ("city", _S),
            ("state", _S),
            ("postal_code", _S),
            ("phone", _S),
            ("deceased", pa.bool_()),
            ("deceased_at", _TS),
            ("confidentiality", pa.list_(_S)),
            ("contacts", _S),
        ]
    ),
    "encounter": pa.schema(
        [
            ("encounter_id", _S),
            ("patient_id", _S),
            ("status", _S),
            ("class_code", _S),
            ("period_start", _TS),
            ("period_end", _TS),
            ("department_id", _S),
        ]
    ),
    "encounter_participant": pa.schema(
        [
            ("encounter_id", _S),
            ("user_id", _S),
            ("type_code", _S),
            ("period_start", _TS),
            ("period_end", _TS),
        ]
    ),
    "care_team": pa.schema(
        [
            ("care_team_id", _S),
            ("patient_id", _S),
            ("encounter_id", _S),
            ("status", _S),
            ("period_start", _TS),
            ("period_end", _TS),
            ("department_id", _S),
        ]
    ),
    "care_team_member": pa.schema(
        [
            ("care_team_id", _S),
            ("user_id", _S),
            ("role", _S),
            ("period_start", _TS),
            ("period_end", _TS),
        ]
    ),
    "ehr_access": pa.schema(
        [
            ("event_id", _S),
            ("time", _TS),
            ("user_id", _S),
            ("patient_id", _S),
            ("action", _S),
            ("outcome", _S),
            ("workstation", _S),
            ("purpose", _S),
            ("reason", _S),
        ]
    ),
    # -- IoMT: SBOMs, advisories, KEV, EPSS, VEX (carewarden.iomt) ------------------------
    "sbom": pa.schema(
        [
            ("sbom_id", _S),
            ("format", _S),
            ("spec_version", _S),
            ("serial_number", _S),
            ("bom_version", pa.int32()),
            ("product", _S),
            ("product_version", _S),
            ("product_ref", _S),
            ("supplier", _S),
            ("created", _TS),
        ]
    ),
    "sbom_component": pa.schema(
        [
            ("sbom_id", _S),
            ("component_id", _S),
            ("bom_ref", _S),
            ("is_product", pa.bool_()),
            ("component_type", _S),
            ("name", _S),
            ("version", _S),
            ("supplier", _S),
            ("purl", _S),
            ("pkg_key", _S),
            ("pkg_version", _S),
            ("cpe", _S),
            ("cpe_key", _S),
            ("cpe_version", _S),
            ("name_key", _S),
        ]
    ),
    "advisory": pa.schema(
        [
            ("advisory_id", _S),
            ("vuln_id", _S),
            ("aliases", _LIST),
            ("source", _S),
            ("document", _S),
            ("summary", _S),
            ("published", _TS),
            ("modified", _TS),
            ("withdrawn", _TS),
            ("cvss_score", pa.float64()),
            ("cvss_vector", _S),
        ]
    ),
    "advisory_range": pa.schema(
        [
            ("advisory_id", _S),
            ("method", _S),
            ("pkg_key", _S),
            ("scheme", _S),
            ("vers", _S),
            ("versions", _LIST),
            ("range_key", _S),
        ]
    ),
    "kev": pa.schema(
        [
            ("cve_id", _S),
            ("vendor", _S),
            ("product", _S),
            ("name", _S),
            ("date_added", pa.date32()),
            ("due_date", pa.date32()),
            ("ransomware", _S),
        ]
    ),
    "epss": pa.schema(
        [
            ("cve_id", _S),
            ("epss", pa.float64()),
            ("percentile", pa.float64()),
            ("score_date", pa.date32()),
            ("model_version", _S),
        ]
    ),
    "vex_document": pa.schema(
        [("doc_id", _S), ("source", _S), ("product", _S), ("modified", _TS)]
    ),
    "vex_statement": pa.schema(
        [
            ("doc_id", _S),
            ("vuln_id", _S),
            ("status", _S),
            ("justification", _S),
            ("detail", _S),
            ("product", _S),
            ("bom_serial", _S),
            ("bom_version", pa.int32()),
            ("bom_ref", _S),
            ("sbom_id", _S),
            ("method", _S),
            ("pkg_key", _S),
            ("scheme", _S),
            ("vers", _S),
            ("versions", _LIST),
            ("range_key", _S),
        ]
    ),
    "security_event": pa.schema(
        [
            ("event_uid", _S),
            ("time", _TS),
            ("host", _S),
            ("channel", _S),
            ("provider", _S),
            ("event_id", pa.int32()),
            ("record_id", pa.int64()),
            ("class_uid", pa.int32()),
            ("class_name", _S),
            *(
                (name, _S)
                for name in (
                    "user_name",
                    "user_domain",
                    "logon_type",
                    "status",
                    "process_name",
                    "process_pid",
                    "process_cmd_line",
                    "parent_process_name",
                    "target_process_name",
                    "src_ip",
                    "src_port",
                    "dst_ip",
                    "dst_port",
                    "dns_query",
                    "file_path",
                    "registry_key",
                    "threat_name",
                )
            ),
            ("raw", _S),
        ]
    ),
    "dr_snapshot": pa.schema(
        [
            ("snapshot_id", _S),
            ("taken_at", _TS),
            ("format", _S),
            ("path", _S),
            ("sets", pa.int64()),
            ("quarantined", pa.int64()),
            ("imported_at", _TS),
        ]
    ),
    "dr_backup_set": pa.schema(
        [
            ("snapshot_id", _S),
            ("set_key", _S),
            ("system", _S),
            ("system_kind", _S),
            ("set_name", _S),
            ("component", _S),
            ("tier", pa.int8()),
            ("rpo_hours", pa.float64()),
            ("rto_hours", pa.float64()),
            ("last_successful_backup", _TS),
            ("last_restore_test", _TS),
            ("last_restore_test_result", _S),
            ("restore_duration_hours", pa.float64()),
            ("restore_test_interval_days", pa.int32()),
            ("immutable_copy", pa.bool_()),
            ("offline_copy", pa.bool_()),
            ("copies", pa.int32()),
            ("media", pa.int32()),
            ("offsite", pa.bool_()),
            ("encrypted", pa.bool_()),
            ("owner", _S),
            ("notes", _S),
            ("line", pa.int64()),
        ]
    ),
    "asset_import": pa.schema(
        [
            ("record_uid", _S),
            ("line", pa.int64()),
            *(
                (name, _S)
                for name in (
                    "mac",
                    "ip",
                    "hostname",
                    "class",
                    "class_text",
                    "vendor",
                    "model",
                    "os",
                    "serial",
                    "location",
                    "zone",
                )
            ),
        ]
    ),
}
