"""FHIR R4 connector: every resource mapping, Bundles, NDJSON folders and bad records."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from carewarden.connectors.base import RetryFile
from carewarden.connectors.fhir import FhirConnector
from carewarden.model import Batch, Rejected
from carewarden.services.ingest import ingest
from carewarden.store import Store


def _rows(store: Store, sql: str) -> list[dict[str, Any]]:
    return list(store.arrow(sql).to_pylist())


@pytest.fixture
def loaded(store: Store, data: Path) -> Store:
    summary = ingest(store, FhirConnector(), [data / "fhir" / "export"])
    assert not summary.failed
    return store


def test_organization_becomes_department(loaded: Store) -> None:
    """Organizations map to departments with their parent organization id."""
    icu = _rows(loaded, "SELECT * FROM department WHERE department_id = 'dept-icu'")[0]
    assert icu["name"] == "Intensive Care Unit"
    assert icu["type_code"] == "dept"
    assert icu["part_of"] == "hosp"


def test_practitioner_becomes_workforce(loaded: Store) -> None:
    """Practitioner: official name, all given names, home phone, home address, partial date."""
    julia = _rows(loaded, "SELECT * FROM workforce WHERE user_id = 'pr-alvarez'")[0]
    assert (julia["family_name"], julia["given_name"]) == ("Alvarez", "Julia M.")
    assert julia["birth_date"] == dt.date(1986, 4, 12)
    assert julia["phone"] == "555-0101"  # the phone, not the e-mail listed first
    assert julia["address_line"] == "14 Birch Lane, Apt 2"
    assert (julia["city"], julia["state"], julia["postal_code"]) == ("Springfield", "IL", "62704")
    assert julia["identifier"] == "E1001"
    okafor = _rows(loaded, "SELECT * FROM workforce WHERE user_id = 'pr-okafor'")[0]
    assert okafor["birth_date"] == dt.date(1979, 1, 1)  # "1979": year precision


def test_practitioner_role_keeps_code_department_and_employment(loaded: Store) -> None:
    """PractitionerRole: code system/code/display or text, department, employment period."""
    roles = {r["role_id"]: r for r in _rows(loaded, "SELECT * FROM workforce_role")}
    assert roles["role-1"]["role_code"] == "nurse"
    assert roles["role-1"]["role_system"] == (
        "http://terminology.hl7.org/CodeSystem/practitioner-role"
    )
    assert roles["role-1"]["department_id"] == "dept-icu"
    assert roles["role-1"]["specialty"] == "Critical care medicine"
    assert roles["role-2"]["role_display"] == "Billing specialist"
    assert roles["role-2"]["role_code"] is None
    # End of employment with an offset is stored in UTC.
    assert roles["role-3"]["period_end"] == dt.datetime(2026, 2, 15, 23, 0)
    assert roles["role-3"]["user_id"] == "pr-gone"


def test_patient_mapping(loaded: Store) -> None:
    """Patient: MRN by identifier type, confidentiality labels, contacts, deceased[x]."""
    patients = {r["patient_id"]: r for r in _rows(loaded, "SELECT * FROM patient")}
    maria = patients["pt-maria"]
    assert maria["mrn"] == "MRN-000451"
    assert maria["address_line"] == "14 Birch Lane, Apt 2"
    contacts = json.loads(maria["contacts"])
    assert contacts == [
        {
            "relationship": ["C"],
            "family_name": "Alvarez",
            "given_name": "Julia",
            "phone": "555-0101",
        }
    ]
    assert patients["pt-star"]["confidentiality"] == ["V"]  # HTEST is not a confidentiality code
    assert patients["pt-late"]["deceased"] is True
    assert patients["pt-late"]["deceased_at"] == dt.datetime(2025, 6, 1, 8, 0)
    assert patients["pt-self"]["deceased"] is False
    assert maria["deceased"] is None


def test_encounter_and_participants(loaded: Store) -> None:
    """Encounter: subject, class, period, department; only Practitioner participants."""
    enc = _rows(loaded, "SELECT * FROM encounter")[0]
    assert (enc["encounter_id"], enc["patient_id"], enc["class_code"]) == (
        "enc-1",
        "pt-maria",
        "IMP",
    )
    assert enc["department_id"] == "dept-icu"
    assert enc["period_end"] == dt.datetime(2026, 3, 4, 12, 0)
    parts = _rows(loaded, "SELECT * FROM encounter_participant")
    assert [(p["user_id"], p["type_code"]) for p in parts] == [("pr-okafor", "ATND")]


def test_care_team_and_members(loaded: Store) -> None:
    """CareTeam: subject, encounter, managing organization and member roles."""
    team = _rows(loaded, "SELECT * FROM care_team")[0]
    assert (team["patient_id"], team["encounter_id"], team["department_id"]) == (
        "pt-maria",
        "enc-1",
        "dept-icu",
    )
    members = _rows(loaded, "SELECT * FROM care_team_member")
    assert [(m["user_id"], m["role"]) for m in members] == [("pr-okafor", "Primary nurse")]


def test_audit_events_become_accesses(loaded: Store) -> None:
    """AuditEvent: requestor agent, workstation, purpose and reason, one row per patient."""
    rows = _rows(loaded, "SELECT * FROM ehr_access ORDER BY event_id, patient_id")
    by_key = {(r["event_id"], r["patient_id"]): r for r in rows}
    first = by_key[("ae-1", "pt-maria")]
    assert first["user_id"] == "pr-alvarez"  # the requestor, not the Device agent
    assert first["time"] == dt.datetime(2026, 3, 3, 8, 14, 5)  # -06:00 -> UTC
    assert (first["action"], first["outcome"], first["workstation"], first["purpose"]) == (
        "read",
        "0",
        "WS-ICU-07",
        "TREAT",
    )
    search = [r for r in rows if r["event_id"] == "ae-2"]
    assert sorted(r["patient_id"] for r in search) == ["pt-late", "pt-star"]  # de-duplicated
    assert {(r["action"], r["purpose"], r["reason"]) for r in search} == {
        ("search", "ETREAT", "Patient unresponsive in ED")
    }
    versioned = by_key[("ae-3", "pt-late")]
    assert versioned["user_id"] == "pr-gone"  # absolute, versioned reference
    assert versioned["outcome"] == "4"
    assert versioned["time"] == dt.datetime(2026, 3, 3, 9, 5, 0, 250000)
    assert ("ae-login", None) not in by_key and all(r["event_id"] != "ae-login" for r in rows)
    assert len(rows) == 5


def test_non_patient_events_and_other_resources_are_counted_as_ignored(
    store: Store, data: Path
) -> None:
    """Events without a patient and unknown resource types are counted, not quarantined."""
    summary = ingest(store, FhirConnector(), [data / "fhir" / "export"])
    assert summary.ignored["AuditEvent without a patient"] == 1
    assert summary.ignored["resource type Observation"] == 1
    assert summary.total("quarantined") == 0


def test_bundle_entries_are_read_and_bad_entries_quarantined(store: Store, data: Path) -> None:
    """A Bundle's good entries land; a bad entry is quarantined with its entry number."""
    summary = ingest(store, FhirConnector(), [data / "fhir" / "bundle.json"])
    assert summary.tables["patient"] == 1
    assert summary.tables["workforce"] == 1
    assert summary.tables["ehr_access"] == 1
    rejects = summary.files[0].first_rejects
    assert len(rejects) == 1
    assert rejects[0].line == 3
    assert "Bundle.entry[2]" in rejects[0].error and "recorded" in rejects[0].error


