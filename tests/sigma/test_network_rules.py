"""Sigma network rules: ``product: zeek`` rules read the Zeek log they name, ``category: dns``
reads Zeek's dns.log and Suricata's DNS events, ``category: firewall`` Zeek's conn.log and
Suricata's flows, each through its field mapping; none reads another source's events."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.sigma.compiler import CompiledRule, FileError, load
from carewarden.sigma.detector import rebuild
from carewarden.sigma.engine import SigmaEngine
from carewarden.sigma.logsources import route_of
from carewarden.sigma.testing import compile_yaml
from carewarden.store import Store
from carewarden.telemetry.zeek import path_from_name

NETWORK = (
    Path(__file__).resolve().parents[3] / "shared" / "corpora" / "sigma" / "rules" / "network"
)
FOLDERS = ("zeek", "dns", "firewall")


def _corpus() -> dict[str, list[CompiledRule]]:
    if not NETWORK.exists():
        pytest.skip("shared SigmaHQ rules not present (../shared/corpora/sigma)")
    out: dict[str, list[CompiledRule]] = {}
    for folder in FOLDERS:
        loaded = list(load(NETWORK / folder))
        assert not [f for f in loaded if isinstance(f, FileError)]
        out[folder] = [r for r in loaded if isinstance(r, CompiledRule)]
    return out


def test_sigmahq_network_rules_compile_and_route() -> None:
    """Every SigmaHQ Zeek, DNS and firewall rule compiles and routes to its source, or says
    why not; at least 90 % compile (all 29 of the corpus do today)."""
    corpus = _corpus()
    rules = [r for folder in FOLDERS for r in corpus[folder]]
    assert len(rules) >= 29
    failed = [r for r in rules if not r.ok]
    assert all(r.error and r.error.strip() for r in failed)
    compiled = [r for r in rules if r.ok]
    assert len(compiled) >= 0.9 * len(rules), [(r.path, r.error) for r in failed]
    assert len(compiled) == 29, [(r.path, r.error) for r in failed]
    for rule in corpus["zeek"]:
        if rule.ok:
            service = rule.logsource.split("/")[2]
            assert rule.route == f"zeek:service:{service}", rule.path
            assert rule.condition and rule.columns
    assert {r.route for r in corpus["dns"] if r.ok} == {"network:category:dns"}
    assert {r.route for r in corpus["firewall"] if r.ok} == {"network:category:firewall"}
    # The rules run: an engine takes them all, with their routes' sources.
    engine = SigmaEngine(compiled)
    assert engine.rule_count == len(compiled)


def test_unknown_network_log_sources_state_a_reason() -> None:
    """A Zeek log or category nobody feeds, or another product, is refused with its reason."""
    head = "title: t\nid: 1b7f2c44-0b9e-4c43-9d6e-0c1a7c3e5a10\nstatus: test\n"
    detection = "detection: {s: {query: x}, condition: s}\n"
    cases = {
        "{product: zeek, service: no_such_log}": "no Zeek log known here",
        "{product: zeek, category: proxy}": "has no Zeek log",
        "{product: cisco, service: aaa}": "network rules (product zeek",
        "{category: proxy}": "only Windows and Linux rules",
    }
    for logsource, reason in cases.items():
        rule = compile_yaml(head + f"logsource: {logsource}\n" + detection)
        assert rule.error and reason in rule.error, (logsource, rule.error)
    assert route_of("zeek", "dns", None) == "zeek:category:dns"
    assert route_of("zeek", None, None) == "zeek:any"
    assert route_of(None, "firewall", None) == "network:category:firewall"


def test_zeek_file_names_with_compound_log_names() -> None:
    """A file without ``#path`` or ``_path`` is named after its log, underscores included."""
    assert path_from_name("smb_files.09:00:00-10:00:00.log.gz") == "smb_files"
    assert path_from_name("dce_rpc_20240301.log") == "dce_rpc"
    assert path_from_name("dns_20240301.log") == "dns"
    assert path_from_name("conn.log") == "conn"


