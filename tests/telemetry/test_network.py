"""Suricata EVE and Zeek TSV/JSON logs land in security_event; bad lines are quarantined."""

from __future__ import annotations

import datetime as dt
import gzip
import re
from pathlib import Path

import orjson
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.telemetry.suricata import SuricataConnector
from carewarden.telemetry.zeek import ZeekConnector

EVE = [
    {
        "timestamp": "2024-03-01T10:00:00.123456+0100",
        "flow_id": 1234567890123,
        "event_type": "alert",
        "host": "sensor-icu",
        "src_ip": "10.1.2.3",
        "src_port": 49152,
        "dest_ip": "203.0.113.9",
        "dest_port": 443,
        "proto": "TCP",
        "alert": {"action": "allowed", "signature_id": 2027865, "signature": "ET MALWARE Evil"},
    },
    {
        "timestamp": "2024-03-01T09:00:01.000000+0000",
        "event_type": "flow",
        "src_ip": "10.1.2.3",
        "src_port": 49152,
        "dest_ip": "203.0.113.9",
        "dest_port": 443,
        "flow": {"state": "closed"},
    },
    {
        "timestamp": "2024-03-01T09:00:02.000000+0000",
        "event_type": "dns",
        "src_ip": "10.1.2.3",
        "dest_ip": "10.0.0.53",
        "dns": {"type": "query", "rrname": "pacs.hospital.example", "rcode": "NOERROR"},
    },
    {
        "timestamp": "2024-03-01T09:00:03Z",
        "event_type": "dns",
        "dns": {"version": 3, "queries": [{"rrname": "v3.example.org", "rrtype": "A"}]},
    },
    {
        "timestamp": "2024-03-01T09:00:04.000000-0500",
        "event_type": "http",
        "src_ip": "10.1.2.3",
        "dest_ip": "198.51.100.7",
        "dest_port": 80,
        "http": {"hostname": "updates.example.com", "url": "/a.exe", "status": 200},
    },
    {
        "timestamp": "2024-03-01T09:00:05.000000+0000",
        "event_type": "tls",
        "tls": {"sni": "portal.example.com", "version": "TLS 1.3"},
    },
    {
        "timestamp": "2024-03-01T09:00:06.000000+0000",
        "event_type": "fileinfo",
        "http": {"hostname": "updates.example.com", "url": "/a.exe"},
        "fileinfo": {"filename": "/a.exe", "size": 42},
    },
    {
        "timestamp": "2024-03-01T09:00:07.000000+0000",
        "event_type": "anomaly",
        "anomaly": {"type": "decode", "event": "ipv4.trunc_pkt"},
    },
    {"timestamp": "2024-03-01T09:00:08.000000+0000", "event_type": "stats", "stats": {}},
]


def eve_file(tmp_path: Path) -> Path:
    lines = [orjson.dumps(e).decode() for e in EVE]
    lines.insert(2, '{"timestamp": "2024-03-01T09:00:00Z", "event_type": ')  # line 3: bad JSON
    lines.append('{"event_type": "alert"}')  # line 11: no timestamp
    lines.append("")
    path = tmp_path / "eve.json"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_suricata_event_types_map_to_classes(store: Store, tmp_path: Path) -> None:
    """Each EVE type gets its class and columns; bad lines are quarantined by line number."""
    connector = SuricataConnector()
    summary = ingest(store, connector, [eve_file(tmp_path)])
    assert summary.total("records") == 8
    errors = {r.line: r.error for f in summary.files for r in f.first_rejects}
    assert set(errors) == {3, 11}
    assert "invalid JSON" in errors[3] and "no timestamp" in errors[11]
    assert summary.ignored["Suricata stats records"] == 1
    rows = store.query(
        "SELECT provider, class_uid, class_name, src_ip, src_port, dst_ip, dst_port, dns_query, "
        "file_path, threat_name, status FROM security_event WHERE channel = 'suricata' "
        "ORDER BY time"
    )
    by = {(r[0], r[7]): r for r in rows}
    assert by[("suricata/alert", None)] == (
        "suricata/alert", 2004, "detection_finding", "10.1.2.3", "49152", "203.0.113.9",
        "443", None, None, "ET MALWARE Evil", "allowed",
    )  # fmt: skip
    assert by[("suricata/flow", None)][1:3] == (4001, "network_activity")
    assert by[("suricata/dns", "pacs.hospital.example")][1] == 4003
    assert by[("suricata/dns", "v3.example.org")][1] == 4003
    http = by[("suricata/http", "updates.example.com")]
    assert (http[1], http[8], http[10]) == (4002, "/a.exe", "200")
    assert by[("suricata/tls", "portal.example.com")][1:3] == (4001, "network_activity")
    assert by[("suricata/fileinfo", "updates.example.com")][1:3] == (1001, "file_activity")
    assert by[("suricata/anomaly", None)][10] == "ipv4.trunc_pkt"
    alert = store.query(
        "SELECT time, host, event_id, record_id, raw FROM security_event "
        "WHERE provider = 'suricata/alert'"
    )[0]
    assert alert[:4] == (dt.datetime(2024, 3, 1, 9, 0, 0, 123456), "sensor-icu", 2027865,
                         1234567890123)  # fmt: skip
    assert orjson.loads(alert[4])["alert"]["signature"] == "ET MALWARE Evil"
    http_time = store.query("SELECT time FROM security_event WHERE provider = 'suricata/http'")[0][
        0
    ]
    assert http_time == dt.datetime(2024, 3, 1, 14, 0, 4)


