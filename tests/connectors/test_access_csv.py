"""Flat CSV access logs with a column mapping: time zones, action mapping, bad rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from carewarden.connectors.access_csv import AccessCsvConnector, AccessCsvMapping
from carewarden.errors import ConfigError
from carewarden.services.ingest import ingest
from carewarden.store import Store


def _accesses(store: Store) -> dict[str, dict[str, object]]:
    rows = store.arrow("SELECT * FROM ehr_access").to_pylist()
    return {str(r["event_id"]): r for r in rows}


def test_synthetic_mapping_converts_local_time_to_utc_across_dst(store: Store, data: Path) -> None:
    """America/Chicago times become UTC, before and after both 2026 DST changes."""
    mapping = AccessCsvMapping.load(Path("synthetic"))
    summary = ingest(store, AccessCsvConnector(mapping), [data / "csv" / "synthetic_access.csv"])
    assert summary.total("quarantined") == 0
    rows = _accesses(store)
    assert rows["ev-1"]["time"] == dt.datetime(2026, 3, 8, 5, 59, 59)  # CST, UTC-6
    assert rows["ev-2"]["time"] == dt.datetime(2026, 3, 8, 8, 30)  # 03:30 CDT, UTC-5
    assert rows["ev-3"]["time"] == dt.datetime(2026, 7, 1, 17, 0)  # CDT
    assert rows["ev-4"]["time"].date() == dt.date(2026, 11, 1)  # ambiguous hour: either offset
    assert rows["ev-3"]["reason"] == 'Unresponsive, no ID; "trauma" bay'
    assert (rows["ev-3"]["action"], rows["ev-3"]["purpose"]) == ("search", "ETREAT")
    assert rows["ev-1"]["reason"] is None


def test_timezone_override(store: Store, data: Path) -> None:
    """--tz replaces the mapping's zone."""
    mapping = AccessCsvMapping.load(Path("synthetic")).with_timezone("UTC")
    ingest(store, AccessCsvConnector(mapping), [data / "csv" / "synthetic_access.csv"])
    assert _accesses(store)["ev-1"]["time"] == dt.datetime(2026, 3, 7, 23, 59, 59)
    with pytest.raises(ConfigError, match="unknown time zone"):
        mapping.with_timezone("Mars/Olympus")


def test_epic_mapping_reads_12_hour_clock_actions_and_crlf(store: Store, data: Path) -> None:
    """The Epic-style export: AM/PM times in New York, metric names mapped, unknown kept."""
    mapping = AccessCsvMapping.load(Path("epic"))
    summary = ingest(store, AccessCsvConnector(mapping), [data / "csv" / "epic_access.csv"])
    assert summary.total("quarantined") == 0
    rows = _accesses(store)
    assert rows["9001"]["time"] == dt.datetime(2026, 3, 4, 19, 14, 5)  # 2:14 PM EST
    assert rows["9002"]["time"] == dt.datetime(2026, 3, 4, 5, 5)  # 12:05 AM EST
    assert rows["9001"]["action"] == "read"
    assert rows["9002"]["action"] == "search"
    assert rows["9003"]["action"] == "print"
    assert rows["9004"]["action"] == "some new metric"  # unmapped values are kept, lowercased
    assert rows["9002"]["reason"] == "Family asked about status"
    assert rows["9001"]["workstation"] == "WS-ICU-07"


def test_rows_without_an_id_get_a_stable_content_id(store: Store, tmp_path: Path) -> None:
    """Without an id column, the same row in two overlapping exports is stored once."""
    mapping = AccessCsvMapping.load(Path("synthetic")).model_copy(
        update={
            "fields": AccessCsvMapping.load(Path("synthetic")).fields.model_copy(
                update={"event_id": None}
            )
        }
    )
    header = "event_id,access_time,user_id,patient_id,action,workstation,purpose,reason\n"
    a = tmp_path / "a.csv"
    b = tmp_path / "b.csv"
    a.write_text(
        header + ",2026-03-02 08:00:00,u1,p1,read,ws,TREAT,\n"
        ",2026-03-02 09:00:00,u1,p2,read,ws,TREAT,\n"
    )
    b.write_text(
        header + ",2026-03-02 09:00:00,u1,p2,read,ws,TREAT,\n"
        ",2026-03-02 10:00:00,u1,p3,read,ws,TREAT,\n"
    )
    ingest(store, AccessCsvConnector(mapping), [a])
    second = ingest(store, AccessCsvConnector(mapping), [b])
    assert store.query("SELECT count(*) FROM ehr_access") == [(3,)]
    assert second.total("duplicates") == 1