HEAD = "title: {title}\nid: {id}\nstatus: test\nlevel: high\nauthor: test\n"
RULES: dict[str, str] = {
    # A Zeek dns rule (SigmaHQ zeek_dns_mining_pools): sinkholed answers are excluded.
    "a1000000-0000-4000-8000-000000000001": """
logsource: {product: zeek, service: dns}
detection:
    selection:
        query|endswith: ['supportxmr.com', 'minexmr.com']
    exclude_answers:
        answers: ['127.0.0.1', '0.0.0.0']
    condition: selection and not 1 of exclude_*
""",
    # category dns (SigmaHQ net_dns_susp_telegram_api): Zeek and Suricata, EVE v2 and v3.
    "a1000000-0000-4000-8000-000000000002": """
logsource: {category: dns}
detection:
    selection:
        query: 'api.telegram.org'
    condition: selection
""",
    # category dns (SigmaHQ net_dns_susp_txt_exec_strings): record type and answer mapped.
    "a1000000-0000-4000-8000-000000000003": """
logsource: {category: dns}
detection:
    selection:
        record_type: 'TXT'
        answer|contains: ['IEX', 'Invoke-Expression']
    condition: selection
""",
    # category firewall (SigmaHQ net_firewall_cleartext_protocols): accepted telnet/ftp.
    "a1000000-0000-4000-8000-000000000004": """
logsource: {category: firewall}
detection:
    selection:
        dst_port: [21, 23]
    selection_allow1:
        action: [forward, accept]
    selection_allow2:
        blocked: 'false'
    condition: selection and 1 of selection_allow*
""",
    # Zeek smb_files (SigmaHQ zeek_smb_converted_win_susp_psexec): PsExec-like pipes.
    "a1000000-0000-4000-8000-000000000005": """
logsource: {product: zeek, service: smb_files}
detection:
    selection:
        path|contains|all: ['\\\\', '\\IPC$']
        name|endswith: ['-stdin', '-stdout', '-stderr']
    filter:
        name|startswith: 'PSEXESVC'
    condition: selection and not filter
""",
    # Zeek http with Sigma's web-log names (c-useragent, cs-method) and a CIDR filter.
    "a1000000-0000-4000-8000-000000000006": """
logsource: {product: zeek, service: http}
detection:
    selection:
        c-useragent|contains: 'WebDAV'
        cs-method: 'PUT'
    filter:
        id.resp_h|cidr: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']
    condition: selection and not filter
""",
    # Zeek x509 (SigmaHQ zeek_default_cobalt_strike_certificate), nested JSON.
    "a1000000-0000-4000-8000-000000000007": """
logsource: {product: zeek, service: x509}
detection:
    selection:
        certificate.serial: 8BB00EE
    condition: selection
""",
    # Isolation: a Zeek dns rule sees neither Suricata, nor Windows, nor Zeek http events.
    "a1000000-0000-4000-8000-000000000008": """
logsource: {product: zeek, service: dns}
detection:
    selection:
        - query|contains: 'telegram'
        - host|contains: 'telegram'
    condition: selection
""",
    # Isolation: a Windows rule without category (keywords) and a Windows dns_query rule.
    "a1000000-0000-4000-8000-000000000009": """
logsource: {product: windows}
detection:
    keywords: ['api.telegram.org']
    condition: keywords
""",
    "a1000000-0000-4000-8000-00000000000a": """
logsource: {product: windows, category: dns_query}
detection:
    selection:
        QueryName|contains: 'telegram'
    condition: selection
""",
}