def test_suricata_gzip_is_the_same_events(store: Store, tmp_path: Path) -> None:
    """The same lines gzipped are duplicates of those already stored."""
    source = eve_file(tmp_path)
    ingest(store, SuricataConnector(), [source])
    packed = tmp_path / "gz" / "eve.json.gz"
    packed.parent.mkdir()
    packed.write_bytes(gzip.compress(source.read_bytes()))
    summary = ingest(store, SuricataConnector(), [packed.parent])
    assert summary.total("duplicates") == 8
    assert store.query("SELECT count(*) FROM security_event")[0][0] == 8


CONN_TSV = """#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tconn
#open\t2024-03-01-09-00-00
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tconn_state\ttunnel_parents
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tstring\tset[string]
1709283600.500000\tC1\t10.1.2.3\t49152\t203.0.113.9\t443\ttcp\tssl\tSF\t(empty)
1709283601.000000\tC2\t10.1.2.4\t-\t203.0.113.10\t53\tudp\t-\tS0\tA,B
1709283602.000000\tC3\t10.1.2.5\t1\t2
1709283603.000000\tC4\t10.1.2.6\t5\t203.0.113.11\t80\ttcp\ta\\x09b\\x5cc\tSF\t-
#close\t2024-03-01-10-00-00
"""

NOTICE_TSV = """#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tnotice
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tnote\tmsg\tsrc\tdst\tp
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\taddr\taddr\tport
1709283700.0\t-\t-\t-\t-\t-\tScan::Port_Scan\t10.9.9.9 scanned 15 ports\t10.9.9.9\t10.1.2.3\t22
"""

JSON_LOGS = {
    "dns.log": {"ts": 1709283800.25, "uid": "C5", "id.orig_h": "10.1.2.3", "id.orig_p": 5353,
                "id.resp_h": "10.0.0.53", "id.resp_p": 53, "query": "ehr.hospital.example",
                "rcode_name": "NOERROR"},
    "http.log": {"ts": 1709283801.0, "id.orig_h": "10.1.2.3", "id.resp_h": "198.51.100.7",
                 "id.resp_p": 80, "host": "updates.example.com", "uri": "/a.exe",
                 "status_code": 200},
    "ssl.log": {"ts": 1709283802.0, "id": {"orig_h": "10.1.2.3", "resp_h": "203.0.113.9"},
                "server_name": "portal.example.com", "version": "TLSv13"},
    "x509.log": {"ts": 1709283803.0, "certificate.subject": "CN=portal.example.com"},
    "files.log": {"ts": 1709283804.0, "tx_hosts": ["198.51.100.7"], "rx_hosts": ["10.1.2.3"],
                  "filename": "a.exe", "mime_type": "application/x-dosexec"},
    "dhcp.log": {"ts": 1709283805.0, "client_addr": "10.1.2.50", "server_addr": "10.0.0.1",
                 "host_name": "infusion-pump-7", "msg_types": ["REQUEST", "ACK"]},
    "weird.log": {"ts": "2024-03-01T09:03:26.000000Z", "name": "bad_TCP_checksum",
                  "id.orig_h": "10.1.2.3"},
    "stats.log": {"ts": 1709283807.0, "mem": 12},
}  # fmt: skip


def zeek_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "zeek"
    folder.mkdir()
    (folder / "conn.09:00:00-10:00:00.log").write_text(CONN_TSV)
    (folder / "notice.log.gz").write_bytes(gzip.compress(NOTICE_TSV.encode()))
    for name, doc in JSON_LOGS.items():
        (folder / name).write_bytes(orjson.dumps(doc) + b"\n")
    # a JSON line with its own _path, in a file whose name says nothing, then a bad line
    (folder / "mixed.json").write_text(
        '{"_path": "conn", "ts": 1709283900.0, "id.orig_h": "10.7.7.7", "conn_state": "REJ"}\n'
        '{"_path": "dns", "query": "no-ts.example"}\n'
    )
    return folder


