"""Explanation-based auditing: which documented relationship explains each access."""

from __future__ import annotations

from pathlib import Path

import pytest

from carewarden.detect.explain import explain_accesses
from carewarden.detect.policy import PrivacyPolicy
from carewarden.detect.roles import categorize
from carewarden.errors import ConfigError
from carewarden.store import Store
from conftest import access, add, department, encounter, role


@pytest.fixture
def hospital(store: Store, tmp_path: Path) -> Store:
    add(
        store, tmp_path, "context",
        department("icu", "Intensive Care Unit"), department("ed", "Emergency Department"),
        department("pharm", "Pharmacy"), department("pfs", "Patient Financial Services"),
        department("reg", "Patient Access"), department("it", "Information Technology"),
        role("r-doc", "doc", "icu", "doctor"),
        role("r-cover", "cover", "icu", "doctor"),
        role("r-ednurse", "ednurse", "ed", "nurse"),
        role("r-pharm", "pharm", "pharm", "pharmacist"),
        role("r-bill", "bill", "pfs", text="Billing and coding specialist", system=""),
        role("r-reg", "reg", "reg", text="Registration clerk", system=""),
        role("r-it", "it", "it", text="EHR application analyst", system=""),
        encounter("e-icu", "pat", "icu", "2026-03-01T08:00:00Z", "2026-03-05T12:00:00Z",
                  participants=(("doc", "ATND"),)),
        encounter("e-ed", "walkin", "ed", "2026-03-10T03:00:00Z", "2026-03-10T09:00:00Z",
                  klass="EMER"),
    )
    return store


def _reasons(store: Store) -> dict[str, str | None]:
    return dict(store.query("SELECT event_id, reason FROM access_explanation"))


def test_each_relationship_explains_its_own_accesses(hospital: Store, tmp_path: Path) -> None:
    """Participant, covering colleague, emergency, service roles, registration and repeat
    accesses are explained by the right reason; the rest are not."""
    add(
        hospital, tmp_path, "accesses",
        access("participant", "doc", "pat", "2026-03-02T10:00:00Z"),
        access("participant-after", "doc", "pat", "2026-03-11T10:00:00Z"),  # within 7 days
        access("repeat", "doc", "pat", "2026-03-30T10:00:00Z"),  # 25 days after an explained
        access("too-late", "doc", "pat", "2026-06-30T10:00:00Z"),
        access("covering", "cover", "pat", "2026-03-03T10:00:00Z"),
        access("other-dept", "ednurse", "pat", "2026-03-03T10:00:00Z"),
        access("btg", "doc", "walkin", "2026-03-10T04:00:00Z", purpose="ETREAT",
               reason="Unresponsive, identifying"),
        access("same-dept-btg", "ednurse", "walkin", "2026-03-10T04:00:00Z", purpose="ETREAT"),
        access("pharmacy", "pharm", "pat", "2026-03-04T10:00:00Z"),
        access("pharmacy-no-stay", "pharm", "pat", "2026-04-20T10:00:00Z"),
        access("billing", "bill", "pat", "2026-03-20T10:00:00Z"),  # 15 days after discharge
        access("billing-late", "bill", "pat", "2026-05-20T10:00:00Z"),
        access("registration", "reg", "pat", "2026-03-01T08:30:00Z"),
        access("registration-later", "reg", "walkin", "2026-03-13T08:30:00Z"),
        access("it-staff", "it", "pat", "2026-03-02T10:00:00Z"),
    )
    summary = explain_accesses(hospital, PrivacyPolicy.load())
    assert _reasons(hospital) == {
        "participant": "encounter",
        "participant-after": "encounter",
        "repeat": "repeat",
        "too-late": None,
        "covering": "department",
        "other-dept": None,
        "btg": "emergency",
        "same-dept-btg": "department",  # the stronger explanation wins
        "pharmacy": "pharmacist",
        "pharmacy-no-stay": None,
        "billing": "billing",
        "billing-late": None,
        "registration": "registration",
        "registration-later": None,
        "it-staff": None,
    }
    assert summary.accesses == 15 and summary.explained == 9
    assert summary.by_reason["(unexplained)"] == 6


def test_care_team_membership_explains(hospital: Store, tmp_path: Path) -> None:
    """A care-team member with no encounter participation is explained by the care team."""
    add(
        hospital, tmp_path, "team",
        {"resourceType": "CareTeam", "id": "ct", "subject": {"reference": "Patient/pat"},
         "period": {"start": "2026-03-01"},
         "participant": [{"member": {"reference": "Practitioner/ednurse"}}]},
        access("team", "ednurse", "pat", "2026-03-03T10:00:00Z"),
    )
    explain_accesses(hospital, PrivacyPolicy.load())
    assert _reasons(hospital)["team"] == "care team"