DNS_TSV = """\
#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tdns
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tqtype_name\tZ\tanswers\trejected
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tstring\tcount\tvector[string]\tbool
1772528400.1\tCd1\t10.20.0.5\t50001\t10.0.0.53\t53\tudp\tpool.supportxmr.com\tA\t0\t198.51.100.4\tF
1772528401.1\tCd2\t10.20.0.6\t50002\t10.0.0.53\t53\tudp\tpool.supportxmr.com\tA\t0\t0.0.0.0\tF
1772528402.1\tCd3\t10.20.0.7\t50003\t10.0.0.53\t53\tudp\tapi.telegram.org\tA\t0\t149.154.167.220\tF
1772528403.1\tCd4\t10.20.0.8\t50004\t10.0.0.53\t53\tudp\tehr.hospital.example\tA\t0\t10.0.8.8,10.0.8.9\tF
1772528404.1\tCd5\t10.20.0.9\t50005\t10.0.0.53\t53\tudp\t_dmarc.hospital.example\tTXT\t0\tv=DMARC1; p=reject\tF
"""  # noqa: E501
CONN_TSV = """\
#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tconn
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tconn_state
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tstring
1772528410.0\tCc1\t10.20.0.21\t40001\t10.0.5.5\t23\ttcp\t-\tSF
1772528411.0\tCc2\t10.20.0.22\t40002\t10.0.5.5\t23\ttcp\t-\tREJ
1772528412.0\tCc3\t10.20.0.23\t40003\t10.0.5.6\t443\ttcp\tssl\tSF
1772528413.0\tCc4\t10.20.0.24\t40004\t10.0.5.7\t21\ttcp\t-\tS0
"""
ZEEK_JSON = {
    # no _path: the file name says the log
    "smb_files.log": [
        {"ts": 1772528420.0, "uid": "Cs1", "id.orig_h": "10.20.0.31", "id.orig_p": 49800,
         "id.resp_h": "10.0.6.6", "id.resp_p": 445, "action": "SMB::FILE_OPEN",
         "path": "\\\\ehr-app01\\IPC$", "name": "paexec-4242-ws31-stdin"},
        {"ts": 1772528421.0, "uid": "Cs2", "id.orig_h": "10.20.0.32", "id.orig_p": 49801,
         "id.resp_h": "10.0.6.6", "id.resp_p": 445, "action": "SMB::FILE_OPEN",
         "path": "\\\\ehr-app01\\IPC$", "name": "PSEXESVC-WS32-1212-stdin"},
        {"ts": 1772528422.0, "uid": "Cs3", "id.orig_h": "10.20.0.33", "id.orig_p": 49802,
         "id.resp_h": "10.0.6.6", "id.resp_p": 445, "action": "SMB::FILE_OPEN",
         "path": "\\\\ehr-app01\\share", "name": "report-stdin"},
    ],
    "http.log": [
        {"ts": 1772528430.0, "uid": "Ch1", "id.orig_h": "10.20.0.41", "id.orig_p": 51000,
         "id.resp_h": "203.0.113.50", "id.resp_p": 80, "method": "PUT",
         "host": "files.example.net", "uri": "/dav/export.zip",
         "user_agent": "Microsoft-WebDAV-MiniRedir/10.0.19045"},
        {"ts": 1772528431.0, "uid": "Ch2", "id.orig_h": "10.20.0.42", "id.orig_p": 51001,
         "id.resp_h": "10.0.7.7", "id.resp_p": 80, "method": "PUT", "host": "intranet",
         "uri": "/dav/rota.xlsx", "user_agent": "Microsoft-WebDAV-MiniRedir/10.0.19045"},
        {"ts": 1772528432.0, "uid": "Ch3", "id.orig_h": "10.20.0.43", "id.orig_p": 51002,
         "id.resp_h": "149.154.167.220", "id.resp_p": 443, "method": "GET",
         "host": "api.telegram.org", "uri": "/bot/getUpdates", "user_agent": "curl/8.5"},
    ],
    # nested JSON (Zeek's JSON writer with nested records)
    "x509.log": [
        {"ts": 1772528440.0, "id": "Fx1", "certificate": {"version": 3, "serial": "8BB00EE",
                                                          "subject": "CN=Major Cobalt"}},
        {"ts": 1772528441.0, "id": "Fx2", "certificate": {"version": 3, "serial": "0A1B2C",
                                                          "subject": "CN=ehr.hospital.example"}},
    ],
}  # fmt: skip
EVE = [
    {"timestamp": "2026-03-03T09:01:00.000000+0000", "event_type": "dns", "src_ip": "10.30.0.7",
     "src_port": 53001, "dest_ip": "10.0.0.53", "dest_port": 53, "proto": "UDP",
     "dns": {"type": "query", "id": 1, "rrname": "api.telegram.org", "rrtype": "A"}},
    {"timestamp": "2026-03-03T09:01:01.000000+0000", "event_type": "dns", "src_ip": "10.30.0.8",
     "src_port": 53002, "dest_ip": "10.0.0.53", "dest_port": 53, "proto": "UDP",
     "dns": {"version": 3, "type": "request", "id": 2,
             "queries": [{"rrname": "api.telegram.org", "rrtype": "A"}]}},
    {"timestamp": "2026-03-03T09:01:02.000000+0000", "event_type": "dns", "src_ip": "10.30.0.10",
     "src_port": 53003, "dest_ip": "10.0.0.53", "dest_port": 53, "proto": "UDP",
     "dns": {"version": 3, "type": "response", "id": 3,
             "queries": [{"rrname": "c2.example.org", "rrtype": "TXT"}],
             "answers": [{"rrname": "c2.example.org", "rrtype": "TXT",
                          "rdata": "powershell -nop -c IEX(New-Object Net.WebClient)"}]}},
    {"timestamp": "2026-03-03T09:01:03.000000+0000", "event_type": "dns", "src_ip": "10.30.0.12",
     "src_port": 53004, "dest_ip": "10.0.0.53", "dest_port": 53, "proto": "UDP",
     "dns": {"version": 2, "type": "answer", "id": 4, "rrname": "_dmarc.hospital.example",
             "rrtype": "TXT", "answers": [{"rrname": "_dmarc.hospital.example",
                                           "rrtype": "TXT", "rdata": "v=DMARC1; p=reject"}]}},
    {"timestamp": "2026-03-03T09:01:04.000000+0000", "event_type": "flow", "src_ip": "10.30.0.11",
     "src_port": 40100, "dest_ip": "10.0.5.5", "dest_port": 23, "proto": "TCP",
     "flow": {"pkts_toserver": 12, "pkts_toclient": 10, "state": "closed"}},
    {"timestamp": "2026-03-03T09:01:05.000000+0000", "event_type": "flow", "src_ip": "10.30.0.13",
     "src_port": 40101, "dest_ip": "10.0.5.6", "dest_port": 443, "proto": "TCP",
     "flow": {"pkts_toserver": 12, "pkts_toclient": 10, "state": "closed"}},
    {"timestamp": "2026-03-03T09:01:06.000000+0000", "event_type": "flow", "src_ip": "10.30.0.14",
     "src_port": 40102, "dest_ip": "10.0.5.5", "dest_port": 23, "proto": "TCP",
     "flow": {"pkts_toserver": 3, "pkts_toclient": 0, "state": "new"}},
    {"timestamp": "2026-03-03T09:01:07.000000+0000", "event_type": "flow", "src_ip": "10.30.0.15",
     "src_port": 40103, "dest_ip": "10.0.5.5", "dest_port": 21, "proto": "TCP",
     "flow": {"pkts_toserver": 5, "pkts_toclient": 4, "state": "closed", "action": "drop"}},
]  # fmt: skip
SYSMON_DNS = {
    "EventTime": "2026-03-03 09:02:00", "Hostname": "WS7", "EventID": 22,
    "Channel": "Microsoft-Windows-Sysmon/Operational", "RecordNumber": 77,
    "QueryName": "api.telegram.org", "Image": "C:\\Tools\\bot.exe",
}  # fmt: skip

