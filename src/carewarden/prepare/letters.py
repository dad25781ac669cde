"""Notification drafts from an assessment: the individual notice letter (164.404(c)) and
the fields to enter on the HHS breach portal (164.408).

Drafts, not final text: whatever the incident file does not say is left as a bracketed
placeholder ("[TOLL-FREE NUMBER]") for a person to fill in, never invented.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from carewarden.prepare.breach import Assessment
from carewarden.prepare.incident import Incident

PHI_WORDS = {
    "name": "names",
    "address": "addresses",
    "date-of-birth": "dates of birth",
    "phone": "telephone numbers",
    "email": "e-mail addresses",
    "mrn": "medical record numbers",
    "insurance": "health insurance information",
    "ssn": "Social Security numbers",
    "drivers-license": "driver's license numbers",
    "financial": "financial account information",
    "payment-card": "payment card numbers",
    "diagnosis": "diagnoses and conditions",
    "medications": "medications",
    "lab-results": "laboratory results",
    "treatment": "treatment information",
    "images": "medical images",
    "mental-health": "mental health information",
    "substance-use": "substance use disorder treatment information",
    "hiv": "HIV-related information",
    "genetic": "genetic information",
    "reproductive-health": "reproductive health information",
    "other": "[OTHER INFORMATION: DESCRIBE]",
}

#: Each PHI type's place among the portal's "Type of Protected Health Information" choices.
PORTAL_PHI = {
    "name": ("Demographic", "Name"),
    "address": ("Demographic", "Address/ZIP"),
    "date-of-birth": ("Demographic", "Date of Birth"),
    "drivers-license": ("Demographic", "Driver's License"),
    "ssn": ("Demographic", "SSN"),
    "phone": ("Demographic", "Other"),
    "email": ("Demographic", "Other"),
    "mrn": ("Demographic", "Other"),
    "insurance": ("Financial", "Claims Information"),
    "financial": ("Financial", "Other Financial Information"),
    "payment-card": ("Financial", "Credit Card/Bank Acct #"),
    "diagnosis": ("Clinical", "Diagnosis/Conditions"),
    "mental-health": ("Clinical", "Diagnosis/Conditions"),
    "substance-use": ("Clinical", "Diagnosis/Conditions"),
    "hiv": ("Clinical", "Diagnosis/Conditions"),
    "genetic": ("Clinical", "Diagnosis/Conditions"),
    "reproductive-health": ("Clinical", "Diagnosis/Conditions"),
    "lab-results": ("Clinical", "Lab Results"),
    "medications": ("Clinical", "Medications"),
    "treatment": ("Clinical", "Other Treatment Information"),
    "images": ("Clinical", "Other Treatment Information"),
    "other": ("Other", "Other"),
}

WIDTH = 78
IDENTITY_THEFT_TYPES = frozenset({"ssn", "drivers-license", "financial", "payment-card"})
MEDICAL_IDENTITY_TYPES = frozenset({"insurance", "mrn", "diagnosis", "treatment", "medications"})


@dataclass(frozen=True)
class Drafts:
    """The rendered drafts: file name to text; empty when no notice is required."""

    files: dict[str, str]
    portal: dict[str, Any] | None


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("carewarden.prepare", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # plain-text letters, never HTML
    )


def _or(value: str | None, placeholder: str) -> str:
    return value if value else placeholder


def phi_list(incident: Incident) -> str:
    words = [PHI_WORDS[t] for t in dict.fromkeys(incident.phi_types)]
    if len(words) <= 2:
        return " and ".join(words)
    return ", ".join(words[:-1]) + ", and " + words[-1]


def default_steps(incident: Incident) -> list[str]:
    """Steps individuals should take (164.404(c)(1)(C)), chosen by the PHI involved."""
    types = set(incident.phi_types)
    steps = []
    if types & IDENTITY_THEFT_TYPES:
        steps += [
            "Review your bank, credit card and other account statements, and report any "
            "activity you do not recognize to your bank or card issuer.",
            "Consider placing a fraud alert or a security freeze on your credit file with "
            "the three nationwide credit bureaus (Equifax, Experian and TransUnion); both are "
            "free. [IF OFFERED: enroll in the complimentary credit monitoring by DATE, code "
            "CODE.]",
        ]
    if types & MEDICAL_IDENTITY_TYPES:
        steps.append(
            "Review the explanation of benefits statements from your health plan, and tell "
            "your plan about any service you did not receive."
        )
    steps.append(
        "Be wary of calls, e-mails or letters asking for your personal or health information; "
        "we will not ask you for it in connection with this incident."
    )
    return steps


def individual_letter(assessment: Assessment) -> str:
    incident = assessment.incident
    return (
        _environment()
        .get_template("individual_notice.txt.j2")
        .render(
            entity_name=_or(incident.entity_name, "[ENTITY NAME]"),
            entity_address=_or(incident.entity_address, "[POSTAL ADDRESS]"),
            contact_phone=_or(incident.contact_phone, "[TOLL-FREE NUMBER]"),
            contact_email=_or(incident.contact_email, "[E-MAIL ADDRESS]"),
            website=_or(incident.website, "[WEBSITE]"),
            description=textwrap.fill(
                _or(incident.description, "[BRIEF DESCRIPTION OF WHAT HAPPENED]"), WIDTH
            ),
            mitigation=textwrap.fill(
                _or(
                    incident.mitigation,
                    "[WHAT WE ARE DOING TO INVESTIGATE THE BREACH, TO MITIGATE HARM TO YOU AND "
                    "TO PROTECT AGAINST FURTHER BREACHES]",
                ),
                WIDTH,
            ),
            breach_date=incident.breach_date,
            breach_end_date=incident.breach_end_date,
            discovery_date=incident.discovery_date,
            phi_list=phi_list(incident),
            steps=[
                textwrap.fill(step, WIDTH, initial_indent="- ", subsequent_indent="  ")
                for step in incident.steps_for_individuals or default_steps(incident)
            ],
        )
    )


def portal_fields(assessment: Assessment) -> dict[str, Any] | None:
    """The HHS breach portal's fields, or None when no HHS report is required."""
    hhs = [o for o in assessment.obligations if o.kind in ("hhs", "hhs-annual-log")]
    if not hhs:
        return None
    incident = assessment.incident
    phi: dict[str, list[str]] = {}
    for kind in incident.phi_types:
        group, choice = PORTAL_PHI[kind]
        if choice not in phi.setdefault(group, []):
            phi[group].append(choice)
    media = [o.recipient for o in assessment.obligations if o.kind == "media"]
    total = assessment.total_affected
    return {
        "report_due": hhs[0].due.isoformat(),
        "report_type": "Initial breach report",
        "breach_affecting": "500 or More Individuals"
        if total >= 500
        else "Fewer Than 500 Individuals",
        "covered_entity_name": _or(incident.entity_name, "[ENTITY NAME]"),
        "covered_entity_address": _or(incident.entity_address, "[POSTAL ADDRESS]"),
        "contact": "[CONTACT NAME, TITLE, TELEPHONE, E-MAIL]",
        "business_associate_involved": incident.reported_by_business_associate,
        "breach_start_date": _date(incident.breach_date, "[BREACH START DATE]"),
        "breach_end_date": _date(incident.breach_end_date, "[BREACH END DATE]"),
        "discovery_date": incident.discovery_date.isoformat(),
        "approximate_number_of_individuals_affected": total,
        "type_of_breach": incident.breach_type or "[TYPE OF BREACH]",
        "location_of_breached_information": incident.location or ["[LOCATION]"],
        "type_of_phi_involved": phi,
        "brief_description": _or(incident.description, "[BRIEF DESCRIPTION]"),
        "safeguards_in_place_prior_to_breach": "[SAFEGUARDS IN PLACE BEFORE THE BREACH]",
        "individual_notice_due": next(
            o.due.isoformat()
            for o in assessment.obligations
            if o.kind == "individual" and o.citation.startswith("45 CFR")
        ),
        "substitute_notice_required": incident.unreachable_individuals > 0,
        "media_notice_required": bool(media),
        "media_notice_recipients": media,
        "actions_taken_in_response": _or(incident.mitigation, "[ACTIONS TAKEN IN RESPONSE]"),
    }


def _date(value: object, placeholder: str) -> str:
    return str(value) if value is not None else placeholder


def portal_text(fields: dict[str, Any]) -> str:
    shown = []
    for key, value in fields.items():
        if isinstance(value, dict):
            value = "; ".join(f"{k}: {', '.join(v)}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(value) if value else "none"
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        shown.append((key.replace("_", " ").capitalize(), value))
    return _environment().get_template("hhs_portal.txt.j2").render(fields=shown)


def render_drafts(assessment: Assessment) -> Drafts:
    """The individual letter when any individual notice is due, and the portal fields when
    an HHS report is."""
    files: dict[str, str] = {}
    if any(o.kind == "individual" for o in assessment.obligations):
        files["individual_notice.txt"] = individual_letter(assessment)
    portal = portal_fields(assessment)
    if portal is not None:
        files["hhs_portal.txt"] = portal_text(portal)
    return Drafts(files=files, portal=portal)
