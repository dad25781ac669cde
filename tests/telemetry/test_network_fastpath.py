"""The column-wise path of the Suricata and Zeek connectors gives exactly the rows of the
per-line path (event_uid and raw included), for every EVE event type and Zeek log kind, and
a block it cannot read exactly still lands its good lines and rejects its bad ones."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carewarden.model import Batch, Rejected
from carewarden.telemetry import network, suricata, zeek
from carewarden.telemetry.network import Block, blocks
from carewarden.telemetry.suricata import SuricataConnector
from carewarden.telemetry.zeek import ZeekConnector

Items = list[Batch | Rejected]


def _ts(n: int, zone: str = "+0000", fraction: str = ".123456") -> str:
    return f"2024-03-01T09:{n // 60 % 60:02d}:{n % 60:02d}{fraction}{zone}"


def eve_events() -> list[dict[str, Any]]:
    """Every EVE type the connector maps, with the variants each column rule reads."""
    ends = {"src_ip": "10.1.2.3", "src_port": 49152, "dest_ip": "203.0.113.9", "dest_port": 443}
    events: list[dict[str, Any]] = [
        {"event_type": "alert", "flow_id": 7, "host": "ids-1", **ends,
         "alert": {"action": "blocked", "signature_id": 2027865, "signature": "ET Evil"}},
        {"event_type": "alert", "alert": {"signature_id": 1 << 40, "signature": ""},
         "sensor_name": "ids-2"},
        {"event_type": "flow", **ends, "flow": {"state": "closed", "pkts_toserver": 3}},
        {"event_type": "netflow", **ends, "netflow": {"pkts": 1}},
        {"event_type": "dns", "dns": {"type": "query", "rrname": "pacs.example", "rcode": "OK"}},
        {"event_type": "dns", "dns": {"version": 3, "queries": [{"rrname": "v3.example"}]}},
        {"event_type": "dns", "dns": {"rrname": "", "queries": []}},
        {"event_type": "http", "http": {"hostname": "upd.example", "url": "/a", "status": 404}},
        {"event_type": "tls", "http": {"hostname": "h.example"},
         "tls": {"sni": "portal.example", "version": "TLS 1.3"}},
        {"event_type": "fileinfo", "http": {"hostname": "f.example", "url": "/x"},
         "fileinfo": {"filename": "/a.exe", "size": 42}},
        {"event_type": "anomaly", "anomaly": {"type": "decode", "event": "ipv4.trunc_pkt"}},
        {"event_type": "anomaly", "anomaly": {"event": "", "code": 0}},
        {"event_type": "smb", "host": "", "sensor_name": "s-3", "smb": {"command": "READ"}},
        {"event_type": "stats", "stats": {"uptime": 5}},
        {"event_type": "alert", "host": "ünïcode-sensor", "alert": {"signature": "naïve ✓"}},
    ]
    zones = ("+0000", "Z", "+0130", "-05:00", "")
    fractions = (".123456", "", ".5", ".000001")
    out = []
    for n, event in enumerate(events * 3):
        stamp = _ts(n, zones[n % len(zones)], fractions[n % len(fractions)])
        out.append({"timestamp": stamp, **event})
    return out


TSV_HEADER = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"

# (log, [(field, type)], rows of values): every Zeek log kind the connector maps, and one it
# does not (smb_mapping), with unset, empty, set and vector values.
ZEEK_LOGS: list[tuple[str, list[tuple[str, str]], list[list[str]]]] = [
    ("conn", [("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"),
              ("id.resp_h", "addr"), ("id.resp_p", "port"), ("proto", "enum"),
              ("duration", "interval"), ("orig_bytes", "count"), ("conn_state", "string"),
              ("local_orig", "bool"), ("tunnel_parents", "set[string]")],
     [["1709283600.000001", "C1", "10.0.0.1", "49152", "10.0.0.2", "443", "tcp", "0.000012",
       "300", "SF", "T", "(empty)"],
      ["1709283601.5", "C2", "10.0.0.1", "-", "10.0.0.3", "53", "udp", "-", "0", "S0", "F",
       "Cx,Cy"],
      ["1709283602", "C3", "fe80::1", "1", "fe80::2", "2", "icmp", "12.000000", "-",
       "(empty)", "-", "-"]]),
    ("dns", [("ts", "time"), ("id.orig_h", "addr"), ("query", "string"),
             ("rcode_name", "string"), ("answers", "vector[string]"), ("TTLs", "vector[interval]")],
     [["1709283603.25", "10.0.0.1", "pacs.example", "NOERROR", "10.9.9.9,10.9.9.8", "-"],
      ["1709283604.0", "10.0.0.1", "(empty)", "-", "(empty)", "(empty)"]]),
    ("http", [("ts", "time"), ("id.orig_h", "addr"), ("host", "string"), ("uri", "string"),
              ("status_code", "count"), ("username", "string")],
     [["1709283605.1", "10.0.0.1", "upd.example", "/a.exe", "200", "-"],
      ["1709283606.2", "10.0.0.1", "-", "/", "-", "alice"]]),
    ("ssl", [("ts", "time"), ("server_name", "string"), ("version", "string")],
     [["1709283607.3", "portal.example", "TLSv13"]]),
    ("x509", [("ts", "time"), ("certificate.subject", "string"), ("san.dns", "vector[string]")],
     [["1709283608.4", "CN=portal.example,O=Hospital", "portal.example,www.portal.example"],
      ["1709283609.5", "CN=x", "-"]]),
    ("files", [("ts", "time"), ("tx_hosts", "set[addr]"), ("rx_hosts", "set[addr]"),
               ("filename", "string"), ("mime_type", "string"), ("depth", "count")],
     [["1709283610.6", "10.0.0.9,10.0.0.8", "10.0.0.1", "a.pdf", "application/pdf", "0"],
      ["1709283611.7", "(empty)", "-", "-", "-", "1"]]),
    ("dhcp", [("ts", "time"), ("client_addr", "addr"), ("assigned_addr", "addr"),
              ("server_addr", "addr"), ("host_name", "string"), ("msg_types", "vector[string]")],
     [["1709283612.8", "-", "10.0.0.50", "10.0.0.1", "ws-12", "DISCOVER,OFFER,REQUEST,ACK"]]),
    ("notice", [("ts", "time"), ("id.orig_h", "addr"), ("src", "addr"), ("dst", "addr"),
                ("p", "port"), ("note", "enum"), ("msg", "string")],
     [["1709283613.9", "-", "10.0.0.7", "10.0.0.8", "22", "SSH::Password_Guessing", "30 tries"],
      ["1709283614.0", "10.0.0.1", "-", "-", "-", "-", "only a message"]]),
    ("weird", [("ts", "time"), ("name", "string"), ("notice", "bool")],
     [["1709283615.1", "bad_TCP_checksum", "F"]]),
    ("smb_mapping", [("ts", "time"), ("id.orig_h", "addr"), ("path", "string"),
                     ("share_type", "string")],
     [["1709283616.2", "10.0.0.1", "//SRV/ADMIN$", "DISK"],
      ["1709283617.3", "10.0.0.1", "IPC", "PIPE"]]),
]


def zeek_tsv(log: str, fields: list[tuple[str, str]], rows: list[list[str]]) -> bytes:
    head = (
        TSV_HEADER
        + f"#path\t{log}\n#fields\t"
        + "\t".join(f for f, _ in fields)
        + "\n#types\t"
        + "\t".join(t for _, t in fields)
        + "\n"
    )
    return (head + "".join("\t".join(r) + "\n" for r in rows * 3) + "#close\t2024\n").encode()


def _per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suricata, "block_rows", lambda block: None)
    monkeypatch.setattr(zeek, "tsv_rows", lambda block, header, log: None)
    monkeypatch.setattr(zeek, "json_rows", lambda *args, **kwargs: None)


def _spy(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[bool]:
    """Record, per block, whether the column-wise path read it."""
    used: list[bool] = []
    real: Callable[..., Any] = getattr(module, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        used.append(out is not None)
        return out

    monkeypatch.setattr(module, name, spy)
    return used


def _table(items: Items) -> pa.Table:
    tables = [i.rows for i in items if isinstance(i, Batch)]
    return pa.concat_tables(tables).combine_chunks()


def _rejects(items: Items) -> list[tuple[int | None, int | None, str]]:
    return [(r.line, r.byte_offset, r.error) for r in items if isinstance(r, Rejected)]


def _both(
    monkeypatch: pytest.MonkeyPatch, read: Callable[[], Iterator[Batch | Rejected]]
) -> tuple[Items, Items]:
    fast = list(read())
    with monkeypatch.context() as patched:
        _per_line(patched)
        slow = list(read())
    return fast, slow


def _assert_same(fast: Items, slow: Items) -> None:
    assert _rejects(fast) == _rejects(slow)
    left, right = _table(fast), _table(slow)
    assert left.num_rows == right.num_rows > 0
    for name in left.column_names:
        assert left[name].to_pylist() == right[name].to_pylist(), name


def test_eve_every_type_same_rows_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "eve.json"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in eve_events()) + b"\n")
    used = _spy(monkeypatch, suricata, "block_rows")
    connector = SuricataConnector()
    fast, slow = _both(monkeypatch, lambda: connector.read(path))
    assert used and all(used), "the column-wise path read no block"
    _assert_same(fast, slow)
    rows = _table(fast)
    assert rows.num_rows == len(eve_events()) - 3  # the stats records are ignored
    assert connector.ignored["Suricata stats records"] == 6  # 3 per path
    assert set(rows["provider"].to_pylist()) >= {
        f"suricata/{k}" for k in (*suricata.CLASSES, "smb")
    }


def test_eve_blocks_are_read_by_the_compiled_scan_where_it_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled scan reads EVE's columns (pyarrow's reader only what it leaves), and
    gives the rows the reader gives."""
    path = tmp_path / "eve.json"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in eve_events()) + b"\n")
    scanned = _spy(monkeypatch, suricata, "json_columns")
    with_scan = list(SuricataConnector().read(path))
    assert scanned and all(scanned) == (network.native is not None)
    monkeypatch.setattr(suricata, "EVE_COLUMNS", None)
    _assert_same(with_scan, list(SuricataConnector().read(path)))