def test_policy_windows_are_honoured(hospital: Store, tmp_path: Path) -> None:
    """Narrowing the participant window in the policy un-explains a later access."""
    add(hospital, tmp_path, "late", access("late", "doc", "pat", "2026-03-09T10:00:00Z"))
    explain_accesses(hospital, PrivacyPolicy.load())
    assert _reasons(hospital)["late"] == "encounter"
    policy = PrivacyPolicy.load()
    policy.relationships.participant_days_after = 1
    policy.relationships.department_days_after = 1
    explain_accesses(hospital, policy)
    assert _reasons(hospital)["late"] is None


@pytest.mark.parametrize(
    ("system", "code", "display", "specialty", "department", "expected"),
    [
        ("http://terminology.hl7.org/CodeSystem/practitioner-role", "doctor", None, None, None,
         "physician"),
        ("http://snomed.info/sct", "224535009", "Registered nurse", None, None, "nurse"),
        (None, None, "Health information management analyst", None, None, "him"),
        (None, None, "EHR application analyst", None, None, "it"),
        (None, None, "Radiologic technologist", None, None, "radiology"),
        ("urn:oid:1.2.3", "MLS2", "Med Lab Scientist II", None, None, "laboratory"),
        (None, None, "Nocturnist", None, None, "physician"),
        (None, None, "Staff", None, "Lab", "laboratory"),
        (None, None, "Staff", None, "Labor and Delivery", "other"),
        ("urn:local", "X17", None, None, "Clinical Laboratory", "laboratory"),
        ("urn:local", "X99", "Volunteer", None, "Gift Shop", "other"),
    ],
)
def test_role_codes_map_to_categories(
    system: str | None, code: str | None, display: str | None, specialty: str | None,
    department: str | None, expected: str,
) -> None:
    """HL7 and SNOMED CT codes, English role names and department names map to categories;
    what matches nothing is 'other'."""
    category, _ = categorize(PrivacyPolicy.load(), system, code, display, specialty, department)
    assert category == expected


def test_unmapped_role_codes_are_reported(hospital: Store, tmp_path: Path) -> None:
    """A role whose code and names match nothing is counted as unmapped, with its code and
    the accesses of its holders (and how many of those nothing explains)."""
    add(
        hospital,
        tmp_path,
        "odd",
        role("r-odd", "odd", None, "zz9", system="urn:local"),
        access("odd-1", "odd", "pat", "2026-03-02T10:00:00Z"),
        access("odd-2", "odd", "walkin", "2026-03-10T04:00:00Z"),
    )
    summary = explain_accesses(hospital, PrivacyPolicy.load())
    assert summary.roles is not None
    assert summary.roles.unmapped == {("urn:local", "zz9", ""): 1}
    assert summary.roles.unmapped_accesses == {("urn:local", "zz9", ""): (2, 2)}


def test_invalid_policy_is_refused(tmp_path: Path) -> None:
    """A policy with an unknown role category or relationship is a ConfigError naming it."""
    path = tmp_path / "policy.yaml"
    path.write_text("service_roles:\n  chef: {relationship: active_encounter}\n")
    with pytest.raises(ConfigError, match="chef"):
        PrivacyPolicy.load(path)
    path.write_text("service_roles:\n  pharmacist: {relationship: whenever}\n")
    with pytest.raises(ConfigError, match="relationship"):
        PrivacyPolicy.load(path)


def test_a_role_explains_only_while_it_is_held(hospital: Store, tmp_path: Path) -> None:
    """A pharmacist who left the pharmacy for IT is no longer explained by the pharmacy role."""
    add(
        hospital, tmp_path, "moved",
        role("r-pharm", "pharm", "pharm", "pharmacist", end="2026-03-02"),
        role("r-pharm-it", "pharm", "it", text="EHR application analyst", system="",
             start="2026-03-03"),
        access("before", "pharm", "pat", "2026-03-02T10:00:00Z"),
        access("after", "pharm", "pat", "2026-03-04T10:00:00Z"),
    )
    explain_accesses(hospital, PrivacyPolicy.load())
    reasons = _reasons(hospital)
    assert reasons["before"] == "pharmacist"
    assert reasons["after"] in (None, "repeat")


