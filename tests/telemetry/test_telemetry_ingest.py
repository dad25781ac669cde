"""EVTX and Windows JSON files land in security_event: idempotent, bad records quarantined."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carewarden.errors import SourceError
from carewarden.model import Batch, Rejected
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.telemetry.evtx import EvtxConnector
from carewarden.telemetry.winjson import WinJsonConnector

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "evtx"
SAMPLE = CORPUS / "EVTX-ATTACK-SAMPLES" / "Execution" / "exec_sysmon_1_lolbin_pcalua.evtx"


def test_winjson_lines_land_and_bad_lines_are_quarantined(store: Store, data: Path) -> None:
    """Good Winlogbeat lines are stored, each bad one is quarantined with its line number."""
    summary = ingest(store, WinJsonConnector(), [data / "winjson" / "winlogbeat.ndjson"])
    assert summary.total("records") == 2
    errors = {r.line: r.error for f in summary.files for r in f.first_rejects}
    assert set(errors) == {3, 4, 5}
    assert "invalid JSON" in errors[3]
    assert "not a number" in errors[4]
    assert "not a Windows event" in errors[5]
    rows = store.query(
        "SELECT host, channel, event_id, class_name, process_name, user_name FROM "
        "security_event ORDER BY time"
    )
    assert rows[0] == (
        "WS-ICU-01.hospital.example",
        "Microsoft-Windows-Sysmon/Operational",
        1,
        "process_activity",
        "C:\\Windows\\System32\\certutil.exe",
        "HOSPITAL\\nurse1",
    )
    assert rows[1][3] == "authentication"
    assert store.query("SELECT count(*) FROM quarantine")[0][0] == 3


def test_ingest_twice_adds_nothing_and_gzip_is_read(
    store: Store, data: Path, tmp_path: Path
) -> None:
    """The same events, again or gzipped, are stored once."""
    source = data / "winjson" / "nxlog.json"
    ingest(store, WinJsonConnector(), [source])
    again = ingest(store, WinJsonConnector(), [source])
    assert {f.status for f in again.files} == {"already ingested"}
    packed = tmp_path / "nxlog.json.gz"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    summary = ingest(store, WinJsonConnector(), [packed])
    assert summary.total("duplicates") == 1
    assert store.query("SELECT count(*), any_value(raw) LIKE '%whoami%' FROM security_event") == [
        (1, True)
    ]


def test_pretty_printed_and_array_files(store: Store, tmp_path: Path, data: Path) -> None:
    """A JSON array of events and pretty-printed objects one after another are read whole."""
    line = (data / "winjson" / "nxlog.json").read_text()
    (tmp_path / "array.json").write_text("[" + line.strip() + "]")
    (tmp_path / "pretty.json").write_text(
        line.replace('"Hostname"', '\n  "Hostname"').replace("5001", "5002")
        + "\n"
        + line.replace("5001", "5003").replace(",", ",\n")
    )
    summary = ingest(store, WinJsonConnector(), [tmp_path])
    assert summary.total("records") == 3
    assert summary.total("quarantined") == 0


def test_a_file_that_is_no_evtx_fails_alone(store: Store, tmp_path: Path) -> None:
    """A broken EVTX file is reported with its path; the other files still land."""
    (tmp_path / "bad.evtx").write_bytes(b"not an evtx file" * 100)
    with pytest.raises(SourceError, match=r"bad\.evtx"):
        list(EvtxConnector().read(tmp_path / "bad.evtx"))
    summary = ingest(store, EvtxConnector(), [tmp_path])
    assert [f.status for f in summary.files] == ["failed"]


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared EVTX corpus not present")
def test_evtx_file_and_gzip_land_in_security_event(store: Store, tmp_path: Path) -> None:
    """Every record of a real EVTX file is stored with its raw JSON; .evtx.gz is the same."""
    summary = ingest(store, EvtxConnector(), [SAMPLE])
    stored = store.query("SELECT count(*), count(DISTINCT event_uid) FROM security_event")[0]
    assert summary.total("records") == stored[0] == stored[1] > 0
    assert (
        store.query(
            "SELECT count(*) FROM security_event WHERE raw LIKE '{\"Event\":%' AND event_id = 1 "
            "AND class_name = 'process_activity' AND process_name ILIKE '%pcalua.exe'"
        )[0][0]
        >= 1
    )
    packed = tmp_path / "sample.evtx.gz"
    with SAMPLE.open("rb") as raw, gzip.open(packed, "wb") as out:
        shutil.copyfileobj(raw, out)
    again = ingest(store, EvtxConnector(), [packed])
    assert again.total("duplicates") == stored[0]


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared EVTX corpus not present")
def test_damaged_evtx_keeps_its_good_chunks(tmp_path: Path) -> None:
    """Bytes flipped inside a chunk: that chunk is rejected with a reason, no crash."""
    data = bytearray(SAMPLE.read_bytes())
    for i in range(0x1200, 0x1200 + 3000, 7):
        data[i] ^= 0xFF
    damaged = tmp_path / "damaged.evtx"
    damaged.write_bytes(bytes(data))
    items = list(EvtxConnector().read(damaged))
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert rejected and "unreadable EVTX data" in rejected[0].error


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzzed_json_files_never_crash(
    tmp_path_factory: pytest.TempPathFactory, blob: bytes
) -> None:
    """Any bytes: only batches and rejects come out, or a SourceError for the whole file."""
    path = tmp_path_factory.mktemp("fuzz") / "x.json"
    path.write_bytes(blob)
    try:
        items = list(WinJsonConnector().read(path))
    except SourceError:
        return
    assert all(isinstance(i, Batch | Rejected) for i in items)