def sensor_events(count: int) -> list[dict[str, Any]]:
    """EVE records as a Suricata 7 or 8 sensor writes them, with every section a column does
    not read: base64 community ids (some starting ``Inf`` or ``NaN``), payloads, alert
    metadata, DNS v2 and v3, TLS JA3/JA4, HTTP headers, file info, SMB, Kerberos, DHCP,
    SSH, stats, IPv6, ICMP without ports, VLAN lists, text with escapes and non-ASCII."""
    kinds: list[dict[str, Any]] = [
        {"event_type": "alert", "tx_id": 0, "app_proto": "http", "direction": "to_server",
         "alert": {"action": "allowed", "gid": 1, "signature_id": 2034647, "rev": 5,
                   "signature": 'ET EXPLOIT "Log4j" \u00e9 attempt', "severity": 1,
                   "metadata": {"cve": ["CVE_2021_44228"], "created_at": ["2021_12_10"]}},
         "http": {"hostname": "pacs.example", "url": "/wado?x=%24%7Bjndi", "status": 404},
         "payload": "R0VUIC93YWRvP3g9JHtqbmRpOmxkYXA6Ly94fSBIVFRQLzEuMQ0K",
         "payload_printable": "GET /wado?\r\n\tHost: pacs\u0001", "stream": 1,
         "packet_info": {"linktype": 1},
         "flow": {"pkts_toserver": 3, "start": _ts(1), "src_port": 51000, "dest_port": 80}},
        {"event_type": "flow", "app_proto": "failed", "proto": "ICMP", "icmp_type": 8,
         "flow": {"pkts_toserver": 9, "bytes_toserver": 812, "age": 3, "state": "new",
                  "alerted": False, "exception_policy": [{"target": "x", "policy": "ignore"}]},
         "tcp": {"tcp_flags": "1b", "syn": True, "fin": True}},
        {"event_type": "dns", "proto": "UDP", "dns": {
            "version": 3, "type": "response", "id": 7, "flags": "8180", "qr": True,
            "rcode": "NXDOMAIN", "queries": [{"rrname": "ehr.example", "rrtype": "AAAA"}],
            "answers": [{"rrname": "ehr.example", "rrtype": "CNAME", "ttl": 30}],
            "authorities": [{"rrname": "example", "soa": {"serial": 1, "minimum": 5}}]}},
        {"event_type": "dns", "proto": "UDP", "dns": {
            "version": 2, "type": "answer", "id": 8, "rd": True, "rrname": "pacs.example",
            "rrtype": "A", "rcode": "NOERROR", "grouped": {"A": ["10.20.1.2"]},
            "answers": [{"rrname": "pacs.example", "rrtype": "A", "rdata": "10.20.1.2"}]}},
        {"event_type": "http", "tx_id": 3, "http": {
            "hostname": "portal.example", "http_port": 8080, "url": "/r\u00e9sultats?q=a%20b",
            "http_method": "POST", "status": 200, "length": 0,
            "request_headers": [{"name": "Cookie", "value": "a=b"}]}},
        {"event_type": "tls", "tls": {
            "subject": "C=US, O=Hospital, CN=ehr.example", "serial": "00:AB", "sni": "ehr",
            "version": "UNDETERMINED", "ja3": {"hash": "e7d7", "string": "771,4865-4866,0"},
            "ja4": "t13d1516h2_8daaf6152771_02713d6af862"}},
        {"event_type": "fileinfo", "app_proto": "http", "fileinfo": {
            "filename": "/dicom/文件.dcm", "sid": [], "gaps": False, "state": "CLOSED",
            "stored": False, "size": 12345}},
        {"event_type": "anomaly", "anomaly": {
            "app_proto": "tls", "type": "applayer", "event": "INVALID_RECORD_TYPE", "code": 4}},
        {"event_type": "smb", "smb": {"command": "SMB2_COMMAND_CREATE",
                                      "filename": "ADMIN$\\PSEXESVC.exe", "session_id": 1}},
        {"event_type": "krb5", "krb5": {"msg_type": "KRB_AS_REQ", "cname": "svc_ehr",
                                        "weak_encryption": False}},
        {"event_type": "dhcp", "dhcp": {"type": "reply", "lease_time": 86400,
                                        "dns_servers": ["10.0.0.53", "10.0.0.54"]}},
        {"event_type": "ssh", "ssh": {"client": {"software_version": "OpenSSH_9.6",
                                                 "hassh": {"hash": "x"}}}},
        {"event_type": "stats", "stats": {"uptime": 5, "decoder": {"pkts": 10 ** 15},
                                          "detect": {"engines": [{"id": 0}]}}},
    ]
    out = []
    for n in range(count):
        start = ("Inf", "NaN", "-In", "AbC")[n % 4]
        src, dest = (f"2001:db8::{n:x}", "2001:db8::1") if n % 7 == 0 else ("10.1.9.9", "10.2.0.1")
        record: dict[str, Any] = {
            "timestamp": _ts(n), "flow_id": (n * 2654435761) % (1 << 51), "in_iface": "ens192",
            "vlan": [100, 200][: n % 3], "src_ip": src, "src_port": 1024 + n, "dest_ip": dest,
            "dest_port": 443, "proto": "TCP", "community_id": f"1:{start}{n:08x}ZmFrZSBpZA==",
            "host": "ids-icu", "ether": {"src_mac": "00:50:56:aa:bb:cc"},
        }  # fmt: skip
        record |= kinds[n % len(kinds)]
        if record.get("proto") == "ICMP":
            del record["src_port"], record["dest_port"]
        out.append(record)
    return out


