"""Syslog (RFC 3164, RFC 5424, CEF, octet-counted frames) lands in security_event with its
OCSF class; bad lines are quarantined with their line numbers."""

from __future__ import annotations

import datetime as dt
import gzip
import os
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.telemetry.syslog import (
    Clock,
    NotSyslog,
    SyslogConnector,
    cef,
    flat_fields,
    parse,
)

# /var/log/auth.log of a Debian host, written across New Year (Europe/Paris time).
AUTH_LOG = (
    "Dec 31 23:58:01 ehr-db01 sshd[2231]: Failed password for invalid user admin from "
    "203.0.113.50 port 52144 ssh2\n"
    "Dec 31 23:58:05 ehr-db01 sshd[2231]: Failed password for root from 203.0.113.50 port "
    "52150 ssh2\n"
    "Dec 31 23:59:59 ehr-db01 sshd[2240]: Invalid user oracle from 203.0.113.51 port 40022\n"
    "Jan  1 00:00:03 ehr-db01 sshd[2301]: Accepted publickey for alice from 10.1.2.3 port "
    "52144 ssh2: RSA SHA256:Zm9vYmFy\n"
    "Jan  1 00:00:03 ehr-db01 sshd[2301]: pam_unix(sshd:session): session opened for user "
    "alice(uid=1000) by (uid=0)\n"
    "Jan  1 00:01:10 ehr-db01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
    "COMMAND=/usr/bin/systemctl restart postgresql\n"
    "Jan  1 00:02:00 ehr-db01 sudo: pam_unix(sudo:auth): authentication failure; logname=bob "
    "uid=1001 euid=0 tty=/dev/pts/1 ruser=bob rhost=  user=bob\n"
    "Jan  1 00:02:09 ehr-db01 sudo:      bob : 3 incorrect password attempts ; TTY=pts/1 ; "
    "PWD=/home/bob ; USER=root ; COMMAND=/bin/bash\n"
    "this line is no syslog record\n"
    "Jan  1 00:03:00 ehr-db01 CRON[2400]: pam_unix(cron:session): session opened for user "
    "root(uid=0) by (uid=0)\n"
    "\n"
    "Jan 32 00:04:00 ehr-db01 kernel: a day that does not exist\n"
    "Jan  1 00:05:00 ehr-db01 su[2500]: FAILED SU (to root) bob on pts/1\n"
    "Jan  1 00:06:00 ehr-db01 login[2600]: FAILED LOGIN (1) on '/dev/tty1' FROM 10.9.9.9 FOR "
    "mallory, Authentication failure\n"
)
# Latin-1 bytes (é) in a message: stored with a replacement character, counted.
LATIN1_LINE = "Jan  1 00:07:00 ehr-db01 app[7]: Patient Ren\xe9 lookup\n".encode("latin-1")

RFC5424 = (
    '<165>1 2025-01-01T10:00:00.123456+01:00 pacs01.hospital.example dcm4chee 4711 AUDIT '
    '[origin@32473 ip="10.1.5.5" software="dcm\\"chee\\]"][meta sequenceId="7"] '
    "\ufeffStudy exported to USB\n"
    "<38>1 2025-01-01T09:30:00Z ehr-app01 sshd-session 900 - - Accepted password for carol "
    "from 10.1.2.9 port 60000 ssh2\n"
    "<13>1 2025-01-01T09:31:00Z host app - - [broken sd\n"
    "<13>1 - host app - - - no timestamp\n"
    "<999>1 2025-01-01T09:32:00Z host app - - - PRI too large\n"
)

