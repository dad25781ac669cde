"""Ingest the FHIR gateway's audit spool into ``ehr_access``, where the privacy monitoring
reads it.

The spool is claimed (renamed under the spool's lock, so the gateways write a new one) and
each claimed file is ingested by the FHIR connector like any AuditEvent export: atomically
and idempotently (by content and by event id), then deleted. A file whose ingest fails stays
for the next run; a file already ingested by an interrupted run adds nothing again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from carewarden.access.gateway.spool import claim
from carewarden.connectors.fhir import FhirConnector
from carewarden.services.ingest import ingest
from carewarden.store import Store


@dataclass
class GatewayAuditIngest:
    events: int = 0  # AuditEvents in the spool files ingested
    accesses: int = 0  # ehr_access rows added (one per event and patient)
    quarantined: int = 0
    failed: list[str] = field(default_factory=list)  # file: error, kept for the next run


def ingest_gateway_audit(store: Store) -> GatewayAuditIngest:
    result = GatewayAuditIngest()
    for path in claim(store.path):
        summary = ingest(store, FhirConnector(timezone="UTC"), [path])
        if summary.failed:
            result.failed.extend(f"{f.path}: {f.error}" for f in summary.failed)
            continue
        with path.open("rb") as lines:
            result.events += sum(1 for line in lines if line.strip())
        result.accesses += summary.tables.get("ehr_access", 0)
        result.quarantined += summary.total("quarantined")
        path.unlink()
    return result