def test_records_as_a_sensor_writes_them_are_read_by_the_compiled_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every block of a sensor's records goes through the compiled scan (none line by line,
    none to pyarrow's reader: either would cost the throughput), with the rows of the
    per-line path."""
    path = tmp_path / "eve.json"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in sensor_events(600)) + b"\n")
    monkeypatch.setattr(suricata, "blocks", lambda p: blocks(p, size=16_384))
    scanned = _spy(monkeypatch, suricata, "json_columns")
    column_wise = _spy(monkeypatch, suricata, "block_rows")
    fast, slow = _both(monkeypatch, lambda: SuricataConnector().read(path))
    _assert_same(fast, slow)
    assert len(column_wise) > 10 and all(column_wise)
    assert len(scanned) == len(column_wise)
    assert all(scanned) == (network.native is not None)
    assert len(_table(fast)) == 600 - 600 // 13  # the stats records are not events


@pytest.mark.parametrize("kind", ["eve", "zeek", "zeek-json"])
def test_crlf_line_ends_are_read_column_wise(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log written on Windows (CRLF line ends) is read column-wise, block by block, with
    the per-line path's rows (its records without the carriage return); a rejected line
    keeps its line number."""
    _, fields, rows = ZEEK_LOGS[0]
    tsv = zeek_tsv("conn", fields, rows * 8)
    if kind == "eve":
        lines = [orjson.dumps(e) for e in eve_events() * 4]
    elif kind == "zeek":
        lines = tsv.splitlines()
    else:
        (tmp_path / "conn.log").write_bytes(tsv)
        records = _table(list(ZeekConnector().read(tmp_path / "conn.log")))["raw"]
        lines = [record.encode() for record in records.to_pylist()]
    read = SuricataConnector().read if kind == "eve" else ZeekConnector().read
    spied = {"eve": (suricata, "block_rows"), "zeek": (zeek, "tsv_rows")}
    path = tmp_path / "win" / ("eve.json" if kind == "eve" else "conn.log")
    path.parent.mkdir()
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    monkeypatch.setattr(suricata, "blocks", lambda p: blocks(p, size=1_024))
    monkeypatch.setattr(zeek, "blocks", lambda p: blocks(p, size=1_024))
    used = _spy(monkeypatch, *spied.get(kind, (zeek, "json_rows")))
    fast, slow = _both(monkeypatch, lambda: read(path))
    assert len(used) > 3 and all(used), "a block was read line by line"
    _assert_same(fast, slow)
    assert not any("\r" in raw for raw in _table(fast)["raw"].to_pylist())
    if kind == "eve":  # a carriage return as JSON whitespace is the record's own
        spaced = lines[0].replace(b'","', b'",\r"', 1)
        path.write_bytes(b"\r\n".join([spaced, *lines]) + b"\r\n")
        fast, slow = _both(monkeypatch, lambda: read(path))
        _assert_same(fast, slow)
        assert "\r" in _table(fast)["raw"][0].as_py()
    # A bad line among them: its block goes line by line.
    bad = b"\r\n".join([*lines[:-3], b"{not json", *lines[-3:]]) + b"\r\n"
    path.write_bytes(bad)
    fast, slow = _both(monkeypatch, lambda: read(path))
    _assert_same(fast, slow)
    assert [r[0] for r in _rejects(fast)] == [len(lines) - 2]