def test_gzip_ndjson_is_read_transparently(store: Store, data: Path, tmp_path: Path) -> None:
    """A gzip-compressed NDJSON file gives the same rows as the plain file."""
    source = data / "fhir" / "export" / "AuditEvent.ndjson"
    packed = tmp_path / "AuditEvent.ndjson.gz"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    summary = ingest(store, FhirConnector(), [packed])
    assert summary.tables["ehr_access"] == 5


def _lines(connector: FhirConnector, path: Path) -> tuple[list[Batch], list[Rejected]]:
    """Everything the connector yields for ``path``, retrying once as the ingest does."""
    try:
        items = list(connector.read(path))
    except RetryFile:
        items = list(connector.read(path))
    return [i for i in items if isinstance(i, Batch)], [i for i in items if isinstance(i, Rejected)]


GOOD = {
    "resourceType": "AuditEvent",
    "id": "good",
    "recorded": "2026-03-03T08:00:00Z",
    "agent": [{"who": {"reference": "Practitioner/u1"}, "requestor": True}],
    "entity": [{"what": {"reference": "Patient/p1"}}],
}


def _event(**changes: Any) -> bytes:
    event = {**GOOD, **changes}
    return json.dumps(event).encode()


def test_bad_lines_are_quarantined_with_line_numbers_and_good_lines_land(
    store: Store, tmp_path: Path
) -> None:
    """Broken JSON, missing fields, wrong types, a 10 MB field and invalid UTF-8 are each
    quarantined with their line number and reason; the good lines around them land."""
    lines = [
        _event(id="g1"),  # 1 good
        b'{"resourceType": "AuditEvent", "id": "x"',  # 2 broken JSON
        _event(id="g2"),  # 3 good
        _event(id="m1", recorded=None),  # 4 missing recorded
        _event(id="t1", agent="someone"),  # 5 wrong type
        _event(id="t2", recorded=20260303),  # 6 wrong type
        _event(id="big", reason="x" * (10 << 20)),  # 7 a 10 MB field
        _event(id="u1")[:-2] + b'\xff\xfe"}',  # 8 invalid UTF-8
        b"",  # 9 blank: skipped
        _event(id="g3"),  # 10 good
        b"[1, 2, 3]",  # 11 not an object
        _event(id="m2", agent=[{"who": {"reference": "Device/d"}}]),  # 12 no practitioner
    ]
    path = tmp_path / "AuditEvent.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    summary = ingest(store, FhirConnector(), [path])
    stored = [r[0] for r in store.query("SELECT event_id FROM ehr_access ORDER BY 1")]
    assert stored == ["g1", "g2", "g3"]
    quarantined = dict(store.query("SELECT line, error FROM quarantine ORDER BY line"))
    assert sorted(quarantined) == [2, 4, 5, 6, 7, 8, 11, 12]
    assert "invalid JSON" in quarantined[2]
    assert "recorded" in quarantined[4]
    assert "agent" in quarantined[5]
    assert "recorded" in quarantined[6]
    assert "exceeds the limit" in quarantined[7]
    assert "UTF-8" in quarantined[8]
    assert "object" in quarantined[11]
    assert "Practitioner" in quarantined[12]
    assert summary.total("quarantined") == 8
    offsets = dict(store.query("SELECT line, byte_offset FROM quarantine"))
    assert offsets[2] == len(lines[0]) + 1