CEF_LOG = (
    # a firewall, bare CEF with its own time (epoch ms), spaces and \= in a value
    "CEF:0|Palo Alto Networks|PAN-OS|10.1.0|TRAFFIC|end|3|rt=1735725600000 "
    "src=10.1.2.3 dst=203.0.113.9 spt=51000 dpt=443 proto=TCP act=deny "
    "cs1Label=Rule cs1=block outbound a\\=b dvchost=fw-core-01\n"
    # an IDS behind a BSD header: escaped pipe and backslash in the header and extension
    "<134>Jan  1 09:00:00 ids01 CEF:0|Security Onion|Snort IDS|2.9|1:2027865|ET TROJAN "
    "Evil \\| beacon|8|src=10.1.2.4 dst=198.51.100.7 dpt=80 "
    "fname=C:\\\\Temp\\\\x.exe msg=line one\\nline two\n"
    # an anti-virus detection behind an RFC 5424 header
    "<132>1 2025-01-01T09:05:00Z av01 - - - - CEF:0|Acme|EndPoint Protection|4.2|1007|"
    "Virus found|9|suser=HOSP\\\\dave fname=invoice.pdf.exe act=quarantined cat=Malware\n"
    # neither alert nor firewall: a base event
    "CEF:0|Acme|Badge Reader|1.0|42|Door opened|1|end=1735722000000 suser=erin\n"
    "CEF:0|Acme|Short header|1.0\n"
)

FRAMED = (
    b"66 <34>1 2025-01-01T08:00:00Z h1 app - - - first frame, then a second"
    b"43 <34>1 2025-01-01T08:00:01Z h1 app - - - two\n"
    b"60 <34>1 2025-01-01T08:00:02Z h1 app - - - spans\nthree lines\nok\n"
    b"90 <34>1 2025-01-01T08:00:03Z h1 app - - - cut short\n"
)

NEW_YEAR = dt.datetime(2025, 1, 2, 12, 0, tzinfo=dt.UTC).timestamp()


def _write(path: Path, data: bytes | str, mtime: float = NEW_YEAR) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    os.utime(path, (mtime, mtime))
    return path


def _rows(store: Store, where: str = "TRUE") -> list[dict[str, object]]:
    table = store.arrow(f"SELECT * FROM security_event WHERE {where} ORDER BY time, raw")
    return table.to_pylist()


def test_auth_log_across_new_year(store: Store, tmp_path: Path) -> None:
    """December lines land in the old year, January ones in the new, in the site zone;
    sshd, sudo, PAM, su and login become authentication with user, address and status."""
    path = _write(tmp_path / "auth.log", AUTH_LOG.encode() + LATIN1_LINE)
    connector = SyslogConnector(timezone="Europe/Paris")
    summary = ingest(store, connector, [path])
    rejects = {r.line: r.error for f in summary.files for r in f.first_rejects}
    assert set(rejects) == {9, 12}
    assert "no RFC 3164 timestamp" in rejects[9] and "no such day" in rejects[12]
    assert summary.total("records") == 12
    assert summary.notes["lines with invalid UTF-8 stored with the bad bytes replaced"] == 1
    rows = _rows(store)
    first, last = rows[0], rows[-1]
    assert first["time"] == dt.datetime(2024, 12, 31, 22, 58, 1)  # 23:58:01 CET
    assert last["time"] == dt.datetime(2024, 12, 31, 23, 7, 0)  # 00:07 on 1 January, CET
    auth = [
        (r["status"], r["user_name"], r["src_ip"], r["src_port"], r["logon_type"])
        for r in rows
        if r["class_uid"] == 3002
    ]
    assert auth == [
        ("failure", "admin", "203.0.113.50", "52144", "password"),
        ("failure", "root", "203.0.113.50", "52150", "password"),
        ("failure", "oracle", "203.0.113.51", "40022", "invalid user"),
        ("success", "alice", "10.1.2.3", "52144", "publickey"),
        ("success", "alice", None, None, "sshd"),
        ("success", "alice", None, None, "sudo to root"),
        ("failure", "bob", None, None, "sudo"),
        ("failure", "bob", None, None, "sudo to root"),
        ("failure", "bob", None, None, "su"),
        ("failure", "mallory", "10.9.9.9", None, "login"),
    ]
    sudo = next(r for r in rows if r["logon_type"] == "sudo to root")
    assert sudo["process_cmd_line"] == "/usr/bin/systemctl restart postgresql"
    assert sudo["process_name"] == "/usr/bin/systemctl" and sudo["host"] == "ehr-db01"
    cron = next(r for r in rows if r["provider"] == "CRON")
    assert (cron["class_uid"], cron["class_name"], cron["process_pid"]) == (0, "base_event", "2400")
    latin = orjson.loads(str(rows[-1]["raw"]))
    assert latin["msg"] == "Patient Ren\ufffd lookup" and latin["app"] == "app"
    assert latin["line"].startswith("Jan  1 00:07:00 ehr-db01")
    assert {r["channel"] for r in rows} == {"syslog"}