@pytest.mark.parametrize("log", [entry[0] for entry in ZEEK_LOGS])
def test_zeek_every_log_same_rows_both_paths(
    log: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, fields, rows = next(entry for entry in ZEEK_LOGS if entry[0] == log)
    path = tmp_path / f"{log}.log"
    path.write_bytes(zeek_tsv(log, fields, rows))
    used = _spy(monkeypatch, zeek, "tsv_rows")
    fast, slow = _both(monkeypatch, lambda: ZeekConnector().read(path))
    assert used, "no run of records reached the column-wise path"
    if log != "dns":  # vector[interval] with values is left to the per-line path
        assert all(used), "the column-wise path fell back"
    _assert_same(fast, slow)
    assert _table(fast)["provider"].to_pylist() == [f"zeek/{log}"] * (len(rows) * 3)


@pytest.mark.parametrize("log", [entry[0] for entry in ZEEK_LOGS])
def test_zeek_json_every_log_same_rows_both_paths(
    log: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Zeek JSON logs (here: the records of the TSV test as Zeek writes them in JSON, with
    a sensor bookkeeping record among them) read column-wise give the per-line rows."""
    _, fields, rows = next(entry for entry in ZEEK_LOGS if entry[0] == log)
    tsv = tmp_path / f"{log}.log"
    tsv.write_bytes(zeek_tsv(log, fields, rows))
    records = _table(list(ZeekConnector().read(tsv)))["raw"].to_pylist()
    stats = '{"_path":"stats","ts":1709283600.5,"peer":"zeek","mem":61}'
    path = tmp_path / "json" / f"{log}.log"
    path.parent.mkdir()
    path.write_text("\n".join([*records[:2], stats, *records[2:]]) + "\n")
    used = _spy(monkeypatch, zeek, "json_rows")
    connector = ZeekConnector()
    fast, slow = _both(monkeypatch, lambda: connector.read(path))
    assert used and all(used), "the column-wise path fell back"
    _assert_same(fast, slow)
    assert _table(fast)["raw"].to_pylist() == records
    assert connector.ignored["Zeek stats records"] == 2  # once per path


def test_zeek_json_nested_and_mixed_logs_fall_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records with nested ``id`` objects, or of another log than the file's, are read line
    by line, with the same rows."""
    lines = [
        '{"_path":"conn","ts":1709283600.25,"id":{"orig_h":"10.0.0.1","orig_p":5}}',
        '{"ts":1709283601,"id.orig_h":"10.0.0.2","conn_state":"SF"}',
        '{"_path":"dns","ts":1709283602.000001,"query":"pacs.example"}',
    ]
    path = tmp_path / "conn.log"
    path.write_text("\n".join(lines) + "\n")
    used = _spy(monkeypatch, zeek, "json_rows")
    fast, slow = _both(monkeypatch, lambda: ZeekConnector().read(path))
    assert used == [False]
    _assert_same(fast, slow)
    assert _table(fast)["src_ip"].to_pylist() == ["10.0.0.1", "10.0.0.2", None]


def test_zeek_concatenated_logs_and_small_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logs of several kinds one after the other in one file, read in blocks smaller than
    the file: each run of records is read under its own header, as line by line."""
    data = b"".join(zeek_tsv(*entry) for entry in ZEEK_LOGS)
    lines = data.split(b"\n")
    ragged = next(i for i, line in enumerate(lines) if line.startswith(b"1709283607.3"))
    lines[ragged] += b"\textra"  # a field more than #fields names: rejected, by line number
    path = tmp_path / "mixed.log"
    path.write_bytes(b"\n".join(lines))
    monkeypatch.setattr(zeek, "blocks", lambda p: blocks(p, size=300))
    fast, slow = _both(monkeypatch, lambda: ZeekConnector().read(path))
    _assert_same(fast, slow)
    assert [r[0] for r in _rejects(fast)] == [ragged + 1]
    providers = set(_table(fast)["provider"].to_pylist())
    assert providers == {f"zeek/{entry[0]}" for entry in ZEEK_LOGS}


def test_bad_lines_in_a_block_keep_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block with a bad line goes line by line: the good lines land as the column-wise
    path would have landed them, the bad ones are rejected with their file line number."""
    good = [orjson.dumps(e) for e in eve_events()]
    lines = [*good[:4], b'{"event_type": "flow", "timestamp": ', *good[4:8], b"\xff\xfe",
             *good[8:], b"NaN", b'{"event_type":"flow","timestamp":"2024-03-01T09:00:00Z",'
             b'"src_port":"80"}']  # fmt: skip
    path = tmp_path / "eve.json"
    path.write_bytes(b"\n".join(lines) + b"\n")
    clean = tmp_path / "clean" / "eve.json"
    clean.parent.mkdir()
    clean.write_bytes(b"\n".join(good) + b"\n")
    monkeypatch.setattr(suricata, "blocks", lambda p: blocks(p, size=1000))
    mixed = list(SuricataConnector().read(path))
    assert [r[0] for r in _rejects(mixed)] == [5, 10, len(lines) - 1]
    fast = _table(list(SuricataConnector().read(clean)))
    landed = _table(mixed)
    # The last line (a port as text) is a good record for the per-line path.
    assert landed.slice(0, fast.num_rows).to_pylist() == fast.to_pylist()
    assert landed.num_rows == fast.num_rows + 1


def test_blocks_cover_the_file(tmp_path: Path) -> None:
    """Blocks hold every line once, numbered as in the file; a line over 1 MiB is rejected
    whether or not a block can hold it."""
    huge = b"x" * 1_100_000
    lines = [b"a", b"", huge, b"b" * 50, huge + huge, b"c"]
    path = tmp_path / "lines.txt"
    path.write_bytes(b"\n".join(lines))
    for size in (1000, 1 << 20, 8 << 20):
        seen: list[tuple[int, bytes]] = []
        rejected: list[tuple[int | None, int | None]] = []
        for block in blocks(path, size=size):
            items = [block] if isinstance(block, Rejected) else list(block.lines())
            for item in items:
                if isinstance(item, Rejected):
                    rejected.append((item.line, item.byte_offset))
                elif not isinstance(item, Block):
                    seen.append(item)
        assert seen == [(1, b"a"), (4, b"b" * 50), (6, b"c")], size
        offsets = [sum(len(line) + 1 for line in lines[:i]) for i in (2, 4)]
        assert rejected == [(3, offsets[0]), (5, offsets[1])], size


# -- property tests: whatever the values, both paths agree ---------------------------------

_FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.lists(st.text(max_size=4), max_size=2),
    st.dictionaries(st.sampled_from(["rrname", "event", "x"]), st.text(max_size=4), max_size=2),
)
_STAMP = st.one_of(
    st.builds(
        _ts,
        st.integers(0, 3599),
        st.sampled_from(["+0000", "Z", "-0130", "+05:45", "", "+2400", " "]),
        st.sampled_from([".123456", "", ".5", ".1234567", ".000001"]),
    ),
    st.text(max_size=6),
    st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1),
)
_SECTION = st.dictionaries(
    st.sampled_from(["signature", "action", "signature_id", "hostname", "url", "status",
                     "rrname", "rcode", "queries", "sni", "version", "filename", "state",
                     "event", "code"]),
    _ANY, max_size=4,
)  # fmt: skip
_EVENT = st.fixed_dictionaries(
    {
        "timestamp": _STAMP,
        "event_type": st.sampled_from([*suricata.CLASSES, "stats", "smb"]),
    },
    optional={
        "src_ip": _ANY, "src_port": _ANY, "dest_ip": _ANY, "dest_port": _ANY, "host": _ANY,
        "sensor_name": _ANY, "flow_id": _ANY,
        **{name: st.one_of(_SECTION, _ANY) for name in
           ("alert", "http", "dns", "tls", "fileinfo", "flow", "anomaly")},
    },
)  # fmt: skip


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8
)  # any text (NaN, quotes, unicode, empty…)
_INT64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
_TYPED_SECTION = st.fixed_dictionaries(
    {},
    optional={
        "signature": _TEXT, "action": _TEXT, "signature_id": _INT64, "hostname": _TEXT,
        "url": _TEXT, "status": _INT64, "rrname": _TEXT, "rcode": _TEXT, "sni": _TEXT,
        "version": _TEXT, "filename": _TEXT, "state": _TEXT, "event": _TEXT, "code": _INT64,
        "queries": st.lists(st.fixed_dictionaries({}, optional={"rrname": _TEXT}), max_size=2),
        "other": _ANY,
    },
)  # fmt: skip
_TYPED_EVENT = st.fixed_dictionaries(
    {
        "timestamp": st.builds(
            _ts,
            st.integers(0, 3599),
            st.sampled_from(["+0000", "Z", "-0130", "+05:45", ""]),
            st.sampled_from([".123456", "", ".5", ".000001"]),
        ),
        "event_type": st.sampled_from([*suricata.CLASSES, "stats", "smb"]),
    },
    optional={
        "src_ip": _TEXT, "src_port": _INT64, "dest_ip": _TEXT, "dest_port": _INT64,
        "host": _TEXT, "sensor_name": _TEXT, "flow_id": _INT64,
        **{name: _TYPED_SECTION for name in
           ("alert", "http", "dns", "tls", "fileinfo", "flow", "anomaly")},
    },
)  # fmt: skip


