"""Privacy rules over explained accesses: each with a positive and a negative case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from carewarden.services.detect import detect
from carewarden.store import Store
from conftest import access, add, department, encounter, role


def practitioner(
    user: str, family: str, given: str, birth: str, line: str, postal: str, phone: str
) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": user,
        "birthDate": birth,
        "name": [{"family": family, "given": [given]}],
        "address": [{"use": "home", "line": [line], "city": "Springfield", "postalCode": postal}],
        "telecom": [{"system": "phone", "value": phone, "use": "home"}],
    }


def patient(
    pid: str,
    family: str,
    given: str,
    birth: str,
    line: str = "1 Far Away Rd",
    postal: str = "99999",
    phone: str = "555-9999",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "birthDate": birth,
        "name": [{"family": family, "given": [given]}],
        "address": [{"use": "home", "line": [line], "postalCode": postal}],
        "telecom": [{"system": "phone", "value": phone}],
        **extra,
    }


@pytest.fixture
def hospital(store: Store, tmp_path: Path) -> Store:
    add(
        store,
        tmp_path,
        "context",
        department("icu", "Intensive Care Unit"),
        department("ed", "Emergency Department"),
        practitioner(
            "nurse", "Alvarez", "Julia", "1986-04-12", "14 Birch Lane", "62704", "(555) 010-1000"
        ),
        practitioner("doc", "Smith", "Anna", "1970-01-01", "3 Oak St", "62701", "555-0200"),
        practitioner("colleague", "Nguyen", "Bao", "1990-05-05", "8 Elm St", "62702", "555-0300"),
        role("r-nurse", "nurse", "icu", "nurse"),
        role("r-doc", "doc", "ed", "doctor"),
        role("r-colleague", "colleague", "icu", "nurse"),
        # a relative (same surname and home), a Smith treated by Dr Smith, a coworker,
        # a neighbour, a VIP, and a stranger
        patient("mother", "Alvarez", "Maria", "1958-09-30", "14 Birch Lane", "62704"),
        patient("smith", "Smith", "John", "1950-02-02", "3 Oak St", "62701", "555-0200"),
        patient("coworker", "Nguyen", "Bao", "1990-05-05"),
        patient("neighbour", "Okafor", "Ada", "1975-03-03", "22 Birch Lane", "62704"),
        patient("star", "Quinn", "Harper", "1990-02-02", meta={"security": [{"code": "V"}]}),
        patient("stranger", "Berg", "Ola", "1960-06-06"),
        encounter(
            "e-smith",
            "smith",
            "ed",
            "2026-03-01T08:00:00Z",
            "2026-03-02T08:00:00Z",
            participants=(("doc", "ATND"),),
        ),
        encounter("e-star", "star", "icu", "2026-03-05T08:00:00Z", "2026-03-06T08:00:00Z"),
    )
    return store


def _alerts(store: Store, rule: str) -> list[tuple[str, str | None]]:
    return [
        (str(u), p)
        for u, p in store.query(
            "SELECT user_id, patient_id FROM alert WHERE rule_id = ? ORDER BY 1, 2", [rule]
        )
    ]


def _explanation(store: Store, rule: str) -> str:
    return str(store.query("SELECT explanation FROM alert WHERE rule_id = ?", [rule])[0][0])


def test_family_fires_on_an_unexplained_relative_not_on_a_treated_namesake(
    hospital: Store, tmp_path: Path
) -> None:
    """A nurse opening her mother's chart alerts; Dr Smith treating a Smith who shares her
    phone (explained by the encounter) does not."""
    add(
        hospital,
        tmp_path,
        "a",
        access("x1", "nurse", "mother", "2026-03-03T08:00:00Z"),
        access("x2", "doc", "smith", "2026-03-01T09:00:00Z"),
    )
    detect(hospital)
    assert _alerts(hospital, "privacy.family") == [("nurse", "mother")]
    assert "same surname and home address" in _explanation(hospital, "privacy.family")


def test_family_fires_on_an_emergency_contact(hospital: Store, tmp_path: Path) -> None:
    """A patient who lists the user as a contact is family, whatever the surname."""
    add(
        hospital,
        tmp_path,
        "a",
        {
            "resourceType": "Patient",
            "id": "partner",
            "name": [{"family": "Lind"}],
            "contact": [{"name": {"family": "Nguyen", "given": ["Bao"]}}],
        },
        access("x1", "colleague", "partner", "2026-03-03T08:00:00Z"),
    )
    detect(hospital)
    assert _alerts(hospital, "privacy.family") == [("colleague", "partner")]
    assert "lists them as a contact" in _explanation(hospital, "privacy.family")


def test_coworker_fires_on_an_unexplained_colleague_only(hospital: Store, tmp_path: Path) -> None:
    """Opening a coworker's chart with no relationship alerts (same department scores
    higher); the coworker opening their own chart is self-access, not coworker."""
    add(
        hospital,
        tmp_path,
        "a",
        access("x1", "nurse", "coworker", "2026-03-03T08:00:00Z"),
        access("x2", "colleague", "coworker", "2026-03-03T09:00:00Z"),
    )
    detect(hospital)
    assert _alerts(hospital, "privacy.coworker") == [("nurse", "coworker")]
    assert hospital.query("SELECT score FROM alert WHERE rule_id = 'privacy.coworker'") == [(80,)]


def test_neighbour_fires_on_same_street_not_on_a_stranger(hospital: Store, tmp_path: Path) -> None:
    """Same street and postal code, other surname: neighbour; a stranger elsewhere: nothing."""
    add(
        hospital,
        tmp_path,
        "a",
        access("x1", "nurse", "neighbour", "2026-03-03T08:00:00Z"),
        access("x2", "nurse", "stranger", "2026-03-03T08:05:00Z"),
    )
    detect(hospital)
    assert _alerts(hospital, "privacy.neighbour") == [("nurse", "neighbour")]
    assert "22 Birch Lane" in _explanation(hospital, "privacy.neighbour")


def test_vip_fires_unless_explained(hospital: Store, tmp_path: Path) -> None:
    """A VIP chart opened with no relationship alerts; opened by the ICU nurse while the
    VIP is in the ICU (department) does not."""
    add(
        hospital,
        tmp_path,
        "a",
        access("x1", "doc", "star", "2026-03-03T08:00:00Z"),
        access("x2", "nurse", "star", "2026-03-05T10:00:00Z"),
    )
    detect(hospital)
    assert _alerts(hospital, "privacy.vip") == [("doc", "star")]
    assert "very restricted (V)" in _explanation(hospital, "privacy.vip")


def test_bulk_fires_on_many_unexplained_charts_in_an_hour(hospital: Store, tmp_path: Path) -> None:
    """25 unrelated charts in an hour raise one user-level alert; 10 do not."""
    strangers = [
        {
            "resourceType": "Patient",
            "id": f"p{i}",
            "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": f"MRN{1000 + i}"}],
        }
        for i in range(40)
    ]
    add(
        hospital,
        tmp_path,
        "a",
        *strangers,
        *[access(f"b{i}", "colleague", f"p{i}", f"2026-03-03T10:{i:02d}:00Z") for i in range(25)],
        *[access(f"c{i}", "doc", f"p{i}", f"2026-03-03T11:{i:02d}:00Z") for i in range(10)],
    )
    detect(hospital)
    assert _alerts(hospital, "privacy.bulk") == [("colleague", None)]
    text = _explanation(hospital, "privacy.bulk")
    assert "25 unrelated charts" in text and "consecutive MRNs" in text
    events = hospital.query("SELECT len(event_ids) FROM alert WHERE rule_id = 'privacy.bulk'")
    assert events == [(25,)]


def test_slow_drip_fires_on_a_few_dormant_charts_a_day(hospital: Store, tmp_path: Path) -> None:
    """Three unrelated dormant charts a day for five days alerts; one a day does not."""
    patients = [{"resourceType": "Patient", "id": f"d{i}"} for i in range(20)]
    drips = [
        access(f"s{day}{k}", "colleague", f"d{day * 3 + k}", f"2026-03-0{day + 2}T10:0{k}:00Z")
        for day in range(5)
        for k in range(3)
    ]
    single = [
        access(f"t{day}", "doc", f"d{day}", f"2026-03-0{day + 2}T12:00:00Z") for day in range(5)
    ]
    add(hospital, tmp_path, "a", *patients, *drips, *single)
    detect(hospital)
    assert _alerts(hospital, "privacy.slow_drip") == [("colleague", None)]
    assert "15 unrelated charts" in _explanation(hospital, "privacy.slow_drip")


def test_btg_abuse_judges_the_reason_and_the_encounter(hospital: Store, tmp_path: Path) -> None:
    """Break-the-glass with a stock phrase, or on a patient with no encounter, alerts; a
    specific reason during an emergency encounter does not."""
    add(
        hospital,
        tmp_path,
        "a",
        encounter(
            "e-ed", "stranger", "ed", "2026-03-03T07:00:00Z", "2026-03-03T12:00:00Z", klass="EMER"
        ),
        access(
            "g1",
            "nurse",
            "stranger",
            "2026-03-03T08:00:00Z",
            purpose="ETREAT",
            reason="Unresponsive on arrival, checking anticoagulants",
        ),
        access(
            "g2",
            "colleague",
            "stranger",
            "2026-03-03T08:30:00Z",
            purpose="ETREAT",
            reason="emergency",
        ),
        access(
            "g3",
            "nurse",
            "neighbour",
            "2026-03-03T09:00:00Z",
            purpose="ETREAT",
            reason="Unresponsive on arrival, checking anticoagulants",
        ),
    )
    detect(hospital)
    assert _alerts(hospital, "privacy.btg_abuse") == [
        ("colleague", "stranger"),
        ("nurse", "neighbour"),
    ]
    texts = [
        r[0]
        for r in hospital.query(
            "SELECT explanation FROM alert WHERE rule_id = 'privacy.btg_abuse' ORDER BY user_id"
        )
    ]
    assert "stock phrase" in texts[0] and "no emergency or inpatient stay" in texts[1]


def test_a_single_look_at_someone_in_care_ranks_lower(hospital: Store, tmp_path: Path) -> None:
    """One unexplained look at a coworker or a VIP who is in care that day (maybe a transfer)
    still alerts, with a lower score; two looks at a coworker not in care score fully."""
    add(
        hospital,
        tmp_path,
        "a",
        encounter("e-cw", "coworker", "ed", "2026-03-03T06:00:00Z", "2026-03-04T06:00:00Z"),
        access("y1", "doc", "coworker", "2026-03-03T08:00:00Z"),  # doc is in the ED: explained
        access("y2", "nurse", "coworker", "2026-03-03T09:00:00Z"),  # one glance from the ICU
        access("y3", "nurse", "coworker", "2026-03-05T09:00:00Z"),  # 2 looks, not in care
        access("y4", "nurse", "coworker", "2026-03-05T09:10:00Z"),
        access("y5", "doc", "star", "2026-03-05T09:00:00Z"),
    )  # one look at the VIP in the ICU
    detect(hospital)
    rows = hospital.query(
        "SELECT rule_id, event_ids, score FROM alert WHERE rule_id IN "
        "('privacy.coworker', 'privacy.vip') ORDER BY rule_id, score"
    )
    assert rows == [
        ("privacy.coworker", ["y2"], 45),
        ("privacy.coworker", ["y3", "y4"], 80),
        ("privacy.vip", ["y5"], 55),
    ]


def test_after_hours_fires_outside_the_users_working_hours(hospital: Store, tmp_path: Path) -> None:
    """A nurse who works 08-16 for a week opens an unrelated chart at 02:00: one user-level
    alert. An unexplained access at 15:00, within her hours, is not after-hours."""
    days = [
        access(f"w{d}{h}", "nurse", "mother", f"2026-03-{d:02d}T{h:02d}:00:00Z")
        for d in range(2, 9)
        for h in (8, 12, 16)
    ]
    add(
        hospital,
        tmp_path,
        "a",
        encounter("e-m", "mother", "icu", "2026-03-01T00:00:00Z", None),  # explains the week
        *days,
        access("night", "nurse", "stranger", "2026-03-09T02:00:00Z"),
        access("day", "nurse", "stranger", "2026-03-09T15:00:00Z"),
    )
    detect(hospital)
    rows = hospital.query(
        "SELECT user_id, patient_id, event_ids FROM alert WHERE rule_id = 'privacy.after_hours'"
    )
    assert rows == [("nurse", None, ["night"])]
    assert "outside their working hours" in _explanation(hospital, "privacy.after_hours")


def test_alerts_are_per_site_local_day(hospital: Store, tmp_path: Path) -> None:
    """Two looks at 17:30 and 18:30 in Chicago fall on two UTC days but one site day: one
    alert for the site's zone."""
    add(
        hospital,
        tmp_path,
        "a",
        access("z1", "nurse", "mother", "2026-03-03T23:30:00Z"),
        access("z2", "nurse", "mother", "2026-03-04T00:30:00Z"),
    )
    detect(hospital, site_tz="America/Chicago")
    assert hospital.query("SELECT event_ids FROM alert WHERE rule_id = 'privacy.family'") == [
        (["z1", "z2"],)
    ]


