"""The fast paths for AuditEvents: DuckDB parses NDJSON into ``ehr_access`` rows.

AuditEvents are the bulk of a FHIR export (millions a day); Python's per-resource
extraction tops out near 60,000 a second, DuckDB's JSON reader (yyjson, parallel) does
several hundred thousand. Two ways in:

* a whole file read by ``read_ndjson`` (the fastest): used when the file holds AuditEvents,
  and abandoned (:class:`UnclearFile`) at the first line that is not a well-formed
  AuditEvent, so the file is read again by the second way;
* blocks of lines framed in Python (:mod:`carewarden.connectors.blocks`): accepts the lines
  it fully understands (valid JSON, an AuditEvent with an id, a parseable ``recorded``, a
  Practitioner agent and a Patient entity) and hands every other line back to the exact
  Python path in :mod:`carewarden.connectors.fhir`, which gives the precise error.

The same rules choose the agent (the requestor, else the first Practitioner), the purpose
and the action in every path; a test checks that they produce the same rows.

DuckDB is used here as an in-memory parser only; it never touches the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from carewarden.tables import SCHEMAS

FILE_BATCH_ROWS = 1_000_000

_STRUCTURE = (
    '{"resourceType":"VARCHAR","id":"VARCHAR","recorded":"VARCHAR","action":"VARCHAR",'
    '"outcome":"JSON","subtype":[{"code":"VARCHAR"}],'
    '"agent":[{"who":{"reference":"VARCHAR"},"requestor":"BOOLEAN",'
    '"network":{"address":"VARCHAR"},'
    '"purposeOfUse":[{"coding":[{"code":"VARCHAR"}],"text":"VARCHAR"}]}],'
    '"entity":[{"what":{"reference":"VARCHAR"}}],'
    '"purposeOfEvent":[{"coding":[{"code":"VARCHAR"}],"text":"VARCHAR"}]}'
)

# Same tables as fhir._ACTION_BY_SUBTYPE / _ACTION_BY_CODE.
_SUBTYPE_CASE = """CASE r.subtype[1].code
    WHEN 'read' THEN 'read' WHEN 'vread' THEN 'read' WHEN 'history-instance' THEN 'read'
    WHEN 'history-type' THEN 'read' WHEN 'search' THEN 'search'
    WHEN 'search-type' THEN 'search' WHEN 'search-system' THEN 'search'
    WHEN 'search-compartment' THEN 'search'
    WHEN 'create' THEN 'create' WHEN 'update' THEN 'update' WHEN 'patch' THEN 'update'
    WHEN 'delete' THEN 'delete' WHEN '$export' THEN 'export' WHEN 'export' THEN 'export'
    WHEN '$everything' THEN 'export' END"""
_ACTION_CASE = """CASE r.action WHEN 'C' THEN 'create' WHEN 'R' THEN 'read'
    WHEN 'U' THEN 'update' WHEN 'D' THEN 'delete' WHEN 'E' THEN 'execute' END"""


def _is_ref(expr: str, rtype: str) -> str:
    """SQL: ``expr`` is a plain relative reference ``Type/id``. Absolute URLs and versioned
    references are left to the Python path (rare in exports; a regex here costs 5x)."""
    n = len(rtype) + 2
    return (
        f"(starts_with({expr}, '{rtype}/') AND length({expr}) >= {n} "
        f"AND NOT contains(substr({expr}, {n}), '/'))"
    )


def _ref_id(expr: str, rtype: str) -> str:
    return f"substr({expr}, {len(rtype) + 2})"


def _ddl(spec: object) -> str:
    """DuckDB type of a from_json structure (for read_ndjson's ``columns``)."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, list):
        return _ddl(spec[0]) + "[]"
    assert isinstance(spec, dict)
    return "STRUCT(" + ", ".join(f'"{k}" {_ddl(v)}' for k, v in spec.items()) + ")"


_FIELDS: dict[str, object] = json.loads(_STRUCTURE)

# A block of lines already framed in Python (column ``text``); unparseable lines give NULL.
BLOCK_SOURCE = f"SELECT idx, try(from_json(text, '{_STRUCTURE}')) AS r FROM block"


def file_source(path: Path, max_record_bytes: int) -> str:
    """A whole NDJSON file read by DuckDB itself: any malformed line fails the query."""
    columns = ", ".join(f"'{k}': '{_ddl(v)}'" for k, v in _FIELDS.items())
    fields = ", ".join(f"'{k}': \"{k}\"" for k in _FIELDS)
    literal = str(path).replace("'", "''")
    return (
        f"SELECT 0 AS idx, {{{fields}}} AS r FROM read_ndjson('{literal}', "
        f"columns={{{columns}}}, maximum_object_size={max_record_bytes}, ignore_errors=false)"
    )


def extraction_query(source: str) -> str:
    """ehr_access rows (patients as a list) plus ``status``: ok, no_patient (a valid event
    about no patient: a login, say) or bad (anything the Python path must look at)."""
    return f"""
WITH parsed AS MATERIALIZED ({source}
), agents AS MATERIALIZED (
    SELECT idx, r,
           TRY_CAST(r.recorded AS TIMESTAMPTZ) AS recorded,
           list_filter(r.agent, lambda a: {_is_ref("a.who.reference", "Practitioner")})
               AS practitioners
    FROM parsed
), chosen AS MATERIALIZED (
    SELECT idx, r, recorded,
           coalesce(list_filter(practitioners, lambda a: a.requestor)[1], practitioners[1])
               AS agent,
           list_distinct(list_transform(
               list_filter(r.entity, lambda e: {_is_ref("e.what.reference", "Patient")}),
               lambda e: {_ref_id("e.what.reference", "Patient")})) AS patients
    FROM agents
)
SELECT idx,
       CASE WHEN r.resourceType IS DISTINCT FROM 'AuditEvent' OR coalesce(r.id, '') = ''
                 OR recorded IS NULL OR agent IS NULL
                 -- a Patient reference in another form (absolute URL, versioned): Python path
                 OR list_bool_or(list_transform(r.entity, lambda e:
                        contains(e.what.reference, 'Patient/')
                        AND NOT {_is_ref("e.what.reference", "Patient")})) THEN 'bad'
            WHEN coalesce(len(patients), 0) = 0 THEN 'no_patient'
            ELSE 'ok' END AS status,
       r.id AS event_id,
       timezone('UTC', recorded) AS time,
       {_ref_id("agent.who.reference", "Practitioner")} AS user_id,
       patients,
       coalesce({_SUBTYPE_CASE}, {_ACTION_CASE}) AS action,
       CASE json_type(r.outcome)
           WHEN 'VARCHAR' THEN r.outcome ->> '$'
           WHEN 'OBJECT' THEN r.outcome ->> '$.code.coding[0].code' END AS outcome,
       agent.network.address AS workstation,
       CASE WHEN agent.purposeOfUse[1].coding[1].code IS NULL
                 AND agent.purposeOfUse[1].text IS NULL
            THEN r.purposeOfEvent[1].coding[1].code
            ELSE agent.purposeOfUse[1].coding[1].code END AS purpose,
       CASE WHEN agent.purposeOfUse[1].coding[1].code IS NULL
                 AND agent.purposeOfUse[1].text IS NULL
            THEN r.purposeOfEvent[1].text
            ELSE agent.purposeOfUse[1].text END AS reason
FROM chosen
"""


def to_access_rows(found: pa.Table) -> pa.Table:
    """One ``ehr_access`` row per (event, patient) from the query's ``ok`` rows."""
    patients = found["patients"].combine_chunks()
    parents = pc.list_parent_indices(patients)
    schema = SCHEMAS["ehr_access"]
    columns = {
        name: found[name].combine_chunks().take(parents)
        for name in schema.names
        if name != "patient_id"
    }
    columns["patient_id"] = pc.list_flatten(patients)
    return pa.table([columns[n] for n in schema.names], names=schema.names).cast(schema)


class AuditEventSql:
    """Parses AuditEvents with one in-memory DuckDB connection: a whole clean file at once,
    or blocks of lines framed in Python."""

    def __init__(self, timezone: str = "UTC") -> None:
        self.con = duckdb.connect()
        # Times without an offset are read in the source's zone, as in the Python path.
        self.con.execute("SET TimeZone = ?", [timezone]).fetchall()
        self.con.execute("SET enable_progress_bar = false").fetchall()

    def close(self) -> None:
        self.con.close()

    def read_file(self, path: Path, max_record_bytes: int) -> Iterator[tuple[pa.Table, int]]:
        """(rows, events about no patient) per result batch of a whole file, read by DuckDB.

        Raises :class:`UnclearFile` when any line is not a well-formed AuditEvent this path
        understands; the caller then reads the file again line by line, for exact errors.
        """
        query = extraction_query(file_source(path, max_record_bytes))
        try:
            for batch in self.con.sql(query).to_arrow_reader(FILE_BATCH_ROWS):
                found = pa.Table.from_batches([batch])
                status = found["status"]
                if pc.any(pc.equal(status, "bad")).as_py():
                    raise UnclearFile("a line needs the exact path")
                ok = pc.equal(status, "ok")
                skipped = len(found) - pc.sum(ok).as_py() if len(found) else 0
                yield to_access_rows(found.filter(ok)), int(skipped or 0)
        except UnclearFile:
            raise
        except Exception as exc:  # any failure here: the exact path decides
            raise UnclearFile(f"{type(exc).__name__}: {exc}") from None

    def extract(self, texts: pa.Array) -> tuple[pa.Table, pa.Array]:
        """Rows for ``ehr_access`` from the lines it accepts, and the indices of the others."""
        block = pa.table({"idx": pa.array(range(len(texts)), pa.int64()), "text": texts})
        self.con.register("block", block)
        try:
            found = self.con.sql(extraction_query(BLOCK_SOURCE)).to_arrow_table()
        finally:
            self.con.unregister("block")
        found = found.filter(pc.equal(found["status"], "ok"))
        accepted = found["idx"].combine_chunks()
        rest_mask = pc.invert(pc.is_in(block["idx"], value_set=accepted))
        rest = pc.indices_nonzero(pc.and_(rest_mask, pc.is_valid(texts)))
        return to_access_rows(found), rest


class UnclearFile(Exception):
    """The whole-file path met a line it does not fully understand."""