# Line ends as files written on Linux and on Windows have them, and damaged ones.
_LINE_ENDS = st.one_of(
    st.just([b"\n"]),
    st.just([b"\r\n"]),
    st.lists(st.sampled_from([b"\n", b"\r\n", b"\r\r\n", b"\n\r\n", b" \r\n", b"\r"]), min_size=1),
)


def _joined(lines: list[bytes], ends: list[bytes]) -> bytes:
    """The lines, each with the next of ``ends`` (in turn) after it."""
    return b"".join(line + ends[n % len(ends)] for n, line in enumerate(lines))


@_FUZZ
@given(
    st.one_of(
        st.lists(_TYPED_EVENT, min_size=1, max_size=20),
        st.lists(st.one_of(_TYPED_EVENT, _EVENT), min_size=1, max_size=20),
    ),
    _LINE_ENDS,
)
def test_fuzzed_eve_both_paths_agree(
    tmp_path_factory: pytest.TempPathFactory, events: list[dict[str, Any]], ends: list[bytes]
) -> None:
    path = tmp_path_factory.mktemp("eve") / "eve.json"
    path.write_bytes(_joined([orjson.dumps(e) for e in events], ends))
    slow = list(SuricataConnector(columnwise=False).read(path))
    # The column-wise path is checked as it reads (the compiled scan, network.json_columns),
    # and with pyarrow's reader, which reads what the scan leaves (and every block without
    # the compiled helpers): these lines are short, so with and without trimming them to
    # the fields it reads first (network.json_for_reader), which only long lines get.
    for columns, trim_from in (
        (suricata.EVE_COLUMNS, network.TRIM_FROM_BYTES),
        (None, network.TRIM_FROM_BYTES),
        (None, 0),
    ):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(suricata, "EVE_COLUMNS", columns)
            patch.setattr(network, "TRIM_FROM_BYTES", trim_from)
            fast = list(SuricataConnector().read(path))
        assert _rejects(fast) == _rejects(slow)
        batches = [i for i in fast if isinstance(i, Batch)]
        if batches:
            left, right = _table(fast), _table(slow)
            assert left.to_pylist() == right.to_pylist()
        else:
            assert not [i for i in slow if isinstance(i, Batch)]