def test_rfc5424_structured_data_and_bom(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path / "app.log", RFC5424)
    summary = ingest(store, SyslogConnector(), [path])
    rejects = {r.line: r.error for f in summary.files for r in f.first_rejects}
    assert set(rejects) == {3, 4, 5}
    assert "structured data" in rejects[3] and "without a timestamp" in rejects[4]
    assert "PRI 999" in rejects[5]
    rows = {r["provider"]: r for r in _rows(store)}
    pacs = rows["dcm4chee"]
    assert pacs["time"] == dt.datetime(2025, 1, 1, 9, 0, 0, 123456)
    assert (pacs["host"], pacs["process_pid"], pacs["class_uid"]) == (
        "pacs01.hospital.example", "4711", 0
    )  # fmt: skip
    raw = orjson.loads(str(pacs["raw"]))
    assert raw["sd"] == {
        "origin@32473": {"ip": "10.1.5.5", "software": 'dcm"chee]'},
        "meta": {"sequenceId": "7"},
    }
    assert raw["msg"] == "Study exported to USB"  # the BOM is dropped
    assert (raw["facility"], raw["severity"], raw["msgid"]) == ("local4", "notice", "AUDIT")
    ssh = rows["sshd-session"]  # OpenSSH 9.8+ names its per-connection process so
    assert (ssh["class_uid"], ssh["user_name"], ssh["src_ip"], ssh["status"]) == (
        3002, "carol", "10.1.2.9", "success"
    )  # fmt: skip


def test_cef_firewall_ids_and_antivirus(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path / "security.cef", CEF_LOG)
    summary = ingest(store, SyslogConnector(timezone="UTC"), [path])
    rejects = {r.line: r.error for f in summary.files for r in f.first_rejects}
    assert list(rejects) == [5] and "CEF header has 4 of its 8 fields" in rejects[5]
    rows = {r["provider"]: r for r in _rows(store)}
    assert {r["channel"] for r in rows.values()} == {"cef"}
    fw = rows["cef/Palo Alto Networks/PAN-OS"]
    assert (fw["class_uid"], fw["class_name"]) == (4001, "network_activity")
    assert (fw["src_ip"], fw["src_port"], fw["dst_ip"], fw["dst_port"], fw["status"]) == (
        "10.1.2.3", "51000", "203.0.113.9", "443", "deny"
    )  # fmt: skip
    assert fw["time"] == dt.datetime(2025, 1, 1, 10, 0) and fw["host"] == "fw-core-01"
    assert orjson.loads(str(fw["raw"]))["cef"]["extension"]["cs1"] == "block outbound a=b"
    ids = rows["cef/Security Onion/Snort IDS"]
    assert (ids["class_uid"], ids["threat_name"], ids["host"]) == (
        2004, "ET TROJAN Evil | beacon", "ids01"
    )  # fmt: skip
    assert ids["file_path"] == "C:\\Temp\\x.exe" and ids["dst_port"] == "80"
    assert orjson.loads(str(ids["raw"]))["cef"]["extension"]["msg"] == "line one\nline two"
    av = rows["cef/Acme/EndPoint Protection"]
    assert (av["class_uid"], av["threat_name"], av["user_name"], av["event_id"]) == (
        2004, "Virus found", "HOSP\\dave", 1007
    )  # fmt: skip
    assert av["time"] == dt.datetime(2025, 1, 1, 9, 5)
    badge = rows["cef/Acme/Badge Reader"]
    assert (badge["class_uid"], badge["user_name"]) == (0, "erin")