# rule -> the (source, alert host) of every event it must match; nothing else may match.
EXPECTED: dict[str, set[tuple[str, str | None]]] = {
    "a1000000-0000-4000-8000-000000000001": {("zeek/dns", "10.20.0.5")},
    "a1000000-0000-4000-8000-000000000002": {
        ("zeek/dns", "10.20.0.7"),
        ("suricata/dns", "10.30.0.7"),
        ("suricata/dns", "10.30.0.8"),
    },
    "a1000000-0000-4000-8000-000000000003": {("suricata/dns", "10.30.0.10")},
    "a1000000-0000-4000-8000-000000000004": {
        ("zeek/conn", "10.20.0.21"),
        ("suricata/flow", "10.30.0.11"),
    },
    "a1000000-0000-4000-8000-000000000005": {("zeek/smb_files", "10.20.0.31")},
    "a1000000-0000-4000-8000-000000000006": {("zeek/http", "10.20.0.41")},
    "a1000000-0000-4000-8000-000000000007": {("zeek/x509", None)},
    "a1000000-0000-4000-8000-000000000008": {("zeek/dns", "10.20.0.7")},
    "a1000000-0000-4000-8000-000000000009": {("Microsoft-Windows-Sysmon/Operational", "WS7")},
    "a1000000-0000-4000-8000-00000000000a": {("Microsoft-Windows-Sysmon/Operational", "WS7")},
}


