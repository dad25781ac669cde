"""FHIR resources for small hand-written hospitals, and ingesting them into a store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from carewarden.connectors.fhir import FhirConnector
from carewarden.services.ingest import ingest
from carewarden.store import Store

HL7_ROLE = "http://terminology.hl7.org/CodeSystem/practitioner-role"


def add(store: Store, folder: Path, name: str, *resources: dict[str, Any]) -> None:
    """Ingest ``resources`` as one NDJSON file named ``name``."""
    path = folder / f"{name}.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in resources))
    summary = ingest(store, FhirConnector(), [path])
    assert not summary.failed and summary.total("quarantined") == 0, summary


def access(
    event_id: str, user: str, patient: str, when: str, **extra: Any
) -> dict[str, Any]:
    agent: dict[str, Any] = {"who": {"reference": f"Practitioner/{user}"}, "requestor": True}
    if "purpose" in extra:
        agent["purposeOfUse"] = [
            {"coding": [{"code": extra.pop("purpose")}], "text": extra.pop("reason", None)}
        ]
    return {
        "resourceType": "AuditEvent", "id": event_id, "recorded": when, "action": "R",
        "agent": [agent], "entity": [{"what": {"reference": f"Patient/{patient}"}}], **extra,
    }


def role(
    role_id: str, user: str, dept: str | None, code: str | None = None, text: str | None = None,
    system: str = HL7_ROLE, start: str = "2015-01-01", end: str | None = None,
) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if code:
        concept["coding"] = [{"system": system, "code": code}]
    if text:
        concept["text"] = text
    period = {"start": start, **({"end": end} if end else {})}
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole", "id": role_id,
        "practitioner": {"reference": f"Practitioner/{user}"}, "code": [concept],
        "period": period,
    }
    if dept:
        resource["organization"] = {"reference": f"Organization/{dept}"}
    return resource


def encounter(
    enc_id: str, patient: str, dept: str, start: str, end: str | None, klass: str = "IMP",
    participants: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    period = {"start": start, **({"end": end} if end else {})}
    return {
        "resourceType": "Encounter", "id": enc_id, "status": "finished" if end else "in-progress",
        "class": {"code": klass}, "subject": {"reference": f"Patient/{patient}"},
        "period": period, "serviceProvider": {"reference": f"Organization/{dept}"},
        "participant": [
            {"type": [{"coding": [{"code": t}]}], "individual": {"reference": f"Practitioner/{u}"}}
            for u, t in participants
        ],
    }


def department(dept_id: str, name: str) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": dept_id, "name": name}


def patient(patient_id: str, *confidentiality: str) -> dict[str, Any]:
    """A Patient, with confidentiality codes (R, V) in meta.security."""
    resource: dict[str, Any] = {"resourceType": "Patient", "id": patient_id}
    if confidentiality:
        resource["meta"] = {
            "security": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": c}
                for c in confidentiality
            ]
        }
    return resource


def practitioner(user_id: str, *, active: bool = True) -> dict[str, Any]:
    return {"resourceType": "Practitioner", "id": user_id, "active": active}
