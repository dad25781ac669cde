"""Fixtures for the access-decision tests: a small synthetic hospital, ingested once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carewarden.access.decision import DecisionPoint
from carewarden.connectors.fhir import FhirConnector
from carewarden.detect.engine import Alert, alerts_table
from carewarden.services.detect import detect
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.synth import SynthConfig, generate
from carewarden.testing.fhir import (
    access,
    add,
    department,
    encounter,
    patient,
    practitioner,
    role,
)

SYNTHETIC = SynthConfig(beds=40, days=3, seed=5)


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A synthetic hospital (40 beds, 3 days), ingested and detected; the store folder."""
    root = tmp_path_factory.mktemp("synthetic")
    result = generate(root / "hospital", SYNTHETIC)
    with Store.open(root / "store") as store:
        ingest(store, FhirConnector(timezone=SYNTHETIC.site_tz), [result.out_dir])
        detect(store, site_tz=SYNTHETIC.site_tz)
    yield root / "store"


# -- a small hand-written hospital where every policy has a case -----------------------------
DAY = "2026-03-02T10:00:00Z"  # the default request time: pat, vip and res are in the ICU


def _hospital_resources() -> list[dict[str, Any]]:
    ward = (("doc", "ATND"), ("former", "ATND"), ("risky", "ATND"), ("medium", "ATND"))
    return [
        department("icu", "Intensive Care Unit"), department("ed", "Emergency Department"),
        department("pharm", "Pharmacy"), department("pfs", "Patient Financial Services"),
        department("reg", "Patient Access"), department("it", "Information Technology"),
        department("him", "Health Information Management"), department("lab", "Clinical Lab"),
        department("4w", "4 West"),
        role("r-doc", "doc", "icu", "doctor"),
        role("r-cover", "cover", "icu", "doctor"),
        role("r-ednurse", "ednurse", "ed", "nurse"),
        role("r-pharm", "pharm", "pharm", "pharmacist"),
        role("r-lab", "labtech", "lab", text="Laboratory technician", system=""),
        role("r-bill", "bill", "pfs", text="Billing and coding specialist", system=""),
        role("r-reg", "reg", "reg", text="Registration clerk", system=""),
        role("r-him", "him", "him", text="Health information management analyst", system=""),
        role("r-it", "it", "it", text="EHR application analyst", system=""),
        role("r-former", "former", "icu", "doctor", end="2026-02-01"),
        role("r-future", "future", "icu", "doctor", start="2026-04-01"),
        role("r-gone", "gone", "icu", "doctor"),
        practitioner("gone", active=False),
        role("r-transfer", "transfer", "pharm", "pharmacist", end="2026-03-02"),
        role("r-transfer-it", "transfer", "it", text="EHR application analyst", system="",
             start="2026-03-03"),
        role("r-risky", "risky", "icu", "doctor"),
        role("r-medium", "medium", "icu", "doctor"),
        *(patient(p) for p in ("pat", "walkin", "boarder", "ctpat", "nobody")),
        *(patient(f"p{n:02d}") for n in range(1, 15)),
        patient("vip", "V"), patient("res", "R"),
        encounter("e-icu", "pat", "icu", "2026-03-01T08:00:00Z", "2026-03-05T12:00:00Z",
                  participants=ward),
        encounter("e-vip", "vip", "icu", "2026-03-01T08:00:00Z", "2026-03-06T12:00:00Z",
                  participants=(("doc", "ATND"),)),
        encounter("e-res", "res", "icu", "2026-03-01T08:00:00Z", "2026-03-06T12:00:00Z",
                  participants=(("doc", "ATND"),)),
        encounter("e-ed", "walkin", "ed", "2026-03-10T03:00:00Z", "2026-03-10T09:00:00Z",
                  klass="EMER"),
        encounter("e-4w", "boarder", "4w", "2026-03-01T08:00:00Z", "2026-03-04T08:00:00Z",
                  participants=(("doc", "ATND"),)),
        {"resourceType": "CareTeam", "id": "ct", "subject": {"reference": "Patient/ctpat"},
         "period": {"start": "2026-03-01"},
         "participant": [{"member": {"reference": "Practitioner/ednurse"}}]},
        access("earlier", "doc", "pat", "2026-03-04T10:00:00Z"),
    ]


def _alert(user: str, score: int, seen: str) -> Alert:
    when = dt.datetime.fromisoformat(seen)
    return Alert(f"test-{user}", "privacy.test", "Test alert", "high", score, user, "pat", when,
                 when, ["e"], "A test alert.", [])


@pytest.fixture(scope="module")
def hospital_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-written hospital's store folder: risky has a 95-point open alert, medium a
    60-point one seen five minutes before DAY."""
    root = tmp_path_factory.mktemp("hospital")
    with Store.open(root / "store") as store:
        add(store, root, "hospital", *_hospital_resources())
        detect(store)
        store.add_alerts(
            alerts_table([_alert("risky", 95, "2026-03-01T12:00:00"),
                          _alert("medium", 60, "2026-03-02T09:55:00")])
        )
    return root / "store"


@pytest.fixture(scope="module")
def loaded_point(hospital_store: Path) -> DecisionPoint:
    loaded = DecisionPoint(hospital_store)
    assert loaded.refresh() is None
    return loaded


@pytest.fixture
def point(loaded_point: DecisionPoint) -> DecisionPoint:
    """A decision point over the hand-written hospital, with the shipped policies and a
    fresh session (no requests observed yet)."""
    loaded_point.reset_session()
    return loaded_point


def request(user: str, patient: str, action: str = "read", **context: Any) -> dict[str, Any]:
    """An AuthZEN evaluation with a compliant device and a recent MFA unless overridden."""
    full: dict[str, Any] = {
        "purpose_of_use": "TREAT",
        "device": {"managed": True, "encrypted": True, "patched": True, "patch_age_days": 3},
        "mfa_age_s": 600,
        "time": DAY,
    }
    full.update(context)
    return {
        "subject": {"type": "user", "id": user},
        "action": {"name": action},
        "resource": {"type": "patient", "id": patient},
        "context": full,
    }
