"""A small synthetic hospital's store holding every kind of data a store holds (accesses,
alerts, cases, security events, quarantined lines, console accounts, the audit log, a queued
break-the-glass decision), and key files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from carewarden.access.break_glass import enqueue
from carewarden.backup import crypto
from carewarden.backup.crypto import Secret
from carewarden.services import accounts, audit
from carewarden.services.demo import run_demo
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.synth import SynthConfig
from carewarden.telemetry.winjson import WinJsonConnector

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="session")
def hospital_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hospital")
    path = root / "store"
    run_demo(root, path, SynthConfig(beds=20, days=2, seed=3, violation_rate=4.0))
    with Store.open(path) as store:
        ingest(store, WinJsonConnector(), [DATA / "winjson" / "winlogbeat.ndjson"])
        accounts.add_user(store, "admin-user", "admin", "a long test password 1")
        audit.record(store, "cli:test", "view.alert", "a1", {"why": "test"})
    enqueue(
        path,
        {
            "decision_id": "d-1",
            "user_id": "u-1",
            "patient_id": "p-1",
            "time": "2024-03-01T02:14:00",
            "allowed": True,
            "reason": "code blue",
        },
    )
    return path


@pytest.fixture
def hospital(hospital_template: Path, tmp_path: Path) -> Path:
    """A copy of the hospital's store folder, for this test alone."""
    path = tmp_path / "store"
    shutil.copytree(hospital_template, path)
    return path


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "backup.key"
    crypto.generate_key_file(path)
    return path


@pytest.fixture
def secret(key_file: Path) -> Secret:
    return crypto.load_key_file(key_file)


@pytest.fixture
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passphrase archives made with scrypt's lowest accepted cost (the tests' time)."""
    monkeypatch.setattr(crypto, "SCRYPT_LOG2_N", crypto.SCRYPT_BOUNDS["log2_n"][0])