_TSV_VALUE = st.one_of(
    st.sampled_from(["-", "(empty)", "0", "007", "-5", "1.5", "1e5", "0.00001", "T", "F",
                     "a,b", "a,,b", ",", "x\\x09y", 'q"t', "ü", "NaN", "inf", "{x", " a",
                     "1709283600.123456", "99999999999999999999", "10.0.0.1"]),
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\t\n\r"),
        max_size=6,
    ),
)  # fmt: skip
_TSV_TYPES = ["time", "string", "addr", "port", "count", "int", "double", "interval", "bool",
              "enum", "set[string]", "vector[count]", "vector[interval]", "set[addr]"]  # fmt: skip


def _tsv_typed(kind: str) -> st.SearchStrategy[str]:
    """A value of a Zeek type as Zeek writes it (mostly), or a wrong one now and then."""
    plain = st.text(
        alphabet=st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="\\\","),
        min_size=1,
        max_size=6,
    ).filter(lambda v: v not in ("-", "(empty)"))
    by_kind: dict[str, st.SearchStrategy[str]] = {
        "count": st.integers(0, 1 << 62).map(str),
        "int": st.integers(-(1 << 62), 1 << 62).map(str),
        "port": st.integers(0, 65535).map(str),
        "double": st.floats(0, 1e9).map(lambda f: f"{f:.6f}"),
        "interval": st.floats(0, 1e5).map(lambda f: f"{f:.6f}"),
        "time": st.floats(1e9, 2e9).map(lambda f: f"{f:.6f}"),
        "bool": st.sampled_from(["T", "F"]),
        "set[string]": st.lists(plain, min_size=1, max_size=3).map(",".join),
        "set[addr]": st.lists(plain, min_size=1, max_size=3).map(",".join),
        "vector[count]": st.lists(st.integers(0, 99), min_size=1, max_size=3).map(
            lambda v: ",".join(map(str, v))
        ),
    }
    typed = by_kind.get(kind, plain)
    return st.one_of(typed, typed, typed, st.sampled_from(["-", "(empty)"]), _TSV_VALUE)


@_FUZZ
@given(
    st.sampled_from([entry[0] for entry in ZEEK_LOGS]),
    st.lists(st.sampled_from(_TSV_TYPES), min_size=3, max_size=6),
    st.data(),
    st.booleans(),
    _LINE_ENDS,
)
def test_fuzzed_zeek_tsv_both_paths_agree(
    tmp_path_factory: pytest.TempPathFactory,
    log: str,
    types: list[str],
    data: st.DataObject,
    good_ts: bool,
    ends: list[bytes],
) -> None:
    _, known, _ = next(entry for entry in ZEEK_LOGS if entry[0] == log)
    names = ["ts", *(name for name, _ in known[1:])][: len(types)]
    types = ["time", *types[1:]][: len(names)]
    row = st.tuples(*(_tsv_typed(kind) for kind in types)).map(list)
    rows = data.draw(st.lists(row, min_size=1, max_size=8))
    values = [
        [f"17092836{n:02d}.5" if good_ts else r[0], *r[1:]] for n, r in enumerate(rows)
    ]
    path = tmp_path_factory.mktemp("zeek") / f"{log}.log"
    tsv = zeek_tsv(log, list(zip(names, types, strict=True)), values)
    path.write_bytes(_joined(tsv.splitlines(), ends))
    fast = list(ZeekConnector().read(path))
    slow = list(ZeekConnector(columnwise=False).read(path))
    assert _rejects(fast) == _rejects(slow)
    if [i for i in slow if isinstance(i, Batch)]:
        assert _table(fast).to_pylist() == _table(slow).to_pylist()
    else:
        assert not [i for i in fast if isinstance(i, Batch)]


_ZEEK_JSON_FIELDS = {
    "id.orig_h": _TEXT, "id.resp_h": _TEXT, "id.orig_p": _INT64, "id.resp_p": _INT64,
    "conn_state": _TEXT, "query": _TEXT, "rcode_name": _TEXT, "host": _TEXT, "uri": _TEXT,
    "status_code": _INT64, "username": _TEXT, "server_name": _TEXT, "version": _TEXT,
    "certificate.subject": _TEXT, "san.dns": st.lists(_TEXT, max_size=2),
    "tx_hosts": st.lists(_TEXT, max_size=2), "msg_types": st.lists(_TEXT, max_size=3),
    "note": _TEXT, "msg": _TEXT, "src": _TEXT, "p": _INT64, "name": _TEXT,
    "_system_name": _TEXT, "extra": _ANY,
}  # fmt: skip


_ZEEK_JSON_RECORD = st.fixed_dictionaries(
    {"ts": st.one_of(st.floats(0, 4e9), st.integers(0, 1 << 33))},
    optional={"_path": st.sampled_from(["", "conn", "stats"]), **_ZEEK_JSON_FIELDS,
              "id": _ANY, "oddity": _ANY, "ts_text": _TEXT},
)  # fmt: skip