def test_participants_referenced_by_practitioner_role_explain(
    hospital: Store, tmp_path: Path
) -> None:
    """Encounter participants and care-team members given as PractitionerRole references
    (as many EHRs export them) explain their practitioner's accesses."""
    add(
        hospital,
        tmp_path,
        "by-role",
        {
            "resourceType": "Encounter",
            "id": "e-role",
            "status": "in-progress",
            "class": {"code": "IMP"},
            "subject": {"reference": "Patient/other"},
            "period": {"start": "2026-03-01T08:00:00Z"},
            "serviceProvider": {"reference": "Organization/ed"},
            "participant": [{"individual": {"reference": "PractitionerRole/r-pharm"}}],
        },
        {
            "resourceType": "CareTeam",
            "id": "ct-role",
            "subject": {"reference": "Patient/third"},
            "participant": [{"member": {"reference": "PractitionerRole/r-it"}}],
        },
        access("via-role", "pharm", "other", "2026-03-02T10:00:00Z"),
        access("team-role", "it", "third", "2026-03-02T10:00:00Z"),
    )
    explain_accesses(hospital, PrivacyPolicy.load())
    reasons = _reasons(hospital)
    assert reasons["via-role"] == "encounter"
    assert reasons["team-role"] == "care team"


def test_a_service_department_gives_its_service_to_generic_roles(
    store: Store, tmp_path: Path
) -> None:
    """A role coded only as 'doctor' in Radiology also reads any inpatient's images; a
    nurse in Labor and Delivery is not laboratory staff."""
    add(
        store,
        tmp_path,
        "ctx",
        department("rad", "Radiology"),
        department("ld", "Labor and Delivery"),
        department("ward", "4 West"),
        role("r-rad", "rad", "rad", "doctor"),
        role("r-ld", "ld", "ld", text="Staff", system=""),
        encounter("e1", "pat", "ward", "2026-03-01T08:00:00Z", None),
        access("read", "rad", "pat", "2026-03-02T10:00:00Z"),
        access("ld", "ld", "pat", "2026-03-02T10:00:00Z"),
    )
    summary = explain_accesses(store, PrivacyPolicy.load())
    assert _reasons(store) == {"read": "radiology", "ld": None}
    assert summary.roles is not None
    categories = summary.roles.categories.to_pylist()
    assert {(c["user_id"], c["category"]) for c in categories} == {
        ("rad", "physician"),
        ("rad", "radiology"),
        ("ld", "other"),
    }


def test_colleagues_of_a_participant_cover_their_patients(
    hospital: Store, tmp_path: Path
) -> None:
    """A colleague of the attending (same department) opening the patient's chart on
    another ward is cross-cover ('colleague'), unless the policy turns that off; a user of
    another department is not covered."""
    add(
        hospital,
        tmp_path,
        "ward",
        department("4w", "4 West"),
        encounter("e-4w", "boarder", "4w", "2026-03-01T08:00:00Z", "2026-03-04T08:00:00Z",
                  participants=(("doc", "ATND"),)),
        access("cross-cover", "cover", "boarder", "2026-03-02T03:00:00Z"),
        access("outsider", "ednurse", "boarder", "2026-03-02T03:00:00Z"),
        access("after-stay", "cover", "boarder", "2026-04-20T03:00:00Z"),  # past repeat
    )
    explain_accesses(hospital, PrivacyPolicy.load())
    reasons = _reasons(hospital)
    assert (reasons["cross-cover"], reasons["outsider"], reasons["after-stay"]) == (
        "colleague",
        None,
        None,
    )
    strict = PrivacyPolicy.load()
    strict.relationships.colleague_cover = False
    explain_accesses(hospital, strict)
    assert _reasons(hospital)["cross-cover"] is None


def test_requests_are_explained_like_accesses(hospital: Store, tmp_path: Path) -> None:
    """A decision before the access uses the audit's relationships: the attending during
    the stay, an emergency with ETREAT, a repeat after an explained access; not a stranger."""
    import datetime as dt

    import pyarrow as pa

    from carewarden.detect.explain import explain_requests

    add(hospital, tmp_path, "past", access("earlier", "doc", "pat", "2026-03-04T10:00:00Z"))
    requests = pa.table(
        {
            "user_id": ["doc", "ednurse", "doc", "doc", "pharm"],
            "patient_id": ["pat", "pat", "walkin", "pat", "pat"],
            "time": [
                dt.datetime(2026, 3, 2, 10),
                dt.datetime(2026, 3, 3, 10),
                dt.datetime(2026, 3, 10, 4),
                dt.datetime(2026, 3, 25, 10),  # past the encounter window: repeat
                dt.datetime(2026, 6, 1, 10),
            ],
            "purpose": ["TREAT", "TREAT", "ETREAT", None, None],
        }
    )
    assert explain_requests(hospital, requests) == [
        "encounter",
        None,
        "emergency",
        "repeat",
        None,
    ]
