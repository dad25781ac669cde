"""Shared fixtures and output readers for the synthetic-hospital tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from carewarden.synth import SynthConfig, SynthResult, generate

SMALL = SynthConfig(beds=20, days=2, seed=7, violation_rate=40.0)
ANCILLARY_TEXT = {
    "Pharmacist", "Laboratory technician", "Radiologist", "Teleradiologist (remote reader)",
    "Radiologic technologist", "Patient transporter", "Patient registration clerk",
}
ADMIN_TEXT = {"Billing and coding specialist", "Health information management analyst"}


def read_ndjson(path: Path) -> Iterator[dict[str, Any]]:
    """Yield one resource per line."""
    with path.open("rb") as f:
        for line in f:
            yield json.loads(line)


def ts(s: str) -> float:
    """Parse an ISO UTC timestamp ending in Z."""
    assert s.endswith("Z"), s
    return datetime.fromisoformat(s[:-1]).replace(tzinfo=UTC).timestamp()


def ref_id(ref: dict[str, str]) -> str:
    """``Type/id`` -> ``id``."""
    return ref["reference"].split("/", 1)[1]


@dataclass
class Context:
    """The context resources of one run, indexed for relationship checks."""

    role_text: dict[str, str] = field(default_factory=dict)
    role_org: dict[str, str] = field(default_factory=dict)
    role_end: dict[str, str] = field(default_factory=dict)
    # patient -> list of (start, end, org, class, documented staff)
    encounters: dict[str, list[tuple[float, float, str, str, set[str]]]] = field(
        default_factory=dict)
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)
    practitioners: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_context(out: Path) -> Context:
    """Read everything but the accesses."""
    ctx = Context()
    for r in read_ndjson(out / "PractitionerRole.ndjson"):
        who = ref_id(r["practitioner"])
        ctx.role_text[who] = r["code"][0]["text"]
        ctx.role_org[who] = ref_id(r["organization"])
        if "end" in r["period"]:
            ctx.role_end[who] = r["period"]["end"]
    for r in read_ndjson(out / "Practitioner.ndjson"):
        ctx.practitioners[r["id"]] = r
    for r in read_ndjson(out / "Patient.ndjson"):
        ctx.patients[r["id"]] = r
    teams: dict[str, set[str]] = {}
    for r in read_ndjson(out / "CareTeam.ndjson"):
        teams[ref_id(r["encounter"])] = {ref_id(p["member"]) for p in r["participant"]}
    for r in read_ndjson(out / "Encounter.ndjson"):
        staff = {ref_id(p["individual"]) for p in r["participant"]} | teams.get(r["id"], set())
        end = ts(r["period"]["end"]) if "end" in r["period"] else float("inf")
        ctx.encounters.setdefault(ref_id(r["subject"]), []).append(
            (ts(r["period"]["start"]), end, ref_id(r["serviceProvider"]), r["class"]["code"],
             staff))
    return ctx


def linked(ctx: Context, user: str, patient: str) -> bool:
    """Whether the user is documented on any encounter or care team of the patient."""
    return any(user in staff for *_, staff in ctx.encounters.get(patient, []))


def explained(ctx: Context, user: str, patient: str, t: float, purpose: str) -> bool:
    """Explanation-based auditing: is there a documented reason for this access?"""
    text = ctx.role_text[user]
    for start, end, org, cls, staff in ctx.encounters.get(patient, []):
        if start - 3600 <= t <= end + 3600:
            if user in staff or ctx.role_org[user] == org or text in ANCILLARY_TEXT:
                return True
            if purpose == "ETREAT" and cls == "EMER":
                return True
        if text in ADMIN_TEXT and end <= t <= end + 31 * 86400:
            return True
    return False


def audit_rows(out: Path) -> Iterator[tuple[str, str, str, float, str, str]]:
    """(event id, user, patient, utc seconds, purpose, reason) from AuditEvent.ndjson."""
    for r in read_ndjson(out / "AuditEvent.ndjson"):
        p = r["purposeOfEvent"][0]
        yield (r["id"], ref_id(r["agent"][0]["who"]), ref_id(r["entity"][0]["what"]),
               ts(r["recorded"]), p["coding"][0]["code"], p.get("text", ""))


def read_labels(out: Path) -> list[dict[str, Any]]:
    """labels.jsonl as a list."""
    return list(read_ndjson(out / "labels.jsonl"))


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """A small FHIR run with oversampled violations, shared by several tests."""
    return generate(tmp_path_factory.mktemp("small"), SMALL)