@_FUZZ
@given(
    st.sampled_from([entry[0] for entry in ZEEK_LOGS]),
    st.lists(_ZEEK_JSON_RECORD, min_size=1, max_size=12),
    _LINE_ENDS,
)
def test_fuzzed_zeek_json_both_paths_agree(
    tmp_path_factory: pytest.TempPathFactory,
    log: str,
    records: list[dict[str, Any]],
    ends: list[bytes],
) -> None:
    path = tmp_path_factory.mktemp("zeekjson") / f"{log}.log"
    path.write_bytes(_joined([orjson.dumps(r) for r in records], ends))
    slow_reader = ZeekConnector(columnwise=False)
    slow = list(slow_reader.read(path))
    for trim_from in (network.TRIM_FROM_BYTES, 0):  # as for EVE: short lines, trimmed or not
        fast_reader = ZeekConnector()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(network, "TRIM_FROM_BYTES", trim_from)
            fast = list(fast_reader.read(path))
        assert _rejects(fast) == _rejects(slow)
        assert fast_reader.ignored == slow_reader.ignored
        if [i for i in slow if isinstance(i, Batch)]:
            assert _table(fast).to_pylist() == _table(slow).to_pylist()
        else:
            assert not [i for i in fast if isinstance(i, Batch)]


def test_zeek_json_records_without_path_take_the_file_log_in_every_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record without ``_path`` is of the log the file name tells, whatever log the blocks
    before it held (that log is only the parse threads' first guess), as line by line."""
    dns = [f'{{"_path":"dns","ts":1709283600.{n},"query":"q{n}.example"}}' for n in range(1, 9)]
    bare = [f'{{"ts":1709283601.{n},"id.orig_h":"10.0.0.{n}","conn_state":"SF"}}' for n in
            range(1, 9)]  # fmt: skip
    path = tmp_path / "conn.log"
    path.write_text("\n".join(dns + bare + dns) + "\n")
    monkeypatch.setattr(zeek, "blocks", lambda p: blocks(p, size=200))
    used = _spy(monkeypatch, zeek, "json_rows")
    fast, slow = _both(monkeypatch, lambda: ZeekConnector().read(path))
    assert any(used), "the column-wise path read no block"
    _assert_same(fast, slow)
    providers = _table(fast)["provider"].to_pylist()
    assert providers == ["zeek/dns"] * 8 + ["zeek/conn"] * 8 + ["zeek/dns"] * 8


# What Arrow's JSON reader takes for a number and orjson refuses: NaN, Inf or Infinity,
# signed or not, as a value. The compiled search looks outside strings only; the numpy one
# must find no less (a false alarm in a string only sends a block line by line).
NON_STANDARD_NUMBER = re.compile(rb"[:,\[][ \t]*-?(?:NaN|Inf)")
PIECES = [b"NaN", b"Inf", b"Infinity", b"Na", b"In", b"aN", b"nf", b"N", b"I"]
PIECES += [b":", b",", b"[", b"-", b" ", b"\t", b'"', b"\\", b'\\"', b"\n"]


def _strings_blanked(data: bytes) -> bytes:
    """``data`` with the inside of each JSON string of each line replaced by ``x``, as a
    JSON lexer reads it: a quote opens or closes a string, a backslash in a string escapes
    the byte after it (a line feed still ends the line)."""
    out = bytearray(data)
    inside = escaped = False
    for i, byte in enumerate(data):
        if byte == 10:
            inside = escaped = False
        elif escaped:
            escaped = False
            out[i] = ord("x")
        elif inside and byte == ord("\\"):
            escaped = True
            out[i] = ord("x")
        elif byte == ord('"'):
            inside = not inside
        elif inside:
            out[i] = ord("x")
    return bytes(out)


def _non_standard_number_searches(data: bytes) -> None:
    outside = NON_STANDARD_NUMBER.search(_strings_blanked(data)) is not None
    anywhere = NON_STANDARD_NUMBER.search(data) is not None
    assert network._json_nan_or_infinity_numpy(data) == anywhere
    if network.native is not None:
        assert network.native.json_nonstandard_number(data) == outside


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=40),
            st.sampled_from(PIECES),
        ),
        max_size=30,
    )
)
def test_the_non_standard_number_search_agrees_with_a_regular_expression(
    parts: list[bytes],
) -> None:
    """At even and odd offsets, at the very start and end, after spaces and signs, in
    strings and out of them, across line feeds, and with many false starts
    (``Information``, ``fileinfo``, community ids); the compiled search (where built) and
    the numpy one."""
    data = b"".join(parts)
    _non_standard_number_searches(data)
    for common in (b"aN", b"nf", b"Information ", b": x", b'"1:Inf",', b'\\"'):
        _non_standard_number_searches(common * 100 + data)


@pytest.mark.skipif(network.native is None, reason="the compiled helpers are not built")
def test_text_like_a_non_standard_number_in_a_string_keeps_the_block_column_wise() -> None:
    """Community ids are base64 after ``1:``, and one in 130,000 starts with ``Inf`` or
    ``NaN``: taken for a number, it sent its whole block (6,000 full-size EVE records) line
    by line. The same text as a value still does."""
    record = b'{"event_type":"flow","community_id":"1:Inf3kq+Zx0=","note":"a\\":NaN, [-Inf"}'
    value = b'{"event_type":"flow","community_id":1:Inf}'
    assert Block(1, 0, record + b"\n").line_ends() is not None
    assert Block(1, 0, record + b"\n" + value + b"\n").line_ends() is None
    # A string left open (invalid, refused by every reader) ends with its line.
    for open_string in (b'{"a":"x\\"}', b'{"a":"x\\'):
        assert Block(1, 0, open_string + b'\n{"b":[1, -Infinity]}\n').line_ends() is None


