"""A small synthetic hospital's store holding every kind of data a store holds (accesses,
alerts, cases, security events, quarantined lines, console accounts, the audit log, a queued
break-the-glass decision), key files, and helpers to compare stores and rewrite archives."""

from __future__ import annotations

import io
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from carewarden.access.break_glass import enqueue
from carewarden.backup import crypto
from carewarden.backup.crypto import DecryptingReader, EncryptingWriter, Secret
from carewarden.services import accounts, audit
from carewarden.services.demo import run_demo
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.store.snapshot import catalog
from carewarden.synth import SynthConfig
from carewarden.telemetry.winjson import WinJsonConnector

DATA = Path(__file__).parents[1] / "data"
PASSPHRASE = "correct horse battery staple"


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


def table_contents(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the store at ``path``, in a stable order."""
    with Store.open(path, read_only=True, allow_older=True) as store:
        return {
            table.name: store.query(f'SELECT * FROM "{table.name}" ORDER BY ALL')
            for table in catalog(store)
        }


def store_files(path: Path) -> dict[str, bytes]:
    """The store folder's files other than the database, by relative path."""
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and not p.name.startswith("carewarden.duckdb")
    }


Edit = Callable[[dict[str, bytes]], None]


def rewrite_archive(archive: Path, secret: Secret, edit: Edit, out: Path) -> None:
    """Decrypt ``archive``, let ``edit`` change its entries (name -> content, in order), and
    encrypt the result with the same key into ``out``: a forged archive that authenticates,
    to test the checks behind the encryption."""
    entries: dict[str, bytes] = {}
    with archive.open("rb") as raw, tarfile.open(
        fileobj=io.BufferedReader(DecryptingReader(raw, secret)), mode="r|"
    ) as tar:
        while (member := tar.next()) is not None:
            source = tar.extractfile(member)
            assert source is not None
            entries[member.name] = source.read()
    edit(entries)
    with out.open("wb") as raw:
        writer = EncryptingWriter(raw, secret)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for name, body in entries.items():
                info = tarfile.TarInfo(name)
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))
        writer.finish()