def test_octet_counted_frames(store: Store, tmp_path: Path) -> None:
    """Two frames on a line, one across lines; a frame cut short is quarantined."""
    path = _write(tmp_path / "relay.log", FRAMED)
    summary = ingest(store, SyslogConnector(), [path])
    rejects = {r.line: r.error for f in summary.files for r in f.first_rejects}
    assert list(rejects) == [5] and "frame of 90 bytes ends after" in rejects[5]
    messages = [orjson.loads(str(r["raw"]))["msg"] for r in _rows(store)]
    assert messages == ["first frame, then a second", "two", "spans\nthree lines\nok"]


def test_gzip_and_reingest_add_nothing(store: Store, tmp_path: Path) -> None:
    """The same lines again (a gzipped copy) are duplicates; the same file is skipped."""
    plain = _write(tmp_path / "auth.log", AUTH_LOG)
    first = ingest(store, SyslogConnector(), [plain])
    again = ingest(store, SyslogConnector(), [plain])
    assert again.files[0].status == "already ingested"
    packed = tmp_path / "rotated" / "auth.log.2.gz"
    packed.parent.mkdir()
    _write(packed, gzip.compress(AUTH_LOG.encode()))
    second = ingest(store, SyslogConnector(), [packed.parent])
    assert [f.path.name for f in second.files] == ["auth.log.2.gz"]
    assert second.total("records") == 0
    assert second.total("duplicates") == first.total("records") == 11
    assert store.query("SELECT count(*) FROM security_event")[0][0] == 11


def test_same_line_a_year_later_is_another_event(store: Store, tmp_path: Path) -> None:
    line = "Mar  1 09:00:00 h sshd[1]: Accepted password for a from 10.0.0.1 port 1 ssh2\n"
    old = _write(tmp_path / "a.log", line, dt.datetime(2024, 6, 1, tzinfo=dt.UTC).timestamp())
    new = _write(tmp_path / "b.log", line + "\n", NEW_YEAR + 100 * 86400)
    ingest(store, SyslogConnector(), [old, new])
    times = [r[0] for r in store.query("SELECT time FROM security_event ORDER BY time")]
    assert times == [dt.datetime(2024, 3, 1, 9), dt.datetime(2025, 3, 1, 9)]


def test_folder_discovery_picks_log_files(tmp_path: Path) -> None:
    for name in ("auth.log", "auth.log.1", "messages", "secure-20240301.gz", "syslog.2.gz",
                 "notes.md", "core.dump"):  # fmt: skip
        (tmp_path / name).write_text("x")
    found = [p.name for p in SyslogConnector().discover(tmp_path)]
    assert found == ["auth.log", "auth.log.1", "messages", "secure-20240301.gz", "syslog.2.gz"]


@pytest.mark.parametrize(
    ("fmt", "line", "error"),
    [
        ("5424", "Jan  1 00:00:00 h app: x", "no <PRI>"),
        ("5424", "<13>Jan  1 00:00:00 h app: x", "no version"),
        ("3164", "CEF:0|a|b|c|d|e|f|", "bare CEF"),
        ("cef", "<13>Jan  1 00:00:00 h app: x", "not a CEF record"),
    ],
)
def test_forced_format_refuses_other_lines(fmt: str, line: str, error: str) -> None:
    clock = Clock(SyslogConnector().zone, dt.datetime(2025, 1, 2))
    with pytest.raises(NotSyslog, match=error):
        parse(line, clock, fmt)  # type: ignore[arg-type]


def test_forced_format_reads_its_own() -> None:
    clock = Clock(SyslogConnector().zone, dt.datetime(2025, 1, 2))
    assert parse("<13>1 2025-01-01T00:00:00Z h a - - - m", clock, "5424").format == "5424"
    assert parse("Jan  1 00:00:00 h a: m", clock, "3164").time == dt.datetime(2025, 1, 1)
    assert parse("<13>Jan  1 00:00:00 h CEF:0|a|b|c|d|e|5|", clock, "cef").format == "3164+cef"
    hostless = parse("<13>Jan  1 00:00:00 CEF:0|Ven dor|b|c|d|e|5|", clock, "cef").doc
    assert "host" not in hostless and hostless["cef"]["vendor"] == "Ven dor"
    # rsyslog's high-precision file format: an ISO time in place of the BSD one
    iso = parse("2025-01-01T01:00:00.5+01:00 h a[3]: m", clock, "3164")
    assert iso.time == dt.datetime(2025, 1, 1, 0, 0, 0, 500000) and iso.doc["pid"] == "3"


