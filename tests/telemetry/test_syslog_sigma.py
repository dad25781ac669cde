"""SigmaHQ Linux rules fire on syslog lines and osquery rows: routed by service (the syslog
program) or category (osquery's evented tables), never onto Windows rules or other programs."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.sigma.testing import compile_yaml, fired
from carewarden.telemetry import osquery
from carewarden.telemetry.syslog import Clock, SyslogConnector, flat_fields, parse, to_row
from carewarden.telemetry.winevent import WinEvent

LINUX = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "sigma" / "rules" / "linux"
RULES = {
    "e76b413a-83d0-4b94-8e4c-85db4a5b8bdc": "builtin/sshd/lnx_sshd_susp_ssh.yml",
    "c8e35e96-19ce-4f16-aeb6-fd5588dc5365": "builtin/syslog/lnx_syslog_susp_named.yml",
    "0ac15ec3-d24f-4246-aa2a-3077bb1cf90e": "builtin/lnx_privileged_user_creation.yml",
    "af202fd3-7bff-4212-a25a-fb34606cfcbe": "builtin/cron/lnx_cron_crontab_file_modification.yml",
    "e2072cab-8c9a-459b-b63c-40ae79e27031": "process_creation/proc_creation_lnx_base64_decode.yml",
    "ddb26b76-4447-4807-871f-1b035b2bfa5d": (
        "file_event/file_event_lnx_persistence_sudoers_files.yml"
    ),
    "9a0d8ca0-2385-4020-b6c6-cb6153ca56f3": "auditd/execve/lnx_auditd_user_discovery.yml",
    "f4d3748a-65d1-4806-bd23-e25728081d01": "auditd/execve/lnx_auditd_network_sniffing.yml",
}
# /var/log/audit/audit.log with node names (the SYSCALL record in the enriched format, \x1d
# before the interpreted fields)
AUDIT = (
    'node=ehr-db01 type=EXECVE msg=audit(1772524900.120:4242): argc=1 a0="whoami"\n'
    'node=ehr-db01 type=EXECVE msg=audit(1772524901.000:4243): argc=5 a0="tcpdump" a1="-c" '
    'a2="100" a3="-i" a4="eth0"\n'
    "node=ehr-db01 type=SYSCALL msg=audit(1772524902.5:4244): arch=c000003e syscall=59 "
    'success=yes exit=0 ppid=1 pid=2 auid=1000 uid=0 comm="ls" exe="/usr/bin/ls" '
    'key=(null)\x1dARCH=x86_64 SYSCALL=execve AUID="alice" UID="root"\n'
)
SYSLOG = """\
Mar  3 08:00:01 ehr-db01 sshd[811]: Corrupted MAC on input. [preauth]
Mar  3 08:00:02 ehr-db01 named[420]: client @0x7f 203.0.113.7#5353 (hospital.example): \
zone transfer 'hospital.example/AXFR/IN' denied AXFR from 203.0.113.7
Mar  3 08:00:03 ehr-db01 useradd[1337]: new user: name=svc2, UID=0, GID=0, home=/root, \
shell=/bin/bash
Mar  3 08:00:04 ehr-db01 crontab[2001]: (root) REPLACE (root)
Mar  3 08:00:05 ehr-db01 kernel: Corrupted MAC on input (another program: not sshd)
Mar  3 08:00:06 ehr-db01 useradd[1338]: new user: name=nurse7, UID=1007, GID=1007
"""
OSQUERY = [
    {"name": "pack_ir_process_events", "hostIdentifier": "ehr-db01", "unixTime": 1772524800,
     "action": "added", "columns": {"path": "/usr/bin/base64", "cmdline": "base64 -d /tmp/p",
                                    "pid": "5001", "parent": "5000", "time": "1772524810"}},
    {"name": "pack_ir_process_events", "hostIdentifier": "ehr-db01", "unixTime": 1772524800,
     "action": "added", "columns": {"path": "/usr/bin/ls", "cmdline": "ls -d /tmp",
                                    "pid": "5002", "time": "1772524811"}},
    {"name": "pack_fim_file_events", "hostIdentifier": "ehr-db01", "unixTime": 1772524800,
     "action": "added", "columns": {"target_path": "/etc/sudoers.d/90-backdoor",
                                    "action": "CREATED", "time": "1772524812"}},
]  # fmt: skip


def _rules(tmp_path: Path) -> Path:
    if not LINUX.exists():
        pytest.skip("shared SigmaHQ rules not present (../shared/corpora/sigma)")
    folder = tmp_path / "rules"
    folder.mkdir()
    for relative in RULES.values():
        shutil.copy(LINUX / relative, folder / Path(relative).name)
    return folder


def test_linux_rules_fire_on_syslog_and_osquery(tmp_path: Path) -> None:
    rules = _rules(tmp_path)
    store = str(tmp_path / "store")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "syslog").write_text(SYSLOG)
    stamp = dt.datetime(2026, 3, 4, tzinfo=dt.UTC).timestamp()
    os.utime(logs / "syslog", (stamp, stamp))
    (logs / "osqueryd.results.log").write_bytes(b"\n".join(orjson.dumps(d) for d in OSQUERY))
    (logs / "audit.log").write_text(AUDIT)
    runner = CliRunner()
    for command in (
        ["ingest", "syslog", str(logs / "syslog"), str(logs / "audit.log")],
        ["ingest", "osquery", str(logs / "osqueryd.results.log")],
        ["rules", "import", str(rules), "--source", "SigmaHQ"],
    ):
        result = runner.invoke(app, [*command, "--store", store])
        assert result.exit_code == 0, result.output
    assert f"{len(RULES)} compiled" in result.output, result.output
    assert runner.invoke(app, ["detect", "--store", store]).exit_code in (0, 1)
    out = runner.invoke(app, ["alerts", "--format", "jsonl", "--store", store])
    alerts = [orjson.loads(line) for line in out.output.splitlines()]
    fired_ids = {a["rule_id"]: a for a in alerts}
    assert set(fired_ids) == set(RULES)
    # one event each: the kernel line (not sshd) and the ordinary user are not matched
    assert all(len(a["event_ids"]) == 1 for a in alerts), alerts
    assert {a["host"] for a in alerts} == {"ehr-db01"}


LINUX_HEAD = """
title: t
id: 11111111-2222-3333-4444-555555555555
status: test
level: high
"""


def _events(*lines: str) -> list[WinEvent]:
    clock = Clock(SyslogConnector().zone, dt.datetime(2026, 3, 4))
    out = []
    for line in lines:
        row = to_row(parse(line, clock), line)
        doc = orjson.loads(str(row["raw"]))
        out.append(WinEvent(flat_fields(doc), clock.latest, "h", "syslog", None, None))
    return out


def test_linux_routing_by_service_and_facility() -> None:
    events = _events(
        "<38>Mar  3 08:00:00 h sshd[1]: Failed password for root from 10.0.0.1 port 2 ssh2",
        "<86>Mar  3 08:00:00 h sudo: pam_unix(sudo:auth): authentication failure; rhost=",
        "<14>Mar  3 08:00:00 h app[3]: authentication failure in app",
    )
    auth = compile_yaml(
        LINUX_HEAD + "logsource: {product: linux, service: auth}\n"
        "detection:\n  k: ['authentication failure', 'Failed password']\n  condition: k\n"
    )
    assert fired(auth, events) == ({0, 1}, {0, 1})  # auth and authpriv facilities only
    sshd = compile_yaml(
        LINUX_HEAD + "logsource: {product: linux, service: sshd}\n"
        "detection:\n  s:\n    msg|startswith: 'Failed password'\n  condition: s\n"
    )
    assert fired(sshd, events) == ({0}, {0})
    anything = compile_yaml(
        LINUX_HEAD + "logsource: {product: linux}\n"
        "detection:\n  k: ['authentication failure']\n  condition: k\n"
    )
    assert fired(anything, events) == ({1, 2}, {1, 2})
    windows = compile_yaml(
        LINUX_HEAD + "logsource: {product: windows}\n"
        "detection:\n  k: ['authentication failure']\n  condition: k\n"
    )
    assert fired(windows, events) == (set(), set())


def test_network_connection_reads_osquery_socket_events() -> None:
    """Sigma's DestinationIp/DestinationPort/Image are osquery's remote_address, remote_port
    and path; the same columns in another table (process_open_sockets) are not routed."""
    def sock(name: str, port: str) -> WinEvent:
        doc = {"name": name, "action": "added",
               "columns": {"path": "/usr/bin/nc", "remote_address": "203.0.113.9",
                           "remote_port": port, "action": "connect"}}  # fmt: skip
        fields = osquery.flat_fields(doc)
        return WinEvent(fields, dt.datetime(2026, 3, 3), "h", "osquery", None, None)

    events = [
        sock("pack_ir_socket_events", "4444"),
        sock("pack_ir_socket_events", "443"),
        sock("pack_ir_process_open_sockets", "4444"),
    ]
    rule = compile_yaml(
        LINUX_HEAD + "logsource: {product: linux, category: network_connection}\n"
        "detection:\n  s:\n    Image|endswith: '/nc'\n    DestinationPort: 4444\n"
        "  condition: s\n"
    )
    assert rule.ok, rule.error
    assert fired(rule, events) == ({0}, {0})