@pytest.mark.parametrize("value", [b"NaN", b"-NaN", b"Inf", b"-Inf", b"Infinity", b" -Infinity"])
def test_a_non_standard_number_in_a_field_not_read_is_rejected_like_the_per_line_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: bytes
) -> None:
    """Arrow's JSON reader skips the fields it is not asked for without refusing ``Inf``:
    the block goes line by line, and the record is rejected with its line, as orjson
    refuses it. Text like it in a string is kept."""
    good = [orjson.dumps(e) for e in eve_events()]
    bad = good[0][:-1] + b',"extra":[1,' + value + b"]}"
    texts = good[1][:-1] + b',"note":"Information: Inf, [-Inf"}'
    path = tmp_path / "eve.json"
    path.write_bytes(b"\n".join([*good[2:], bad, texts]) + b"\n")
    clean = tmp_path / "clean.json"
    clean.write_bytes(b"\n".join([*good[2:], texts]) + b"\n")
    fast, slow = _both(monkeypatch, lambda: SuricataConnector().read(path))
    _assert_same(fast, slow)
    assert [r[0] for r in _rejects(fast)] == [len(good) - 1]
    assert _table(fast).equals(_table(list(SuricataConnector().read(clean))))
    assert "Information: Inf" in _table(fast)["raw"][-1].as_py()


@pytest.mark.parametrize("last_line_end", [b"\n", b""])
def test_raw_column_holds_each_line_without_its_line_end(last_line_end: bytes) -> None:
    lines = [b'{"a": 1}', b'{"b": "caf\xc3\xa9"}', b"{}"]
    block = Block(1, 0, b"\n".join(lines) + last_line_end)
    ends = block.line_ends()
    assert ends is not None
    assert network.raw_column(block, ends).to_pylist() == [line.decode() for line in lines]


def test_raw_column_refuses_a_character_split_by_a_line_end() -> None:
    """Each line must be UTF-8 on its own: an "é" cut in two by a line feed leaves both
    lines invalid, although the lines put back to back without it would be valid."""
    block = Block(1, 0, b'{"a": "\xc3\n\xa9"}\n')
    ends = block.line_ends()
    assert ends is not None
    with pytest.raises(pa.ArrowInvalid):
        network.raw_column(block, ends)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.binary(max_size=400).map(lambda b: b.replace(b"\r", b"")),
    st.integers(min_value=1, max_value=64),
    st.booleans(),
)
def test_blocks_hold_the_file_in_order_with_their_place(
    tmp_path: Path, content: bytes, size: int, gzipped: bool
) -> None:
    """Blocks of any size, read from a plain or a gzip file, put back together are the file;
    each starts at its byte offset and line number, and ends with a line end (but the last)."""
    import gzip

    path = tmp_path / ("lines.log.gz" if gzipped else "lines.log")
    path.write_bytes(gzip.compress(content) if gzipped else content)
    found = [b for b in blocks(path, size=size)]
    assert all(isinstance(b, Block) for b in found)
    data = [b.data for b in found if isinstance(b, Block)]
    assert b"".join(data) == content
    for block in found:
        assert isinstance(block, Block)
        assert block.offset == sum(len(d) for d in data[: found.index(block)])
        assert block.number == 1 + content[: block.offset].count(b"\n")
        assert block.data and (block.data.endswith(b"\n") or block is found[-1])


def _flow_lines(count: int) -> list[bytes]:
    return [
        orjson.dumps(
            {"timestamp": _ts(i), "event_type": "flow", "flow_id": i, "src_ip": "10.0.0.1",
             "src_port": 40000 + i % 1000, "dest_ip": "10.0.0.2", "dest_port": 443,
             "flow": {"state": "closed", "pkts_toserver": i}}
        )
        for i in range(count)
    ]


def test_a_truncated_gzip_keeps_the_lines_before_the_damage(tmp_path: Path) -> None:
    """A truncated ``eve.json.gz`` (a copy cut short, a sensor that died mid-write) gives
    every whole line that decompresses, as rows, and one reject saying why; nothing raises."""
    import gzip
    import zlib

    packed = gzip.compress(b"\n".join(_flow_lines(40_000)) + b"\n")
    path = tmp_path / "eve.json.gz"
    path.write_bytes(packed[: len(packed) // 2])
    whole_lines = zlib.decompressobj(wbits=31).decompress(path.read_bytes()).count(b"\n")

    items = list(SuricataConnector().read(path))
    rows = sum(i.rows.num_rows for i in items if isinstance(i, Batch))
    rejects = [i for i in items if isinstance(i, Rejected)]
    assert [r.error.split(":")[0] for r in rejects] == ["damaged compressed data"]
    assert whole_lines - 256 <= rows <= whole_lines  # all but the last decompressed piece
    assert rows > 10_000
    assert rejects[0].line == rows + 1


def test_a_corrupted_gzip_quarantines_what_it_cannot_read(tmp_path: Path) -> None:
    """Bytes overwritten inside a ``conn.log.gz``: the lines before land, what decompresses
    to garbage is quarantined line by line, and the damage the gzip check finds ends the
    file with a reject; nothing raises."""
    import gzip

    lines = [b"#separator \\x09", b"#path\tconn", b"#fields\tts\tuid\tid.orig_h"]
    lines += [f"{1709280000 + i}.5\tC{i}\t10.0.0.{i % 250}".encode() for i in range(60_000)]
    packed = bytearray(gzip.compress(b"\n".join(lines) + b"\n"))
    half = len(packed) // 2
    packed[half : half + 64] = b"\xff" * 64
    path = tmp_path / "conn.log.gz"
    path.write_bytes(bytes(packed))

    items = list(ZeekConnector().read(path))
    rows = sum(i.rows.num_rows for i in items if isinstance(i, Batch))
    rejects = [i for i in items if isinstance(i, Rejected)]
    assert rows > 10_000
    assert rejects and rejects[-1].error.startswith("damaged compressed data")