def test_fast_path_agrees_with_exact_path(tmp_path: Path, data: Path) -> None:
    """The DuckDB fast path and the Python path produce the same rows for the same events."""
    source = data / "fhir" / "export" / "AuditEvent.ndjson"
    fast, fast_rejects = _lines(FhirConnector(), source)
    exact, exact_rejects = _lines(FhirConnector(fast_path=False), source)

    def rows(batches: list[Batch]) -> list[tuple[Any, ...]]:
        out = []
        for b in batches:
            out += [tuple(r.values()) for r in b.rows.to_pylist()]
        return sorted(out, key=repr)

    assert rows(fast) == rows(exact)
    assert fast_rejects == exact_rejects == []


def test_whole_file_path_agrees_with_exact_path(tmp_path: Path) -> None:
    """A clean AuditEvent file goes through DuckDB's whole-file reader, and gives the same
    rows and the same ignored count as the line-by-line Python path."""
    events = [
        _event(id="a1"),
        _event(
            id="a2",
            subtype=[{"code": "search-type"}],
            action="E",
            entity=[{"what": {"reference": "Patient/p1"}}, {"what": {"reference": "Patient/p2"}}],
        ),
        _event(
            id="a3",
            purposeOfEvent=[{"coding": [{"code": "ETREAT"}], "text": "Code blue"}],
            outcome="4",
        ),
        _event(
            id="a4",
            agent=[
                {"who": {"reference": "Practitioner/other"}},
                {
                    "who": {"reference": "Practitioner/u9"},
                    "requestor": True,
                    "network": {"address": "WS-9"},
                    "purposeOfUse": [{"coding": [{"code": "HPAYMT"}]}],
                },
            ],
        ),
        _event(id="login", entity=[{"what": {"reference": "Device/ws"}}]),
        _event(id="a5", recorded="2026-03-03T02:00:00-06:00", action="U"),
    ]
    path = tmp_path / "AuditEvent.ndjson"
    path.write_bytes(b"\n".join(events) + b"\n")

    def rows(connector: FhirConnector) -> list[tuple[Any, ...]]:
        batches, rejects = _lines(connector, path)
        assert rejects == []
        return sorted((tuple(r.values()) for b in batches for r in b.rows.to_pylist()), key=repr)

    whole = FhirConnector()
    assert list(whole.read(path))  # no RetryFile: the whole-file path took it
    exact = FhirConnector(fast_path=False)
    exact_rows = rows(exact)
    assert rows(FhirConnector()) == exact_rows
    assert len(exact_rows) == 6
    assert whole.ignored == exact.ignored == {"AuditEvent without a patient": 1}


