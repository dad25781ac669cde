"""The gateway's audit records: the spool under concurrent writers, and `detect` ingesting it
into ehr_access, where the privacy monitoring reads it."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class
from gateway_support import Keys, gateway

from carewarden.access.decision import DecisionPoint
from carewarden.access.gateway.audit import AuditRecord, build_event
from carewarden.access.gateway.spool import AuditSpool, claim, spool_path
from carewarden.connectors.fhir import FhirConnector
from carewarden.services.detect import detect
from carewarden.services.ingest import ingest
from carewarden.store import Store


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("keys"))


def test_detect_ingests_the_gateway_audit(hospital_store: Path, tmp_path: Path,
                                          keys: Keys) -> None:
    """A denied-then-permitted sequence through the gateway reaches ehr_access with each
    outcome, purpose and address once `carewarden detect` runs; the spool is emptied and a
    second run adds nothing."""
    store_dir = tmp_path / "store"
    shutil.copytree(hospital_store, store_dir, ignore=shutil.ignore_patterns("queue"))
    point = DecisionPoint(store_dir)
    assert point.refresh() is None
    with gateway(point, store_dir, keys) as gw:
        denied = gw.get("/Patient/pat", device_posture={"managed": False})
        permitted = gw.get("/Patient/pat")
        searched = gw.get("/Observation")
        assert (denied.status_code, permitted.status_code, searched.status_code) == (
            403, 200, 200)
        events = gw.audit()
    assert spool_path(store_dir).exists()
    with Store.open(store_dir) as store:
        run = detect(store)
        assert run.gateway_audit.events == 3 and run.gateway_audit.failed == []
        assert run.gateway_audit.accesses == 4  # one row per event and patient
        rows = store.query(
            "SELECT event_id, patient_id, user_id, action, outcome, purpose, workstation, time "
            "FROM ehr_access WHERE event_id IN (?, ?, ?) ORDER BY event_id, patient_id",
            [e["id"] for e in events],
        )
        again = detect(store)
        assert again.gateway_audit.events == 0
        count = store.query("SELECT count(*) FROM ehr_access")[0][0]
    by_event = {}
    for row in rows:
        by_event.setdefault(row[0], []).append(row[1:])
    when = dt.datetime(2026, 3, 2, 10, 0)
    assert by_event[events[0]["id"]] == [("pat", "doc", "read", "4", "TREAT", "10.1.2.3", when)]
    assert by_event[events[1]["id"]] == [("pat", "doc", "read", "0", "TREAT", "10.1.2.3", when)]
    assert [r[0:4] for r in by_event[events[2]["id"]]] == [
        ("pat", "doc", "search", "0"), ("vip", "doc", "search", "0")]
    assert not any(store_dir.joinpath("queue").glob("gateway_audit*.ndjson"))
    with Store.open(store_dir, read_only=True) as store:
        assert store.query("SELECT count(*) FROM ehr_access")[0][0] == count


def _events() -> list[dict[str, Any]]:
    when = dt.datetime(2026, 3, 2, 10, 0, 0, 123456)
    search = AuditRecord(interaction="search-type", action="E", user="Practitioner/doc",
                         subject="idp-doc", client_id="viewer", address="10.0.0.5",
                         purpose="TREAT", patients={"pat": "d1", "vip": "d2"},
                         query="/Observation?code=8867-4", returned=2, withheld=3)
    denied = AuditRecord(interaction="read", action="R", user="Practitioner/it",
                         purpose="ETREAT", reason="Code blue", patients={"nobody": "d3"},
                         resource="Observation/o1", outcome="4", description="denied by x")
    export = AuditRecord(interaction="$everything", action="E", user="Practitioner/him",
                         patients={"pat": "d4"}, query="/Patient/pat/$everything")
    compartment = AuditRecord(interaction="search-compartment", action="E",
                              user="Practitioner/doc", patients={"pat": ""},
                              query="/Patient/pat/Observation")
    nobody = AuditRecord(interaction="read", user="Practitioner/doc",
                         resource="Practitioner/doc")
    return [build_event(r, when, "gw", "http://fhir.test") for r in
            (search, denied, export, compartment, nobody)]


def test_connector_paths_agree_on_gateway_events(tmp_path: Path) -> None:
    """The gateway's AuditEvents are valid FHIR AuditEvents, and the connector's DuckDB path
    and its exact Python path read them into the same ehr_access rows (searches and
    $everything included); an event about no patient adds none."""
    model = get_fhir_model_class("AuditEvent")
    for event in _events():
        model.model_validate(event)
    path = tmp_path / "AuditEvent.ndjson"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in _events()))
    results = []
    for fast in (True, False):
        with Store.open(tmp_path / f"store-{fast}") as store:
            summary = ingest(store, FhirConnector(fast_path=fast), [path])
            assert summary.total("quarantined") == 0 and not summary.failed
            results.append(store.query(
                "SELECT event_id, time, user_id, patient_id, action, outcome, workstation, "
                "purpose, reason FROM ehr_access ORDER BY event_id, patient_id"))
    assert results[0] == results[1]
    actions = sorted(((r[3], r[4], r[5], r[7], r[8]) for r in results[0]), key=str)
    assert actions == sorted([
        ("nobody", "read", "4", "ETREAT", "Code blue"),
        ("pat", "export", "0", None, None),
        ("pat", "search", "0", None, None),
        ("pat", "search", "0", "TREAT", None),
        ("vip", "search", "0", "TREAT", None),
    ], key=str)


def _writer(folder: str, worker: int, count: int, claimed: Any) -> None:
    spool = AuditSpool(Path(folder), fsync="never")
    for n in range(count):
        if n == count // 2:
            # Half written: go on only once the spool has been claimed at least once, so
            # the second half must reopen it (however fast the first half went).
            claimed.wait(timeout=30)
        spool.append({"resourceType": "AuditEvent", "id": f"{worker}-{n}",
                      "padding": "x" * (n % 7) * 300})
    spool.close()


def test_spool_keeps_every_record_under_concurrent_writers_and_claims(tmp_path: Path) -> None:
    """Four processes append while the spool is claimed over and over: every record ends in
    exactly one file, whole."""
    workers, count = 4, 400
    context = multiprocessing.get_context("fork")
    first_claim = context.Event()
    processes = [context.Process(target=_writer, args=(str(tmp_path), w, count, first_claim))
                 for w in range(workers)]
    for process in processes:
        process.start()
    claimed: set[Path] = set()
    while any(p.is_alive() for p in processes):
        claimed.update(claim(tmp_path))
        if claimed:
            first_claim.set()
    for process in processes:
        process.join()
        assert process.exitcode == 0
    claimed.update(claim(tmp_path))
    ids: list[str] = []
    for path in sorted(claimed):
        for line in path.read_bytes().splitlines():
            ids.append(orjson.loads(line)["id"])
    assert len(ids) == workers * count
    assert set(ids) == {f"{w}-{n}" for w in range(workers) for n in range(count)}
    assert len(claimed) > 1  # the writers did reopen the spool after a claim


def test_interval_mode_flushes_in_the_background(tmp_path: Path) -> None:
    """With fsync="interval" a record is in the file at once and flushed by the thread."""
    spool = AuditSpool(tmp_path, fsync="interval", interval_s=0.01)
    spool.start()
    spool.append({"id": "a"})
    assert orjson.loads(spool.path.read_bytes())["id"] == "a"
    spool.close()
    assert spool.written == 1