def test_cef_escapes() -> None:
    parsed = cef("CEF:0|V\\|x|P\\\\y|1|sig|Name|5|a=b c d=e\\=f g\\\\h k=")
    assert (parsed["vendor"], parsed["product"]) == ("V|x", "P\\y")
    assert parsed["extension"] == {"a": "b c", "d": "e=f g\\h", "k": ""}


def test_cli_ingest_syslog_uses_format_and_zone(tmp_path: Path) -> None:
    runner = CliRunner()
    store = str(tmp_path / "store")
    path = _write(tmp_path / "auth.log", AUTH_LOG)
    result = runner.invoke(
        app, ["ingest", "syslog", str(path), "--tz", "Europe/Paris", "--store", store]
    )
    assert result.exit_code == 1, result.output  # two lines quarantined
    assert "auth.log:9" in result.output and "11 records stored" in result.output
    bad = runner.invoke(app, ["ingest", "syslog", str(path), "--format", "bsd"])
    assert bad.exit_code == 2 and "--format" in bad.output
    zone = runner.invoke(app, ["ingest", "syslog", str(path), "--tz", "Mars/Olympus"])
    assert zone.exit_code == 2 and "unknown time zone" in zone.output
    only5424 = _write(tmp_path / "app.log", RFC5424)
    result = runner.invoke(
        app, ["ingest", "syslog", str(only5424), "--format", "5424", "--store", store]
    )
    assert "2 records stored" in result.output, result.output
    with Store.open(Path(store)) as opened:
        first = opened.query("SELECT min(time) FROM security_event WHERE channel = 'syslog'")
    assert first[0][0] == dt.datetime(2024, 12, 31, 22, 58, 1)


AUDIT_LOG = (
    "type=USER_AUTH msg=audit(1735722000.250:900): pid=3100 uid=0 auid=4294967295 ses=4294967295"
    " msg='op=PAM:authentication grantors=? acct=\"bob\" exe=\"/usr/sbin/sshd\" "
    "hostname=203.0.113.50 addr=203.0.113.50 terminal=ssh res=failed'\n"
    "type=USER_LOGIN msg=audit(1735722001.000:901): pid=3101 uid=0 auid=1000 ses=7 "
    "msg='op=login id=1000 exe=\"/usr/sbin/sshd\" hostname=? addr=10.1.2.3 terminal=/dev/pts/0 "
    "res=success'\n"
    'type=EXECVE msg=audit(1735722002.000:902): argc=2 a0="cat" a1="/etc/shadow"\n'
    "type=SYSCALL msg=audit(garbage): x=1\n"
)


def test_auditd_records(store: Store, tmp_path: Path) -> None:
    """audit.log lines: epoch times, USER_AUTH/USER_LOGIN as authentication, every record's
    key=value fields (also inside msg='…') for Sigma."""
    path = _write(tmp_path / "audit.log", AUDIT_LOG)
    summary = ingest(store, SyslogConnector(), [path])
    assert [r.line for f in summary.files for r in f.first_rejects] == [4]
    rows = _rows(store)
    assert [(r["class_uid"], r["status"], r["user_name"], r["src_ip"]) for r in rows] == [
        (3002, "failure", "bob", "203.0.113.50"),
        (3002, "success", "1000", "10.1.2.3"),
        (0, None, None, None),
    ]
    assert rows[0]["time"] == dt.datetime(2025, 1, 1, 9, 0, 0, 250000)
    assert rows[0]["logon_type"] == "PAM:authentication" and rows[0]["provider"] == "auditd"
    fields = flat_fields(orjson.loads(str(rows[2]["raw"])))
    assert (fields["type"], fields["a0"], fields["a1"], fields["argc"]) == (
        "EXECVE", "cat", "/etc/shadow", "2"
    )  # fmt: skip
    assert flat_fields(orjson.loads(str(rows[0]["raw"])))["exe"] == "/usr/sbin/sshd"