def test_zeek_tsv_and_json_logs(store: Store, tmp_path: Path) -> None:
    """Each log maps to its class; TSV escapes, unset and empty fields are decoded; a line
    with the wrong number of fields or no ts is quarantined with its line number."""
    summary = ingest(store, ZeekConnector(), [zeek_folder(tmp_path)])
    rejects = {(f.path.name, r.line): r.error for f in summary.files for r in f.first_rejects}
    assert set(rejects) == {("conn.09:00:00-10:00:00.log", 11), ("mixed.json", 2)}
    assert "5 fields where #fields names 10" in rejects[("conn.09:00:00-10:00:00.log", 11)]
    assert "no ts" in rejects[("mixed.json", 2)]
    assert summary.total("records") == 3 + 1 + 7 + 1
    assert summary.ignored["Zeek stats records"] == 1
    classes = dict(
        store.query("SELECT provider, any_value(class_uid) FROM security_event GROUP BY provider")
    )
    assert classes == {
        "zeek/conn": 4001, "zeek/notice": 2004, "zeek/dns": 4003, "zeek/http": 4002,
        "zeek/ssl": 4001, "zeek/x509": 1001, "zeek/files": 1001, "zeek/dhcp": 4004,
        "zeek/weird": 4001,
    }  # fmt: skip
    conn = store.query(
        "SELECT time, src_ip, src_port, dst_ip, dst_port, status, raw FROM security_event "
        "WHERE provider = 'zeek/conn' ORDER BY time"
    )
    assert conn[0][:6] == (
        dt.datetime(2024, 3, 1, 9, 0, 0, 500000), "10.1.2.3", "49152", "203.0.113.9", "443", "SF"
    )  # fmt: skip
    first, second, third = (orjson.loads(r[6]) for r in conn[:3])
    assert (
        first["_path"] == "conn" and first["tunnel_parents"] == [] and first["id.orig_p"] == 49152
    )
    assert second["id.orig_p"] is None and conn[1][2] is None
    assert second["tunnel_parents"] == ["A", "B"] and second["service"] is None
    assert third["service"] == "a\tb\\c"
    assert conn[3][1] == "10.7.7.7" and conn[3][5] == "REJ"
    one = {
        r[0]: r[1:]
        for r in store.query(
            "SELECT provider, src_ip, dst_ip, dst_port, dns_query, file_path, threat_name, "
            "status FROM security_event WHERE provider <> 'zeek/conn'"
        )
    }
    assert one["zeek/notice"] == (
        "10.9.9.9", "10.1.2.3", "22", None, None, "Scan::Port_Scan: 10.9.9.9 scanned 15 ports",
        None,
    )  # fmt: skip
    assert one["zeek/dns"][3] == "ehr.hospital.example"
    assert one["zeek/http"][3:5] == ("updates.example.com", "/a.exe")
    assert one["zeek/ssl"][:1] + one["zeek/ssl"][3:4] == ("10.1.2.3", "portal.example.com")
    assert one["zeek/x509"][4] == "CN=portal.example.com"
    assert one["zeek/files"][:2] == ("198.51.100.7", "10.1.2.3")
    assert one["zeek/dhcp"][3] == "infusion-pump-7" and one["zeek/dhcp"][6] == "REQUEST,ACK"
    assert one["zeek/weird"][6] == "bad_TCP_checksum"


def test_cli_ingest_suricata_and_zeek_then_status(tmp_path: Path) -> None:
    """`ingest suricata` and `ingest zeek` (a glob) store rows; status counts them."""
    runner = CliRunner()
    store = str(tmp_path / "store")
    eve = eve_file(tmp_path)
    result = runner.invoke(app, ["ingest", "suricata", str(eve), "--store", store])
    assert result.exit_code == 1, result.output  # two lines quarantined
    assert "eve.json:3" in result.output and "8 records stored" in result.output
    folder = zeek_folder(tmp_path)
    (folder / "mixed.json").unlink()
    (folder / "conn.09:00:00-10:00:00.log").write_text(
        "\n".join(line for line in CONN_TSV.splitlines() if "\tC3\t" not in line) + "\n"
    )
    result = runner.invoke(app, ["ingest", "zeek", f"{folder}/*.log*", "--store", store])
    assert result.exit_code == 0, result.output
    assert "11 records stored" in result.output
    status = runner.invoke(app, ["status", "--store", store])
    assert status.exit_code == 0
    assert re.search(r"security_event\s*│\s*19\b", status.output), status.output
