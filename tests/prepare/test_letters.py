"""Letter drafts: the content 164.404(c) requires, and the HHS portal fields."""

from __future__ import annotations

from typing import Any

from carewarden.prepare.breach import Incident, assess
from carewarden.prepare.letters import portal_fields, render_drafts

INCIDENT: dict[str, Any] = {
    "discovery_date": "2025-03-03",
    "breach_date": "2025-02-27",
    "affected_by_state": {"NY": 620},
    "phi_types": ["name", "date-of-birth", "ssn", "diagnosis"],
    "encrypted": True,
    "key_compromised": True,
    "recipient": "unknown",
    "acquired_or_viewed": True,
    "mitigated": False,
    "entity_name": "Example General Hospital",
    "entity_address": "1 Example Way, Springfield, NY 00000",
    "contact_phone": "1-800-555-0100",
    "description": "A laptop was stolen from a clinic car; its disk key was taped to it.",
    "mitigation": "We reported the theft to police and now escrow keys centrally.",
    "breach_type": "theft",
    "location": ["laptop"],
}


def drafts(**change: Any) -> dict[str, str]:
    return render_drafts(assess(Incident.model_validate({**INCIDENT, **change}))).files


def test_individual_letter_has_the_required_elements() -> None:
    """What happened with both dates, the PHI, steps, what we do, and how to reach us."""
    letter = drafts()["individual_notice.txt"]
    assert "A laptop was stolen from a clinic car" in letter
    assert "2025-02-27" in letter and "2025-03-03" in letter
    assert "names, dates of birth, Social Security numbers, and diagnoses" in letter
    assert "credit" in letter  # SSN involved: credit steps
    assert "explanation of benefits" in letter  # diagnosis involved
    assert "escrow keys centrally" in letter
    assert "1-800-555-0100" in letter and "1 Example Way" in letter
    assert "[E-MAIL ADDRESS]" in letter and "[WEBSITE]" in letter  # not given: placeholders
    assert letter.startswith("DRAFT")
    assert "DRAFT" not in letter.split("\n", 1)[1]  # one banner only


def test_missing_details_become_placeholders() -> None:
    """Nothing is invented: absent fields stay bracketed placeholders."""
    letter = drafts(
        entity_name=None, contact_phone=None, description=None, mitigation=None, breach_date=None
    )["individual_notice.txt"]
    for placeholder in (
        "[ENTITY NAME]",
        "[TOLL-FREE NUMBER]",
        "[BRIEF DESCRIPTION OF WHAT HAPPENED]",
        "[DATE OF BREACH]",
        "TO MITIGATE HARM",
    ):
        assert placeholder in letter


def test_own_steps_replace_the_defaults() -> None:
    """Steps given in the incident file are used instead of the defaults."""
    letter = drafts(steps_for_individuals=["Call us to reset your portal password."])[
        "individual_notice.txt"
    ]
    assert "- Call us to reset your portal password." in letter
    assert "credit bureaus" not in letter


def test_portal_fields() -> None:
    """The HHS portal fields: size class, PHI categories, dates, media states."""
    fields = portal_fields(assess(Incident.model_validate(INCIDENT)))
    assert fields is not None
    assert fields["breach_affecting"] == "500 or More Individuals"
    assert fields["report_due"] == "2025-05-02"
    assert fields["type_of_phi_involved"] == {
        "Demographic": ["Name", "Date of Birth", "SSN"],
        "Clinical": ["Diagnosis/Conditions"],
    }
    assert fields["type_of_breach"] == "theft"
    assert fields["media_notice_recipients"] == ["prominent media outlets serving NY"]
    assert "Approximate number of individuals affected:\n  620" in drafts()["hhs_portal.txt"]


def test_no_drafts_when_no_notice_is_due() -> None:
    """A safe-harbor incident gets no letter and no portal report."""
    assert drafts(key_compromised=False) == {}


def test_california_only_report_gets_a_letter_but_no_portal() -> None:
    """Low probability under HIPAA but reportable under 1280.15: a letter, no HHS report."""
    files = drafts(
        affected_by_state={"CA": 2}, encrypted=False, acquired_or_viewed=False, mitigated=True
    )
    assert set(files) == {"individual_notice.txt"}