def test_bad_rows_are_quarantined_with_their_line_numbers(store: Store, tmp_path: Path) -> None:
    """Malformed rows (extra columns, bad time, empty user, invalid UTF-8, a 10 MB field) are
    quarantined with the right line numbers; the good rows land."""
    header = b"event_id,access_time,user_id,patient_id,action,workstation,purpose,reason\n"
    rows = [
        b"e1,2026-03-02 08:00:00,u1,p1,read,ws,TREAT,",  # line 2 good
        b"e2,2026-03-02 08:00:00,u1,p1,read,ws,TREAT,,extra",  # line 3 too many columns
        b"e3,yesterday,u1,p1,read,ws,TREAT,",  # line 4 bad time
        b"e4,2026-03-02 08:01:00,,p1,read,ws,TREAT,",  # line 5 empty user
        b"e5,2026-03-02 08:02:00,u1,p\xff\xfe,read,ws,TREAT,",  # line 6 invalid UTF-8
        b"e6,2026-03-02 08:03:00,u1,p1,read,ws,TREAT," + b"x" * (10 << 20),  # line 7 huge
        b"e7,2026-03-02 08:04:00,u2,p9,read,ws,TREAT,",  # line 8 good
    ]
    path = tmp_path / "access.csv"
    path.write_bytes(header + b"\n".join(rows) + b"\n")
    mapping = AccessCsvMapping.load(Path("synthetic")).with_timezone("UTC")
    summary = ingest(store, AccessCsvConnector(mapping), [path])
    assert sorted(_accesses(store)) == ["e1", "e7"]
    quarantine = dict(store.query("SELECT line, error FROM quarantine"))
    assert sorted(quarantine) == [3, 4, 5, 6, 7]
    assert "does not match" in quarantine[4]
    assert "user is empty" in quarantine[5]
    assert summary.total("quarantined") == 5


def test_missing_mapped_columns_fail_the_file_with_a_clear_error(
    store: Store, tmp_path: Path
) -> None:
    """A file lacking a mapped column fails whole, naming the file and the columns."""
    path = tmp_path / "wrong.csv"
    path.write_text("when,who\n2026-03-02 08:00:00,u1\n")
    summary = ingest(store, AccessCsvConnector(AccessCsvMapping.load(Path("synthetic"))), [path])
    assert summary.failed and "wrong.csv" in str(summary.failed[0].error)
    assert "patient_id" in str(summary.failed[0].error)
    assert store.query("SELECT count(*) FROM source_file") == [(0,)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name: x\ntime: {column: t, format: '%Y'}\n", "fields"),
        (
            "name: x\ntime: {column: t, format: '%Y', timezone: Nowhere/Land}\n"
            "fields: {user: u, patient: p}\n",
            "unknown time zone",
        ),
        (
            "name: x\ntime: {column: t, format: '%Y'}\nfields: {user: u, patient: p}\n"
            "actions: {Viewed: peek}\n",
            "unknown action",
        ),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_invalid_mappings_are_refused_with_the_file_name(
    tmp_path: Path, content: str, message: str
) -> None:
    """A broken mapping file is a ConfigError naming the file and the problem."""
    path = tmp_path / "mapping.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as error:
        AccessCsvMapping.load(path)
    assert str(path) in str(error.value)


def test_a_row_the_strict_parser_cannot_frame_is_read_leniently(
    store: Store, tmp_path: Path
) -> None:
    """A stray carriage return inside a row makes DuckDB's strict CSV parser give up on the
    whole file: the file is read again leniently, the good rows land, the bad one is
    quarantined, and nothing is stored twice."""
    header = b"event_id,access_time,user_id,patient_id,action,workstation,purpose,reason\n"
    good = b"g%d,2026-03-02 08:00:00,u1,p1,read,ws,TREAT,\n"
    path = tmp_path / "stray-cr.csv"
    path.write_bytes(header + good % 1 + b"ab\rcd\n" + good % 2)
    mapping = AccessCsvMapping.load(Path("synthetic")).with_timezone("UTC")
    summary = ingest(store, AccessCsvConnector(mapping), [path])
    assert sorted(_accesses(store)) == ["g1", "g2"]
    assert summary.files[0].status == "ingested"
    assert summary.total("duplicates") == 0
    lines = [r[0] for r in store.query("SELECT line FROM quarantine ORDER BY line")]
    assert lines and len(lines) == len(set(lines)) and min(lines) == 3


def test_an_empty_id_falls_back_to_the_content_hash(store: Store, tmp_path: Path) -> None:
    """A row whose id cell is empty still lands (identified by its content), with the rest."""
    path = tmp_path / "ids.csv"
    path.write_text(
        "event_id,access_time,user_id,patient_id,action,workstation,purpose,reason\n"
        "e1,2026-03-02 08:00:00,u1,p1,read,ws,TREAT,\n"
        ",2026-03-02 08:05:00,u1,p2,read,ws,TREAT,\n"
    )
    mapping = AccessCsvMapping.load(Path("synthetic")).with_timezone("UTC")
    summary = ingest(store, AccessCsvConnector(mapping), [path])
    assert summary.files[0].status == "ingested" and summary.tables["ehr_access"] == 2
    ids = sorted(str(r[0]) for r in store.query("SELECT event_id FROM ehr_access"))
    assert ids[0] != "" and "e1" in ids


def test_file_names_duckdb_would_expand_are_refused(store: Store, tmp_path: Path) -> None:
    """A file named like a pattern (a*.csv) fails alone with a clear message; a file it would
    have matched is not read in its place."""
    header = "event_id,access_time,user_id,patient_id,action,workstation,purpose,reason\n"
    (tmp_path / "ab.csv").write_text(header + "x1,2026-03-02 08:00:00,u1,p1,read,ws,TREAT,\n")
    odd = tmp_path / "a*.csv"
    odd.write_text(header + "y1,2026-03-02 08:00:00,u1,p1,read,ws,TREAT,\n")
    mapping = AccessCsvMapping.load(Path("synthetic")).with_timezone("UTC")
    summary = ingest(store, AccessCsvConnector(mapping), [odd])
    assert summary.failed and "rename the file" in str(summary.failed[0].error)
    assert store.query("SELECT count(*) FROM ehr_access") == [(0,)]