def test_bulk_counts_any_sixty_minutes_not_clock_hours(hospital: Store, tmp_path: Path) -> None:
    """12 charts at 10:40-10:51 and 12 more at 11:00-11:11 straddle a clock hour but fall in
    one sliding hour: one bulk alert with all 24."""
    patients = [{"resourceType": "Patient", "id": f"q{i}"} for i in range(24)]
    first = [
        access(f"f{i}", "colleague", f"q{i}", f"2026-03-03T10:{40 + i:02d}:00Z") for i in range(12)
    ]
    second = [
        access(f"s{i}", "colleague", f"q{12 + i}", f"2026-03-03T11:{i:02d}:00Z") for i in range(12)
    ]
    add(hospital, tmp_path, "a", *patients, *first, *second)
    detect(hospital)
    rows = hospital.query("SELECT len(event_ids) FROM alert WHERE rule_id = 'privacy.bulk'")
    assert rows == [(24,)]


def test_names_and_addresses_match_across_hr_and_registration_formats(
    hospital: Store, tmp_path: Path
) -> None:
    """HR writes "ALVAREZ, 14 BIRCH LN" and first names only; registration writes middle names,
    "Lane" and the unit on a second line, ZIP+4: the same household, coworker, neighbour and
    self are still found; another unit of the building is a neighbour, not family."""
    add(
        hospital,
        tmp_path,
        "formats",
        practitioner("hr", "Reyes", "Tom", "1980-01-01", "122 HILLSIDE DR APT 3C", "62704", "1"),
        role("r-hr", "hr", "icu", "nurse"),
        patient("wife", "Reyes", "Ana Maria", "1982-02-02", "122 Hillside Drive, Apt. 3C",
                "62704-1234"),
        patient("self", "Reyes", "Tom Henry", "1980-01-01", "122 Hillside Dr, Apt 3C"),
        patient("upstairs", "Cole", "Eve", "1979-03-03", "122 Hillside Dr., #4D", "62704"),
        patient("bao", "Nguyen", "Bao Minh", "1990-05-05"),
        access("f1", "hr", "wife", "2026-03-03T08:00:00Z"),
        access("f2", "hr", "self", "2026-03-03T08:10:00Z"),
        access("f3", "hr", "upstairs", "2026-03-03T08:20:00Z"),
        access("f4", "hr", "bao", "2026-03-03T08:30:00Z"),
    )
    detect(hospital)
    assert ("hr", "wife") in _alerts(hospital, "privacy.family")
    assert ("hr", "upstairs") not in _alerts(hospital, "privacy.family")
    assert ("hr", "upstairs") in _alerts(hospital, "privacy.neighbour")
    assert ("hr", "self") in _alerts(hospital, "privacy.self_access")
    assert ("hr", "bao") in _alerts(hospital, "privacy.coworker")


def test_btg_with_a_documented_relationship_needs_no_emergency_stay(
    hospital: Store, tmp_path: Path
) -> None:
    """A treating clinician who breaks the glass with a real reason after the stay (a
    documented relationship explains it) is not abuse; a stranger doing the same is."""
    reason = "Reviewing discharge imaging follow-up for this patient"
    add(
        hospital,
        tmp_path,
        "btg",
        access("b1", "doc", "smith", "2026-03-04T10:00:00Z", purpose="ETREAT", reason=reason),
        access("b2", "colleague", "stranger", "2026-03-04T10:00:00Z", purpose="ETREAT",
               reason=reason),
    )
    detect(hospital)
    assert _alerts(hospital, "privacy.btg_abuse") == [("colleague", "stranger")]
