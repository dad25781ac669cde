"""AuditEvents in the style of IHE Basic Audit Log Patterns (BALP), one per request.

Every request that carries a verified token produces one AuditEvent, permitted or not:

* ``type`` rest; ``subtype`` the FHIR interaction (``read``, ``search-type``, ``update``…) or
  the operation (``$everything``); ``action`` C, R, U, D or E (queries and operations);
* ``recorded``; ``outcome`` 0 (success), 4 (minor failure: denied, refused or an upstream
  4xx) or 8 (serious failure: upstream unreachable or 5xx), ``outcomeDesc`` the reason;
* ``agent``: the user (``Practitioner/ID``, requestor, the client's address, the purpose of
  use with the break-the-glass reason as its text), the client application (``azp``/
  ``client_id``) and the upstream FHIR server;
* ``source``: the gateway (observer);
* ``entity``: each patient (``Patient/ID``, role patient; the decision id as a detail), the
  resource the path names, and for searches the query (base64, role query) with the number
  of entries returned and withheld.

The FHIR connector reads these as it reads any BALP export (``ehr_access``: event id, time,
the requestor, each patient, the action from the subtype, the outcome, the address, the
purpose and reason).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

AUDIT_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
              "code": "rest", "display": "RESTful Operation"}
INTERACTION = "http://hl7.org/fhir/restful-interaction"
OPERATION_SYSTEM = "http://hl7.org/fhir/OperationDefinition"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
BALP = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
PROFILE = {"C": "Create", "R": "Read", "U": "Update", "D": "Delete", "E": "Query"}

SUCCESS, MINOR, SERIOUS = "0", "4", "8"


@dataclass
class AuditRecord:
    """What one request did, filled in as it is handled."""

    interaction: str = "unknown"  # a restful-interaction code or an operation ($everything)
    action: str = "R"
    user: str | None = None  # Practitioner reference of the requestor
    subject: str | None = None  # the token's sub
    client_id: str | None = None
    address: str | None = None
    purpose: str | None = None
    reason: str | None = None
    patients: dict[str, str] = field(default_factory=dict)  # patient id -> decision id
    resource: str | None = None  # Type/id the path names
    query: str | None = None  # the query of a search, as sent
    returned: int | None = None
    withheld: int | None = None
    outcome: str = SUCCESS
    description: str = ""
    status: int = 0


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def build_event(record: AuditRecord, recorded: dt.datetime, observer: str,
                upstream: str) -> dict[str, Any]:
    """The AuditEvent of ``record``; ``recorded`` is naive UTC."""
    subtype_system = OPERATION_SYSTEM if record.interaction.startswith("$") else INTERACTION
    user_agent: dict[str, Any] = {
        "type": {"coding": [_coding(PARTICIPATION, "IRCP", "information recipient")]},
        "who": {"reference": record.user},
        "requestor": True,
    }
    if record.subject and record.user != f"Practitioner/{record.subject}":
        user_agent["altId"] = record.subject
    if record.address:
        user_agent["network"] = {"address": record.address, "type": "2"}
    if record.purpose:
        purpose: dict[str, Any] = {"coding": [_coding(ACT_REASON, record.purpose)]}
        if record.reason:
            purpose["text"] = record.reason
        user_agent["purposeOfUse"] = [purpose]
    agents = [user_agent]
    if record.client_id:
        agents.append({"type": {"coding": [_coding(DCM, "110150", "Application")]},
                       "who": {"display": record.client_id}, "requestor": False})
    agents.append({"type": {"coding": [_coding(DCM, "110152", "Destination Role ID")]},
                   "who": {"display": upstream}, "requestor": False})
    entities: list[dict[str, Any]] = []
    for patient, decision in record.patients.items():
        entity: dict[str, Any] = {
            "what": {"reference": f"Patient/{patient}"},
            "type": _coding(ENTITY_TYPE, "1", "Person"),
            "role": _coding(OBJECT_ROLE, "1", "Patient"),
        }
        if decision:
            entity["detail"] = [{"type": "decision", "valueString": decision}]
        entities.append(entity)
    if record.resource and not record.resource.startswith("Patient/"):
        entities.append({
            "what": {"reference": record.resource},
            "type": _coding(ENTITY_TYPE, "2", "System Object"),
            "role": _coding(OBJECT_ROLE, "4", "Domain Resource"),
        })
    if record.query is not None:
        details = [{"type": name, "valueString": str(count)}
                   for name, count in (("returned", record.returned),
                                       ("withheld", record.withheld)) if count is not None]
        query: dict[str, Any] = {
            "type": _coding(ENTITY_TYPE, "2", "System Object"),
            "role": _coding(OBJECT_ROLE, "24", "Query"),
            "query": base64.b64encode(record.query.encode()).decode(),
        }
        if details:
            query["detail"] = details
        entities.append(query)
    kind = "Patient" if record.patients else ""
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [f"{BALP}{kind}{PROFILE.get(record.action, 'Query')}"]},
        "type": AUDIT_TYPE,
        "subtype": [_coding(subtype_system, record.interaction)],
        "action": record.action,
        "recorded": recorded.isoformat(timespec="microseconds") + "Z",
        "outcome": record.outcome,
        "agent": agents,
        "source": {"observer": {"display": observer},
                   "type": [_coding(SOURCE_TYPE, "4", "Application Server")]},
    }
    if record.description:
        event["outcomeDesc"] = record.description
    if record.purpose:
        event["purposeOfEvent"] = [{"coding": [_coding(ACT_REASON, record.purpose)]}]
    if entities:
        event["entity"] = entities
    return event