def _write_inputs(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    rules = tmp_path / "rules"
    rules.mkdir()
    for number, (rule_id, body) in enumerate(RULES.items()):
        head = HEAD.format(title=f"network rule {number}", id=rule_id)
        (rules / f"rule_{number}.yml").write_text(head + body)
    zeek = tmp_path / "zeek"
    zeek.mkdir()
    (zeek / "dns.09:00:00-10:00:00.log").write_text(DNS_TSV)
    (zeek / "conn.09:00:00-10:00:00.log").write_text(CONN_TSV)
    for name, docs in ZEEK_JSON.items():
        (zeek / name).write_bytes(b"\n".join(orjson.dumps(d) for d in docs) + b"\n")
    eve = tmp_path / "eve.json"
    eve.write_bytes(b"\n".join(orjson.dumps(e) for e in EVE) + b"\n")
    windows = tmp_path / "sysmon.json"
    windows.write_bytes(orjson.dumps(SYSMON_DNS) + b"\n")
    return rules, zeek, eve, windows


def test_network_rules_fire_end_to_end(tmp_path: Path) -> None:
    """Zeek (TSV and JSON) and Suricata EVE ingested, rules imported, `detect` run: each
    rule alerts on exactly the events of its technique, named by the originator's address;
    benign traffic, sinkholed answers, refused or dropped connections raise nothing, and no
    rule reads another log source's events."""
    rules, zeek, eve, windows = _write_inputs(tmp_path)
    store = str(tmp_path / "store")
    runner = CliRunner()
    for command in (
        ["ingest", "zeek", str(zeek)],
        ["ingest", "suricata", str(eve)],
        ["ingest", "winjson", str(windows)],
        ["rules", "import", str(rules), "--source", "test"],
    ):
        result = runner.invoke(app, [*command, "--store", store])
        assert result.exit_code == 0, (command, result.output)
    assert f"{len(RULES)} compiled" in result.output, result.output
    detected = runner.invoke(app, ["detect", "--store", store])
    assert detected.exit_code in (0, 1), detected.output
    out = runner.invoke(app, ["alerts", "--format", "jsonl", "--store", store])
    alerts = [orjson.loads(line) for line in out.output.splitlines()]
    with Store.open(Path(store), read_only=True) as opened:
        source = {
            uid: (provider if channel in ("zeek", "suricata") else channel)
            for uid, provider, channel in opened.query(
                "SELECT event_uid, provider, channel FROM security_event"
            )
        }
    assert len(source) == 5 + 4 + 3 + 3 + 2 + len(EVE) + 1
    found: dict[str, set[tuple[str, str | None]]] = {}
    for alert in alerts:
        events = {(source[uid], alert["host"]) for uid in alert["event_ids"]}
        assert len(events) == len(alert["event_ids"]) == 1, alert
        found.setdefault(alert["rule_id"], set()).update(events)
    assert found == EXPECTED
    uids_by_rule = {a["rule_id"]: a["event_ids"] for a in alerts}
    assert "Sigma rule" in next(a["explanation"] for a in alerts)
    # Detecting again adds nothing, and the event ids are the stored rows'.
    again = runner.invoke(app, ["detect", "--store", store])
    assert again.exit_code in (0, 1)
    out = runner.invoke(app, ["alerts", "--format", "jsonl", "--store", store])
    assert len(out.output.splitlines()) == len(alerts)
    assert all(uid in source for uids in uids_by_rule.values() for uid in uids)


def test_rebuild_names_zeek_log_from_provider() -> None:
    """A stored Zeek JSON record without ``_path`` is routed by the row's provider, with
    nested records flattened, sets joined and the originator as host."""
    raw = orjson.dumps(
        {"ts": 1.0, "id": {"orig_h": "10.1.1.1", "resp_p": 53}, "answers": ["a", "b"],
         "rejected": False, "Z": 0}
    ).decode()  # fmt: skip
    event = rebuild(raw, "zeek", dt.datetime(2026, 3, 3), "sensor-1", "zeek/dns")
    assert event.fields["_path"] == "dns"
    assert event.fields["id.orig_h"] == "10.1.1.1" and event.fields["id.resp_p"] == "53"
    assert event.fields["answers"] == "a,b" and event.fields["rejected"] == "false"
    assert event.fields["Z"] == "0"
    assert event.host == "10.1.1.1" and event.channel == "zeek"
    unnamed = rebuild('{"ts": 1.0}', "zeek", dt.datetime(2026, 3, 3), "sensor-1", "zeek/x509")
    assert unnamed.host == "sensor-1" and unnamed.fields["_path"] == "x509"