def test_records_across_block_boundaries_keep_their_line_numbers(tmp_path: Path) -> None:
    """Many lines over several blocks: every good line lands, bad line numbers stay exact."""
    from carewarden.connectors import blocks

    path = tmp_path / "many.ndjson"
    with path.open("wb") as out:
        for i in range(1, 3001):
            out.write(b"not json\n" if i % 1000 == 0 else _event(id=f"e{i}") + b"\n")
    original = blocks.BLOCK_BYTES
    blocks.BLOCK_BYTES = 4096  # force many blocks
    try:
        batches, rejects = _lines(FhirConnector(), path)
    finally:
        blocks.BLOCK_BYTES = original
    assert sum(b.rows.num_rows for b in batches) == 2997
    assert [r.line for r in rejects] == [1000, 2000, 3000]


def test_full_validation_quarantines_invalid_fhir(tmp_path: Path) -> None:
    """--validate full refuses a resource that breaks the FHIR model (e.g. a bad gender code)."""
    path = tmp_path / "Patient.ndjson"
    path.write_text(
        json.dumps({"resourceType": "Patient", "id": "p1", "gender": 7})
        + "\n"
        + json.dumps({"resourceType": "Patient", "id": "p2", "gender": "female"})
        + "\n"
    )
    batches, rejects = _lines(FhirConnector(validate="full"), path)
    assert [r.line for r in rejects] == [1]
    assert "FHIR validation" in rejects[0].error
    assert sum(b.rows.num_rows for b in batches) == 1


def test_a_later_export_of_a_resource_replaces_the_earlier(store: Store, tmp_path: Path) -> None:
    """Re-exported Encounters replace the old row and its participants (no stale links)."""
    first = tmp_path / "a" / "Encounter.ndjson"
    second = tmp_path / "b" / "Encounter.ndjson"
    first.parent.mkdir()
    second.parent.mkdir()
    enc = {
        "resourceType": "Encounter",
        "id": "e1",
        "subject": {"reference": "Patient/p1"},
        "participant": [{"individual": {"reference": "Practitioner/u1"}}],
    }
    first.write_text(json.dumps(enc) + "\n")
    enc["participant"] = [{"individual": {"reference": "Practitioner/u2"}}]
    enc["status"] = "finished"
    second.write_text(json.dumps(enc) + "\n")
    ingest(store, FhirConnector(), [first])
    ingest(store, FhirConnector(), [second])
    assert store.query("SELECT encounter_id, status FROM encounter") == [("e1", "finished")]
    assert store.query("SELECT user_id FROM encounter_participant") == [("u2",)]


def test_folder_discovery_is_recursive_and_sorted(tmp_path: Path, data: Path) -> None:
    """A folder is read recursively; only FHIR JSON/NDJSON files are picked up."""
    target = tmp_path / "export"
    shutil.copytree(data / "fhir" / "export", target / "nested")
    (target / "README.txt").write_text("not FHIR")
    found = FhirConnector().discover(target)
    assert [p.name for p in found] == sorted(p.name for p in found)
    assert all(p.suffix == ".ndjson" for p in found)
    assert len(found) == 8


def test_a_date_only_period_end_covers_that_whole_day(store: Store, tmp_path: Path) -> None:
    """Period.end "2026-03-05" is inclusive: the employment runs until the next midnight."""
    path = tmp_path / "PractitionerRole.ndjson"
    roles = [
        {
            "resourceType": "PractitionerRole",
            "id": "r1",
            "practitioner": {"reference": "Practitioner/u1"},
            "period": {"end": "2026-03-05"},
        },
        {
            "resourceType": "PractitionerRole",
            "id": "r2",
            "practitioner": {"reference": "Practitioner/u2"},
            "period": {"end": "2026-12"},
        },
        {
            "resourceType": "PractitionerRole",
            "id": "r3",
            "practitioner": {"reference": "Practitioner/u3"},
            "period": {"end": "2026"},
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in roles))
    ingest(store, FhirConnector(), [path])
    ends = dict(store.query("SELECT role_id, period_end FROM workforce_role"))
    assert ends == {
        "r1": dt.datetime(2026, 3, 6),
        "r2": dt.datetime(2027, 1, 1),
        "r3": dt.datetime(2027, 1, 1),
    }


