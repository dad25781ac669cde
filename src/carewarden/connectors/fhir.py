"""FHIR R4 connector: bulk-data NDJSON (one resource per line) and Bundle/resource JSON files.

Resources read: Organization (departments), Practitioner, PractitionerRole, Patient,
Encounter, CareTeam and AuditEvent (IHE Basic Audit Log Patterns). Other resource types are
counted as ignored. Source ids are kept exactly: ``Practitioner/pr7`` is user ``pr7``.

Speed. AuditEvents, the bulk of an export, are parsed by DuckDB (see
:mod:`carewarden.connectors.fhir_audit_sql`); the other resources, and any line DuckDB's path
does not fully understand, by the Python extractors below.

Validation. By default each resource gets a structural check of the fields Carewarden uses
(presence, JSON type, date/instant syntax); a failure quarantines that one record with its
line number. ``validate="full"`` also builds the ``fhir.resources`` (R4B) model of every
resource: about 5,000 AuditEvents/s, against some 50,000/s for the structural checks in
Python and 380,000/s end to end on the default path (``python bench/ingest.py``), which is
why it is opt-in.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError

from carewarden.connectors.base import MAX_RECORD_BYTES, RetryFile, open_binary, walk
from carewarden.connectors.blocks import iter_line_blocks
from carewarden.connectors.fhir_audit_sql import AuditEventSql, UnclearFile
from carewarden.errors import SourceError
from carewarden.model import Batch, Rejected, preview
from carewarden.tables import SCHEMAS

Row = tuple[Any, ...]
Rows = list[tuple[str, Row]]

MAX_JSON_FILE_BYTES = 1 << 30  # a Bundle is parsed whole; bulk exports should use NDJSON
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"

_ACTION_BY_SUBTYPE = {
    "read": "read",
    "vread": "read",
    "history-instance": "read",
    "history-type": "read",
    "search": "search",
    "search-type": "search",
    "search-system": "search",
    "search-compartment": "search",
    "create": "create",
    "update": "update",
    "patch": "update",
    "delete": "delete",
    "$export": "export",
    "export": "export",
    "$everything": "export",
}
_ACTION_BY_CODE = {"C": "create", "R": "read", "U": "update", "D": "delete", "E": "execute"}


class RecordError(ValueError):
    """One resource is unusable; the message says which field and why."""


# -- field helpers ---------------------------------------------------------------------------
def _obj(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordError(f"{field}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"{field}: expected an array, got {type(value).__name__}")
    return value


def _str(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{field}: expected a string, got {type(value).__name__}")
    return value


def _required_str(res: dict[str, Any], key: str, rtype: str) -> str:
    value = _str(res.get(key), f"{rtype}.{key}")
    if not value:
        raise RecordError(f"{rtype}.{key} is missing")
    return value


def _bool(value: Any, field: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise RecordError(f"{field}: expected true/false, got {type(value).__name__}")
    return value


def _parse_time(value: Any, field: str) -> tuple[dt.datetime, str] | None:
    """A FHIR date, dateTime or instant and its precision: year, month, day or time.
    The datetime is aware when the text carries an offset, naive otherwise."""
    text = _str(value, field)
    if text is None:
        return None
    try:
        if len(text) == 4:
            return dt.datetime(int(text), 1, 1), "year"
        if len(text) == 7:
            return dt.datetime(int(text[:4]), int(text[5:7]), 1), "month"
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RecordError(f"{field}: invalid date/time {text[:40]!r}") from None
    return parsed, "day" if len(text) == 10 else "time"


def _to_utc(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Naive UTC; a naive ``moment`` (a date, or a time without offset) is in ``zone``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _instant(value: Any, field: str, zone: ZoneInfo) -> dt.datetime | None:
    """A point in time as naive UTC (a date: its first moment in the source's zone)."""
    parsed = _parse_time(value, field)
    return _to_utc(parsed[0], zone) if parsed else None


def _date(value: Any, field: str) -> dt.date | None:
    """A calendar date such as a birth date (no time zone conversion)."""
    parsed = _parse_time(value, field)
    return parsed[0].date() if parsed else None


def ref_id(reference: Any, rtype: str) -> str | None:
    """The id in a reference to a resource of type ``rtype`` (relative or absolute URL)."""
    ref = _str(_obj(reference, "reference").get("reference"), "reference")
    if not ref:
        return None
    ref = ref.split("/_history/", 1)[0]
    head, _, rid = ref.rpartition("/")
    if head != rtype and not head.endswith("/" + rtype):
        return None
    return rid or None


ROLE_REFERENCE = "PractitionerRole/"
"""Prefix of a participant stored by its PractitionerRole: the explanation resolves it to the
role's practitioner (the role may arrive in another file, or after the encounter)."""


def _staff_ref(reference: Any) -> str | None:
    """The Practitioner id a participant or team member references, ``PractitionerRole/<id>``
    when it references a role (EHRs write both), None for anyone else (RelatedPerson…)."""
    user = ref_id(reference, "Practitioner")
    if user:
        return user
    role = ref_id(reference, "PractitionerRole")
    return ROLE_REFERENCE + role if role else None


def _period(
    value: Any, field: str, zone: ZoneInfo
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """A Period as naive UTC (start, end). An end given as a date covers that whole day (FHIR:
    "the end of the period is inclusive"), so it becomes the next local midnight; likewise a
    month or a year."""
    period = _obj(value, field)
    start = _instant(period.get("start"), f"{field}.start", zone)
    parsed = _parse_time(period.get("end"), f"{field}.end")
    if parsed is None:
        return start, None
    end, precision = parsed
    if end.year >= 9999:
        return start, None  # "until further notice", as HR feeds write an open end
    if precision == "day":
        end += dt.timedelta(days=1)
    elif precision == "month":
        end = (end.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    elif precision == "year":
        end = end.replace(year=end.year + 1)
    return start, _to_utc(end, zone)


def _first_coding(concept: Any, field: str) -> tuple[str | None, str | None, str | None]:
    """(system, code, display-or-text) of a CodeableConcept's first coding."""
    cc = _obj(concept, field)
    codings = _list(cc.get("coding"), f"{field}.coding")
    text = _str(cc.get("text"), f"{field}.text")
    if codings:
        c = _obj(codings[0], f"{field}.coding[0]")
        return (
            _str(c.get("system"), f"{field}.coding[0].system"),
            _str(c.get("code"), f"{field}.coding[0].code"),
            _str(c.get("display"), f"{field}.coding[0].display") or text,
        )
    return None, None, text


def _name(res: dict[str, Any], rtype: str) -> tuple[str | None, str | None]:
    names = [_obj(n, f"{rtype}.name") for n in _list(res.get("name"), f"{rtype}.name")]
    if not names:
        return None, None
    chosen = next((n for n in names if n.get("use") in ("official", "usual")), names[0])
    given = [_str(g, f"{rtype}.name.given") for g in _list(chosen.get("given"), "name.given")]
    return _str(chosen.get("family"), f"{rtype}.name.family"), " ".join(g for g in given if g)


def _address(res: dict[str, Any], rtype: str) -> tuple[str | None, ...]:
    addresses = [_obj(a, f"{rtype}.address") for a in _list(res.get("address"), f"{rtype}.address")]
    if not addresses:
        return None, None, None, None
    chosen = next((a for a in addresses if a.get("use") == "home"), addresses[0])
    lines = [_str(x, f"{rtype}.address.line") for x in _list(chosen.get("line"), "address.line")]
    return (
        ", ".join(x for x in lines if x) or None,
        _str(chosen.get("city"), f"{rtype}.address.city"),
        _str(chosen.get("state"), f"{rtype}.address.state"),
        _str(chosen.get("postalCode"), f"{rtype}.address.postalCode"),
    )


def _phone(telecoms: Any, field: str) -> str | None:
    phones = [
        _obj(t, field) for t in _list(telecoms, field) if _obj(t, field).get("system") == "phone"
    ]
    if not phones:
        return None
    # A personal number links relatives: home, then mobile, then one without a use; a work
    # number (HR feeds list it first) only when there is nothing else.
    rank = {"home": 0, "mobile": 1, "temp": 3, "old": 4, "work": 5}
    chosen = min(phones, key=lambda t: rank.get(str(t.get("use")), 2))
    return _str(chosen.get("value"), f"{field}.value")


# -- one extractor per resource type ----------------------------------------------------------
def _organization(res: dict[str, Any], zone: ZoneInfo) -> Rows:
    rid = _required_str(res, "id", "Organization")
    types = _list(res.get("type"), "Organization.type")
    type_code = _first_coding(types[0], "Organization.type")[1] if types else None
    return [
        (
            "department",
            (
                rid,
                _str(res.get("name"), "Organization.name"),
                type_code,
                ref_id(res.get("partOf"), "Organization"),
                _bool(res.get("active"), "Organization.active"),
            ),
        )
    ]


def _identifier_value(res: dict[str, Any], rtype: str, type_code: str | None = None) -> str | None:
    identifiers = [
        _obj(i, f"{rtype}.identifier") for i in _list(res.get("identifier"), "identifier")
    ]
    if type_code:
        for ident in identifiers:
            if _first_coding(ident.get("type"), f"{rtype}.identifier.type")[1] == type_code:
                return _str(ident.get("value"), f"{rtype}.identifier.value")
    return _str(identifiers[0].get("value"), f"{rtype}.identifier.value") if identifiers else None


def _practitioner(res: dict[str, Any], zone: ZoneInfo) -> Rows:
    rid = _required_str(res, "id", "Practitioner")
    family, given = _name(res, "Practitioner")
    line, city, state, postal = _address(res, "Practitioner")
    return [
        (
            "workforce",
            (
                rid,
                _identifier_value(res, "Practitioner"),
                family,
                given,
                _date(res.get("birthDate"), "Practitioner.birthDate"),
                _str(res.get("gender"), "Practitioner.gender"),
                line,
                city,
                state,
                postal,
                _phone(res.get("telecom"), "Practitioner.telecom"),
                _bool(res.get("active"), "Practitioner.active"),
            ),
        )
    ]


def _practitioner_role(res: dict[str, Any], zone: ZoneInfo) -> Rows:
    rid = _required_str(res, "id", "PractitionerRole")
    user = ref_id(res.get("practitioner"), "Practitioner")
    if not user:
        raise RecordError("PractitionerRole.practitioner is missing")
    codes = _list(res.get("code"), "PractitionerRole.code")
    system, code, display = (
        _first_coding(codes[0], "PractitionerRole.code") if codes else (None, None, None)
    )
    specialties = _list(res.get("specialty"), "PractitionerRole.specialty")
    specialty = None
    if specialties:
        _, s_code, s_display = _first_coding(specialties[0], "PractitionerRole.specialty")
        specialty = s_display or s_code
    start, end = _period(res.get("period"), "PractitionerRole.period", zone)
    return [
        (
            "workforce_role",
            (
                rid,
                user,
                system,
                code,
                display,
                specialty,
                ref_id(res.get("organization"), "Organization"),
                start,
                end,
                _bool(res.get("active"), "PractitionerRole.active"),
            ),
        )
    ]


def _contacts(res: dict[str, Any]) -> str | None:
    contacts = []
    for i, raw in enumerate(_list(res.get("contact"), "Patient.contact")):
        field = f"Patient.contact[{i}]"
        contact = _obj(raw, field)
        relationship = [
            _first_coding(r, f"{field}.relationship")[1]
            for r in _list(contact.get("relationship"), f"{field}.relationship")
        ]
        name = _obj(contact.get("name"), f"{field}.name")
        given = _list(name.get("given"), f"{field}.name.given")
        contacts.append(
            {
                "relationship": [r for r in relationship if r],
                "family_name": _str(name.get("family"), f"{field}.name.family"),
                "given_name": " ".join(g for g in given if isinstance(g, str)) or None,
                "phone": _phone(contact.get("telecom"), f"{field}.telecom"),
            }
        )
    return orjson.dumps(contacts).decode() if contacts else None


def _patient(res: dict[str, Any], zone: ZoneInfo) -> Rows:
    rid = _required_str(res, "id", "Patient")
    family, given = _name(res, "Patient")
    line, city, state, postal = _address(res, "Patient")
    deceased_at = _instant(res.get("deceasedDateTime"), "Patient.deceasedDateTime", zone)
    deceased = _bool(res.get("deceasedBoolean"), "Patient.deceasedBoolean")
    if deceased_at is not None:
        deceased = True
    meta = _obj(res.get("meta"), "Patient.meta")
    labels = []
    for sec in _list(meta.get("security"), "Patient.meta.security"):
        coding = _obj(sec, "Patient.meta.security")
        code = _str(coding.get("code"), "Patient.meta.security.code")
        system = coding.get("system")
        if code and (system in (None, CONFIDENTIALITY_SYSTEM) or code in ("R", "V")):
            labels.append(code)
    return [
        (
            "patient",
            (
                rid,
                _identifier_value(res, "Patient", "MR"),
                family,
                given,
                _date(res.get("birthDate"), "Patient.birthDate"),
                _str(res.get("gender"), "Patient.gender"),
                line,
                city,
                state,
                postal,
                _phone(res.get("telecom"), "Patient.telecom"),
                deceased,
                deceased_at,
                labels or None,
                _contacts(res),
            ),
        )
    ]


def _encounter(res: dict[str, Any], zone: ZoneInfo) -> Rows:
    rid = _required_str(res, "id", "Encounter")
    patient = ref_id(res.get("subject"), "Patient")
    if not patient:
        raise RecordError("Encounter.subject (a Patient reference) is missing")
    klass = res.get("class")
    if isinstance(klass, list):  # R5 shape: a list of CodeableConcepts
        class_code = _first_coding(klass[0], "Encounter.class")[1] if klass else None
    else:
        class_code = _str(_obj(klass, "Encounter.class").get("code"), "Encounter.class.code")
    start, end = _period(res.get("period"), "Encounter.period", zone)
    rows: Rows = [
        (
            "encounter",
            (
                rid,
                patient,
                _str(res.get("status"), "Encounter.status"),
                class_code,
                start,
                end,
                ref_id(res.get("serviceProvider"), "Organization"),
            ),
        )
    ]
    for i, raw in enumerate(_list(res.get("participant"), "Encounter.participant")):
        field = f"Encounter.participant[{i}]"
        part = _obj(raw, field)
        user = _staff_ref(part.get("individual") or part.get("actor"))
        if not user:
            continue  # RelatedPerson, Device or no individual: not a workforce link
        types = _list(part.get("type"), f"{field}.type")
        type_code = _first_coding(types[0], f"{field}.type")[1] if types else None
        p_start, p_end = _period(part.get("period"), f"{field}.period", zone)
        rows.append(("encounter_participant", (rid, user, type_code, p_start, p_end)))
    return rows


def _care_team(res: dict[str, Any], zone: ZoneInfo) -> Rows:
    rid = _required_str(res, "id", "CareTeam")
    patient = ref_id(res.get("subject"), "Patient")
    if not patient:
        raise RecordError("CareTeam.subject (a Patient reference) is missing")
    start, end = _period(res.get("period"), "CareTeam.period", zone)
    orgs = _list(res.get("managingOrganization"), "CareTeam.managingOrganization")
    rows: Rows = [
        (
            "care_team",
            (
                rid,
                patient,
                ref_id(res.get("encounter"), "Encounter"),
                _str(res.get("status"), "CareTeam.status"),
                start,
                end,
                ref_id(orgs[0], "Organization") if orgs else None,
            ),
        )
    ]
    for i, raw in enumerate(_list(res.get("participant"), "CareTeam.participant")):
        field = f"CareTeam.participant[{i}]"
        part = _obj(raw, field)
        user = _staff_ref(part.get("member"))
        if not user:
            continue
        roles = _list(part.get("role"), f"{field}.role")
        role = None
        if roles:
            _, code, text = _first_coding(roles[0], f"{field}.role")
            role = text or code
        p_start, p_end = _period(part.get("period"), f"{field}.period", zone)
        rows.append(("care_team_member", (rid, user, role, p_start, p_end)))
    return rows


def _purpose(concepts: Any, field: str) -> tuple[str | None, str | None]:
    """(code, text) of the first purpose-of-use CodeableConcept."""
    items = _list(concepts, field)
    if not items:
        return None, None
    _, code, _ = _first_coding(items[0], field)
    text = _str(_obj(items[0], field).get("text"), f"{field}.text")
    return code, text


def _audit_event(res: dict[str, Any], zone: ZoneInfo) -> Rows:
    rid = _required_str(res, "id", "AuditEvent")
    recorded = _instant(res.get("recorded"), "AuditEvent.recorded", zone)
    if recorded is None:
        raise RecordError("AuditEvent.recorded is missing")
    agents = _list(res.get("agent"), "AuditEvent.agent")
    if not agents:
        raise RecordError("AuditEvent.agent is missing")
    agent: dict[str, Any] | None = None
    user = None
    for i, raw in enumerate(agents):
        candidate = _obj(raw, f"AuditEvent.agent[{i}]")
        who = ref_id(candidate.get("who"), "Practitioner")
        if who and (candidate.get("requestor") is True or user is None):
            agent, user = candidate, who
            if candidate.get("requestor") is True:
                break
    if agent is None or user is None:
        raise RecordError("AuditEvent.agent has no Practitioner (agent.who) to attribute it to")
    patients = []
    for i, raw in enumerate(_list(res.get("entity"), "AuditEvent.entity")):
        pid = ref_id(_obj(raw, f"AuditEvent.entity[{i}]").get("what"), "Patient")
        if pid and pid not in patients:
            patients.append(pid)
    if not patients:
        return []  # not an access to a patient's data (a login, a system event…)
    subtypes = _list(res.get("subtype"), "AuditEvent.subtype")
    subtype = (
        _str(_obj(subtypes[0], "AuditEvent.subtype").get("code"), "AuditEvent.subtype.code")
        if subtypes
        else None
    )
    action_code = _str(res.get("action"), "AuditEvent.action")
    action = _ACTION_BY_SUBTYPE.get(subtype or "") or _ACTION_BY_CODE.get(action_code or "")
    purpose, reason = _purpose(agent.get("purposeOfUse"), "AuditEvent.agent.purposeOfUse")
    if purpose is None and reason is None:
        purpose, reason = _purpose(res.get("purposeOfEvent"), "AuditEvent.purposeOfEvent")
    network = _obj(agent.get("network"), "AuditEvent.agent.network")
    outcome = res.get("outcome")
    if isinstance(outcome, dict):  # R5 shape: a CodeableConcept
        outcome = _first_coding(outcome.get("code"), "AuditEvent.outcome.code")[1]
    row_tail = (
        action,
        _str(outcome, "AuditEvent.outcome"),
        _str(network.get("address"), "AuditEvent.agent.network.address"),
        purpose,
        reason,
    )
    return [("ehr_access", (rid, recorded, user, pid, *row_tail)) for pid in patients]


EXTRACTORS: dict[str, Callable[[dict[str, Any], ZoneInfo], Rows]] = {
    "Organization": _organization,
    "Practitioner": _practitioner,
    "PractitionerRole": _practitioner_role,
    "Patient": _patient,
    "Encounter": _encounter,
    "CareTeam": _care_team,
    "AuditEvent": _audit_event,
}


class _Buffers:
    """Rows accumulated per table until a chunk is full, then turned into Arrow tables."""

    # Child tables and their parent table: a resource's children come right after it.
    CHILDREN: ClassVar[dict[str, str]] = {
        "encounter_participant": "encounter",
        "care_team_member": "care_team",
    }

    def __init__(self) -> None:
        self.rows: dict[str, list[Row]] = {}
        self.size = 0
        # (parent table, id) -> how many versions were added; a later version of a resource
        # in the same chunk replaces the earlier one's children (the store keeps the last).
        self.versions: dict[tuple[str, Any], int] = {}
        self.child_version: dict[str, list[tuple[Any, int]]] = {}

    def add(self, rows: Rows) -> None:
        parent: tuple[str, Any] | None = None
        for table, row in rows:
            if table in self.CHILDREN.values():
                parent = (table, row[0])
                self.versions[parent] = self.versions.get(parent, 0) + 1
            elif table in self.CHILDREN and parent is not None:
                self.child_version.setdefault(table, []).append((parent[1], self.versions[parent]))
            self.rows.setdefault(table, []).append(row)
        self.size += len(rows)

    def _current(self, table: str, rows: list[Row]) -> list[Row]:
        """Child rows of the last version of their parent only."""
        parent_table = self.CHILDREN.get(table)
        tags = self.child_version.get(table)
        if parent_table is None or tags is None:
            return rows
        return [
            row
            for row, (parent_id, version) in zip(rows, tags, strict=True)
            if self.versions[(parent_table, parent_id)] == version
        ]

    def flush(self) -> Iterator[Batch]:
        # Parents before children, so a replaced encounter drops its old participants first.
        for table in SCHEMAS:
            rows = self._current(table, self.rows.get(table) or [])
            if rows:
                schema = SCHEMAS[table]
                columns = list(zip(*rows, strict=True))
                arrays = [
                    pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)
                ]
                yield Batch(table, pa.Table.from_arrays(arrays, schema=schema))
        self.rows = {}
        self.size = 0
        self.versions = {}
        self.child_version = {}


def _holds_audit_events(path: Path) -> bool:
    """Whether the file's first record is an AuditEvent (bulk exports hold one type a file)."""
    with open_binary(path) as stream:
        for _ in range(100):
            line = stream.readline(MAX_RECORD_BYTES)
            if not line:
                return False
            if line.strip():
                return b'"resourceType"' in line and b'"AuditEvent"' in line
    return False


class FhirConnector:
    """``carewarden ingest fhir PATH``: a folder of NDJSON files, or Bundle/resource JSON."""

    name: ClassVar[str] = "fhir"

    def __init__(
        self,
        validate: Literal["fast", "full"] = "fast",
        fast_path: bool = True,
        timezone: str = "UTC",
    ) -> None:
        """``timezone``: the zone of dates and of times without an offset (FHIR requires an
        offset on times, so in practice this applies to dates such as an employment end).
        ``fast_path=False`` parses every line in Python (for comparison and debugging)."""
        self.zone = ZoneInfo(timezone)
        self.validate = validate
        # Files the whole-file fast path gave up on: read line by line instead.
        self._line_by_line: set[Path] = set()
        self.fast_path = fast_path and validate == "fast"
        self.ignored: Counter[str] = Counter()
        self._full_models: dict[str, Any] = {}

    def discover(self, path: Path) -> list[Path]:
        return walk(path, (".ndjson", ".ndjson.gz", ".json", ".json.gz"))

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        name = path.name.lower().removesuffix(".gz")
        if name.endswith(".json"):
            yield from self._read_json_document(path)
        else:
            yield from self._read_ndjson(path)

    # -- NDJSON ------------------------------------------------------------------------------
    def _read_ndjson(self, path: Path) -> Iterator[Batch | Rejected]:
        whole_file = not any(c in str(path) for c in "*?[]{}")  # DuckDB would glob them
        if (
            self.fast_path
            and whole_file
            and path not in self._line_by_line
            and _holds_audit_events(path)
        ):
            yield from self._read_whole_file(path)
            return
        buffers = _Buffers()
        fast = AuditEventSql(self.zone.key) if self.fast_path else None
        try:
            with open_binary(path) as stream:
                for block in iter_line_blocks(stream, MAX_RECORD_BYTES):
                    yield from block.rejected
                    texts = block.table["text"].combine_chunks()
                    if fast is not None:
                        rows, rest = fast.extract(texts)
                        if rows.num_rows:
                            yield Batch("ehr_access", rows)
                    else:
                        rest = pc.indices_nonzero(pc.is_valid(texts))
                    yield from self._exact_path(block.table.take(rest), buffers)
                    yield from buffers.flush()
        finally:
            if fast is not None:
                fast.close()

    def _read_whole_file(self, path: Path) -> Iterator[Batch | Rejected]:
        """DuckDB reads the whole file; at the first line it does not fully understand, the
        ingest is asked to start the file again, line by line (RetryFile)."""
        fast = AuditEventSql(self.zone.key)
        without_patient = 0
        try:
            for rows, skipped in fast.read_file(path, MAX_RECORD_BYTES):
                without_patient += skipped
                if rows.num_rows:
                    yield Batch("ehr_access", rows)
        except UnclearFile as exc:
            self._line_by_line.add(path)
            raise RetryFile(f"{path}: {exc}") from None
        finally:
            fast.close()
        if without_patient:
            self.ignored["AuditEvent without a patient"] += without_patient

    def _exact_path(self, lines: pa.Table, buffers: _Buffers) -> Iterator[Rejected]:
        """Python parsing, line by line: other resource types and every line the fast path
        refused, so that a bad record's error names the field at fault."""
        for number, offset, text in zip(
            lines["line"].to_pylist(),
            lines["byte_offset"].to_pylist(),
            lines["text"].to_pylist(),
            strict=True,
        ):
            if text.isspace():
                continue
            try:
                resource = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                yield Rejected(
                    number,
                    offset,
                    f"invalid JSON: {exc.msg} (at character {exc.pos} of the line)",
                    preview(text),
                )
                continue
            error = self._take(resource, buffers)
            if error:
                yield Rejected(number, offset, error, preview(text))

    # -- Bundle or single resource -----------------------------------------------------------
    def _read_json_document(self, path: Path) -> Iterator[Batch | Rejected]:
        with open_binary(path) as stream:
            data = stream.read(MAX_JSON_FILE_BYTES + 1)
        if len(data) > MAX_JSON_FILE_BYTES:
            raise SourceError(
                f"JSON document larger than {MAX_JSON_FILE_BYTES:,} bytes; export as NDJSON",
                path=str(path),
            )
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            yield Rejected(
                None, 0, f"invalid JSON: {exc.msg} (at character {exc.pos})", preview(data)
            )
            return
        buffers = _Buffers()
        bundle_rejects: list[tuple[int, str]] = []
        error = self._take(document, buffers, bundle_rejects)
        for entry_number, entry_error in bundle_rejects:
            yield Rejected(entry_number, None, entry_error)
        if error:
            yield Rejected(None, 0, error, preview(data))
        yield from buffers.flush()

    # -- dispatch ----------------------------------------------------------------------------
    def _take(
        self,
        resource: Any,
        buffers: _Buffers,
        bundle_rejects: list[tuple[int, str]] | None = None,
    ) -> str | None:
        """Add one resource's rows to ``buffers``; return an error message if refused."""
        if not isinstance(resource, dict):
            return f"expected a FHIR resource (JSON object), got {type(resource).__name__}"
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str):
            return "resourceType is missing"
        if rtype == "Bundle":
            return self._take_bundle(resource, buffers, bundle_rejects)
        extractor = EXTRACTORS.get(rtype)
        if extractor is None:
            self.ignored[f"resource type {rtype}"] += 1
            return None
        if self.validate == "full":
            problem = self._full_validation(rtype, resource)
            if problem:
                return problem
        try:
            rows = extractor(resource, self.zone)
        except RecordError as exc:
            return str(exc)
        except (TypeError, ValueError, AttributeError, IndexError, KeyError, OverflowError) as exc:
            return f"{rtype}: malformed resource ({type(exc).__name__}: {exc})"
        if not rows:
            self.ignored[f"{rtype} without a patient"] += 1
        buffers.add(rows)
        return None

    def _take_bundle(
        self,
        bundle: dict[str, Any],
        buffers: _Buffers,
        bundle_rejects: list[tuple[int, str]] | None,
    ) -> str | None:
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            return "Bundle.entry: expected an array"
        for number, entry in enumerate(entries, start=1):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            error = self._take(resource, buffers, bundle_rejects)
            if error:
                message = f"Bundle.entry[{number - 1}]: {error}"
                if bundle_rejects is None:
                    return message
                bundle_rejects.append((number, message))
        return None

    def _full_validation(self, rtype: str, resource: dict[str, Any]) -> str | None:
        model = self._full_models.get(rtype)
        if model is None:
            from fhir.resources.R4B import get_fhir_model_class

            model = self._full_models[rtype] = get_fhir_model_class(rtype)
        try:
            model.model_validate(resource)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]
            )
            return f"{rtype} fails FHIR validation: {problems}"
        return None