def test_dates_and_offsetless_times_use_the_source_time_zone(tmp_path: Path) -> None:
    """With timezone=America/Chicago, an employment end date runs to local midnight and a
    time without offset is local, in both the fast and the exact path."""
    path = tmp_path / "mixed.ndjson"
    path.write_text(
        json.dumps(
            {
                "resourceType": "PractitionerRole",
                "id": "r1",
                "practitioner": {"reference": "Practitioner/u1"},
                "period": {"start": "2026-03-01", "end": "2026-03-05"},
            }
        )
        + "\n"
        + _event(id="naive", recorded="2026-03-05T20:45:00").decode()
        + "\n"
    )
    for fast_path in (True, False):
        connector = FhirConnector(timezone="America/Chicago", fast_path=fast_path)
        batches, rejects = _lines(connector, path)
        rows = {b.table: b.rows.to_pylist()[0] for b in batches}
        assert rejects == []
        assert rows["workforce_role"]["period_start"] == dt.datetime(2026, 3, 1, 6, 0)
        assert rows["workforce_role"]["period_end"] == dt.datetime(2026, 3, 6, 6, 0)
        assert rows["ehr_access"]["time"] == dt.datetime(2026, 3, 6, 2, 45)


def test_absolute_patient_references_are_kept_on_every_path(tmp_path: Path) -> None:
    """Clean AuditEvents that name the patient by absolute or versioned URL are not dropped:
    the fast path hands them to the exact path."""
    path = tmp_path / "AuditEvent.ndjson"
    path.write_bytes(
        _event(id="abs", entity=[{"what": {"reference": "https://ehr.example/fhir/Patient/p9"}}])
        + b"\n"
        + _event(
            id="both",
            entity=[
                {"what": {"reference": "Patient/p1"}},
                {"what": {"reference": "Patient/p2/_history/4"}},
            ],
        )
        + b"\n"
    )
    batches, rejects = _lines(FhirConnector(), path)
    rows = sorted((r["event_id"], r["patient_id"]) for b in batches for r in b.rows.to_pylist())
    assert rows == [("abs", "p9"), ("both", "p1"), ("both", "p2")]
    assert rejects == []


def test_an_open_ended_far_future_period_is_open(store: Store, tmp_path: Path) -> None:
    """Period.end 9999-12-31 (an HR feed's "until further notice") is stored as open."""
    path = tmp_path / "PractitionerRole.ndjson"
    path.write_text(
        json.dumps(
            {
                "resourceType": "PractitionerRole",
                "id": "r1",
                "practitioner": {"reference": "Practitioner/u1"},
                "period": {"start": "2020-01-01", "end": "9999-12-31"},
            }
        )
        + "\n"
    )
    summary = ingest(store, FhirConnector(), [path])
    assert summary.total("quarantined") == 0 and not summary.failed
    assert store.query("SELECT period_end FROM workforce_role") == [(None,)]


def test_two_versions_of_an_encounter_in_one_file_keep_the_last_participants(
    store: Store, tmp_path: Path
) -> None:
    """An export holding an Encounter twice stores the last version and only its participants."""
    enc = {
        "resourceType": "Encounter",
        "id": "e1",
        "subject": {"reference": "Patient/p1"},
        "participant": [{"individual": {"reference": "Practitioner/old"}}],
    }
    later = {**enc, "participant": [{"individual": {"reference": "Practitioner/new"}}]}
    path = tmp_path / "Encounter.ndjson"
    path.write_text(json.dumps(enc) + "\n" + json.dumps(later) + "\n")
    ingest(store, FhirConnector(), [path])
    assert store.query("SELECT user_id FROM encounter_participant") == [("new",)]


def test_personal_phone_is_preferred_over_a_work_number(store: Store, tmp_path: Path) -> None:
    """HR feeds list the work number first: the home (else mobile) number is kept, since
    it is the one relatives share; a work number only when there is nothing else."""
    path = tmp_path / "Practitioner.ndjson"
    telecoms = {
        "p1": [("work", "555-0001"), ("pager", "555-0002"), ("mobile", "555-0003")],
        "p2": [("work", "555-0004"), ("home", "555-0005"), ("mobile", "555-0006")],
        "p3": [("work", "555-0007")],
        "p4": [(["home"], "555-0008"), ("work", "555-0009")],  # a mistyped use: no crash
    }
    path.write_text(
        "".join(
            json.dumps(
                {
                    "resourceType": "Practitioner",
                    "id": pid,
                    "telecom": [{"system": "phone", "use": u, "value": v} for u, v in phones],
                }
            )
            + "\n"
            for pid, phones in telecoms.items()
        )
    )
    ingest(store, FhirConnector(), [path])
    assert dict(store.query("SELECT user_id, phone FROM workforce")) == {
        "p1": "555-0003",
        "p2": "555-0005",
        "p3": "555-0007",
        "p4": "555-0008",
    }
