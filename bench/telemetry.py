"""Telemetry ingest throughput: records per second, parse alone and into a store.

    python bench/telemetry.py [--records 500000] [--repeat 3] [--workdir DIR]
        [--only suricata,suricata-full,suricata-sensor,zeek,zeek-json] [--no-per-line]
        [--random-addresses] [--files N]

Writes a syslog file (a mix of sshd successes and failures, sudo, cron, kernel lines in
RFC 3164 without PRI, RFC 5424 with structured data, CEF firewall and IDS records) and an
osquery result log (differential events, batched differentials and snapshots of process,
socket, file and user tables), three Suricata EVE files (``suricata``: flow, dns, http,
tls and alert events, compact, about 275 bytes a record; ``suricata-full``: the same as
Suricata 7 writes them by default, about 670 bytes; ``suricata-sensor``: every kind of
record a sensor writes, in a sensor's proportions, see :func:`eve_sensor_lines`) and a
Zeek ``conn.log`` in TSV and in JSON, of
``--records`` records each (the network ones between a hospital's hosts, see
:class:`Addresses`), then times, per
connector, the connector alone (lines to Arrow batches of ``security_event``) and a full
ingest into a fresh store (parse, de-duplication by event id, DuckDB write). Figures are
medians over ``--repeat`` runs, per wall-clock second and per CPU-second of the process (DuckDB's
threads count in the latter; on a shared machine the wall figure understates).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from carewarden.connectors.base import Connector
from carewarden.model import Batch
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.telemetry import network
from carewarden.telemetry.osquery import OsqueryConnector
from carewarden.telemetry.suricata import SuricataConnector
from carewarden.telemetry.syslog import SyslogConnector
from carewarden.telemetry.zeek import ZeekConnector

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def syslog_lines(count: int, rng: random.Random) -> list[str]:
    start = dt.datetime(2025, 3, 1)
    out: list[str] = []
    for n in range(count):
        when = start + dt.timedelta(seconds=n // 20, microseconds=n % 20)
        bsd = f"{MONTHS[when.month - 1]} {when.day:2d} {when:%H:%M:%S}"
        host = f"ehr-app{rng.randrange(40):02d}"
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        kind = n % 8
        if kind == 0:
            out.append(f"{bsd} {host} sshd[{n % 30000}]: Accepted publickey for u{n % 900} from "
                       f"{ip} port {1024 + n % 60000} ssh2: RSA SHA256:{n:x}")  # fmt: skip
        elif kind == 1:
            out.append(f"{bsd} {host} sshd[{n % 30000}]: Failed password for invalid user "
                       f"admin{n % 50} from {ip} port {1024 + n % 60000} ssh2")  # fmt: skip
        elif kind == 2:
            out.append(f"{bsd} {host} sudo:    u{n % 900} : TTY=pts/{n % 9} ; PWD=/home/u ; "
                       f"USER=root ; COMMAND=/usr/bin/systemctl restart svc{n % 20}")  # fmt: skip
        elif kind == 3:
            out.append(f"{bsd} {host} CRON[{n % 30000}]: (root) CMD (/usr/lib/backup.sh {n})")
        elif kind == 4:
            out.append(f"{bsd} {host} kernel: [{n}.{n % 1000:03d}] eth0: link up {n}")
        elif kind == 5:
            out.append(f"<165>1 {when.isoformat()}Z {host} dcm4chee {n % 9000} AUDIT "
                       f'[origin@32473 ip="{ip}" seq="{n}"] Study {n} retrieved')  # fmt: skip
        elif kind == 6:
            stamp = int(when.replace(tzinfo=dt.UTC).timestamp() * 1000)
            out.append(f"CEF:0|Palo Alto Networks|PAN-OS|10.1|TRAFFIC|end|3|rt={stamp} src={ip} "
                       f"dst=203.0.113.{n % 250} spt={1024 + n % 60000} dpt=443 proto=TCP "
                       f"act={'deny' if n % 3 else 'allow'} cs1Label=Rule cs1=out {n}")  # fmt: skip
        else:
            out.append(f"<134>{bsd} ids01 CEF:0|Security Onion|Snort IDS|2.9|1:{2000000 + n % 999}"
                       f"|ET TROJAN beacon {n % 99}|8|src={ip} dst=198.51.100.7 dpt=80 "
                       f"msg=seen \\= {n}")  # fmt: skip
    return out


def osquery_lines(count: int, rng: random.Random) -> list[bytes]:
    out: list[bytes] = []
    produced = 0
    n = 0
    while produced < count:
        envelope = {"hostIdentifier": f"ehr-app{rng.randrange(40):02d}", "unixTime": 1740787200 + n,
                    "calendarTime": "Sat Mar  1 00:00:00 2025 UTC", "epoch": 0, "counter": n,
                    "numerics": False, "decorations": {"host_uuid": f"uuid-{n % 40}"}}  # fmt: skip
        process = {"pid": str(n), "path": f"/usr/bin/tool{n % 50}", "parent": str(n % 900),
                   "cmdline": f"tool{n % 50} --run {n}", "uid": str(n % 1000),
                   "cwd": "/tmp", "time": str(1740787200 + n)}  # fmt: skip
        kind = n % 4
        if kind in (0, 1):
            doc: dict[str, object] = {**envelope, "name": "pack_ir_process_events",
                                      "action": "added", "columns": process}  # fmt: skip
            produced += 1
        elif kind == 2:
            ports = [{"pid": str(n + i), "port": str(1024 + i), "protocol": "6",
                      "address": "0.0.0.0"} for i in range(4)]  # fmt: skip
            doc = {**envelope, "name": "pack_hospital_listening_ports",
                   "diffResults": {"added": ports[:3], "removed": ports[3:]}}  # fmt: skip
            produced += 4
        else:
            users = [{"type": "user", "user": f"u{(n + i) % 900}", "tty": f"pts/{i}",
                      "host": f"10.0.{i}.{n % 250}", "time": str(1740787000 + i), "pid": str(i)}
                     for i in range(8)]  # fmt: skip
            doc = {**envelope, "name": "logged_in_users", "action": "snapshot",
                   "snapshot": users}  # fmt: skip
            produced += 8
        out.append(orjson.dumps(doc))
        n += 1
    return out


T0 = 1_740_787_200.0  # 2025-03-01 00:00 UTC


def _random_ip(rng: random.Random, inside: bool) -> str:
    if inside:
        return f"10.{rng.randrange(20, 90)}.{rng.randrange(1, 12)}.{rng.randrange(10, 250)}"
    first, last = rng.randrange(1, 223), rng.randrange(1, 255)
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{last}"


class Addresses:
    """The hosts of the generated traffic.

    By default a hospital's: 2,000 internal hosts and 30,000 outside ones, each side drawn
    by popularity (the k-th most common about 1/k as often as the first), as servers, DNS
    resolvers and cloud services dominate real flows. ``random`` draws every address at
    random instead: nearly every one is new, the worst case for the store's compression of
    the address columns (a tenth slower for full-size EVE)."""

    def __init__(self, rng: random.Random, random_addresses: bool = False) -> None:
        self.rng = rng
        self.pools: tuple[list[str], list[str]] | None = None
        if not random_addresses:
            inside = list(dict.fromkeys(_random_ip(rng, True) for _ in range(2_100)))[:2_000]
            outside = list(dict.fromkeys(_random_ip(rng, False) for _ in range(30_500)))
            self.pools = inside, outside[:30_000]

    def pick(self, inside: bool) -> str:
        if self.pools is None:
            return _random_ip(self.rng, inside)
        pool = self.pools[0] if inside else self.pools[1]
        return pool[int(len(pool) ** self.rng.random()) - 1]  # rank k: about 1/k as often


def eve_lines(count: int, rng: random.Random, hosts: Addresses) -> list[bytes]:
    out: list[bytes] = []
    for n in range(count):
        second = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + n / 50))
        ts = f"{second}.{n % 1000000:06d}+0000"
        base = {
            "timestamp": ts, "flow_id": n, "in_iface": "eth1", "src_ip": hosts.pick(True),
            "src_port": 1024 + n % 60000, "dest_ip": hosts.pick(n % 3 == 0),
            "dest_port": (443, 53, 80, 104, 2575)[n % 5], "proto": "TCP",
        }  # fmt: skip
        kind = n % 10
        if kind < 5:
            base |= {"event_type": "flow", "flow": {"pkts_toserver": 9, "bytes_toserver": 812,
                                                    "state": "closed", "reason": "timeout"}}
        elif kind < 7:
            base |= {"event_type": "dns", "dns": {"type": "query", "rrname": f"h{n % 5000}.example",
                                                  "rrtype": "A"}}
        elif kind == 7:
            base |= {"event_type": "http", "http": {"hostname": f"s{n % 300}.example", "url": "/",
                                                    "status": 200, "http_user_agent": "x"}}
        elif kind == 8:
            base |= {"event_type": "tls",
                     "tls": {"sni": f"s{n % 300}.example", "version": "TLS 1.3"}}
        else:
            base |= {"event_type": "alert", "alert": {"action": "allowed", "signature_id": 2000000
                     + n % 50, "signature": f"ET POLICY test {n % 50}", "severity": 2}}
        out.append(orjson.dumps(base))
    return out


def _community_id(rng: random.Random) -> str:
    """A Community ID as Suricata and Zeek write it: version 1, the base64 of a SHA-1."""
    return "1:" + base64.b64encode(rng.randbytes(20)).decode()


def eve_full_lines(count: int, rng: random.Random, hosts: Addresses) -> list[bytes]:
    """EVE records as Suricata 7 writes them with its default eve-log settings (flow and
    tcp sections, community id, alert metadata, DNS v2 answers, TLS certificate fields,
    HTTP headers): about 670 bytes a record, against about 275 for :func:`eve_lines`."""
    out: list[bytes] = []
    for n in range(count):
        second = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + n / 50))
        ts = f"{second}.{n % 1000000:06d}+0000"
        end = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + n / 50 + 5))
        src, dst = hosts.pick(True), hosts.pick(n % 3 == 0)
        sport, dport = 1024 + n % 60000, (443, 53, 80, 104, 2575)[n % 5]
        base: dict[str, object] = {
            "timestamp": ts, "flow_id": 1_000_000_000_000 + n * 7919, "in_iface": "ens192",
            "src_ip": src, "src_port": sport, "dest_ip": dst, "dest_port": dport,
            "proto": "UDP" if dport == 53 else "TCP", "pkt_src": "wire/pcap",
            "community_id": _community_id(rng),
        }  # fmt: skip
        flow = {"pkts_toserver": 4 + n % 20, "pkts_toclient": 3 + n % 17,
                "bytes_toserver": 300 + n % 9000, "bytes_toclient": 200 + n % 70000,
                "start": ts, "end": f"{end}.{n % 1000000:06d}+0000", "age": 5,
                "state": "closed", "reason": "timeout", "alerted": n % 10 == 9}  # fmt: skip
        kind = n % 10
        if kind < 5:
            base |= {"event_type": "flow", "app_proto": "tls", "flow": flow,
                     "tcp": {"tcp_flags": "1b", "tcp_flags_ts": "1b", "tcp_flags_tc": "1b",
                             "syn": True, "fin": True, "psh": True, "ack": True,
                             "state": "closed", "ts_max_regions": 1, "tc_max_regions": 1}}
        elif kind < 7:
            name = f"h{n % 5000}.pacs.example"
            base |= {"event_type": "dns", "dns": {
                "version": 2, "type": "answer", "id": n % 65536, "flags": "8180", "qr": True,
                "rd": True, "ra": True, "rrname": name, "rrtype": "A", "rcode": "NOERROR",
                "answers": [{"rrname": name, "rrtype": "A", "ttl": 300,
                             "rdata": f"10.20.{n % 250}.{n % 200}"}],
                "grouped": {"A": [f"10.20.{n % 250}.{n % 200}"]}}}
        elif kind == 7:
            base |= {"event_type": "http", "tx_id": 0, "http": {
                "hostname": f"s{n % 300}.portal.example", "url": f"/api/v1/studies/{n}",
                "http_user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
                "http_content_type": "application/json", "http_method": "GET",
                "protocol": "HTTP/1.1", "status": 200, "length": 1000 + n % 5000}}
        elif kind == 8:
            base |= {"event_type": "tls", "tls": {
                "subject": f"CN=s{n % 300}.portal.example", "issuerdn": "CN=Hospital Issuing CA 2",
                "serial": f"{n:016X}", "fingerprint": ":".join(["ab"] * 20),
                "sni": f"s{n % 300}.portal.example", "version": "TLS 1.2",
                "notbefore": "2025-01-01T00:00:00", "notafter": "2026-01-01T00:00:00",
                "ja3": {"hash": f"{n % 97:032x}"}, "ja3s": {"hash": f"{n % 89:032x}"}}}
        else:
            base |= {"event_type": "alert", "app_proto": "http", "direction": "to_server",
                     "flow": flow, "alert": {
                "action": "allowed", "gid": 1, "signature_id": 2000000 + n % 50, "rev": 3,
                "signature": f"ET POLICY Observed test {n % 50}", "category": "Potential "
                "Corporate Privacy Violation", "severity": 2, "metadata": {
                    "affected_product": ["Any"], "attack_target": ["Client_Endpoint"],
                    "created_at": ["2019_08_13"], "deployment": ["Perimeter"],
                    "signature_severity": ["Informational"], "updated_at": ["2020_09_17"]}}}
        out.append(orjson.dumps(base))
    return out


def eve_sensor_lines(count: int, rng: random.Random, hosts: Addresses) -> list[bytes]:
    """EVE records of every kind a Suricata 7 or 8 sensor writes, in a sensor's proportions
    (flows and DNS most, a few alerts with their payload and packet, file info, anomalies,
    SMB, Kerberos, DHCP, SSH, a stats record every 8 seconds), with what real records
    hold and the other generators do not: flow ids as random as Suricata's hashes, base64
    community ids, IPv6 and ICMP flows without ports, DNS v2 and v3, VLAN lists, JA3/JA4,
    HTTP headers, escapes and non-ASCII text. About 640 bytes a record."""
    out: list[bytes] = []
    for n in range(count):
        second = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + n / 50))
        ts = f"{second}.{n % 1000000:06d}+0000"
        if n % 400 == 399:
            out.append(orjson.dumps({"timestamp": ts, "event_type": "stats", "stats": _stats(n)}))
            continue
        v6 = n % 20 == 0
        src = f"2001:db8:10::{rng.randrange(1, 1 << 16):x}" if v6 else hosts.pick(True)
        dst = f"2600:1f18::{rng.randrange(1, 1 << 16):x}" if v6 else hosts.pick(n % 3 == 0)
        dport = rng.choice((443, 443, 443, 53, 80, 445, 88, 104, 2575, 22, 3389))
        base: dict[str, object] = {
            "timestamp": ts, "flow_id": rng.getrandbits(51), "in_iface": "ens192",
            "vlan": [110], "src_ip": src, "src_port": rng.randrange(1024, 65536),
            "dest_ip": dst, "dest_port": dport, "proto": "UDP" if dport == 53 else "TCP",
            "pkt_src": "wire/pcap", "community_id": _community_id(rng),
        }  # fmt: skip
        draw = rng.random()
        if draw < 0.50:
            base |= {"event_type": "flow", "app_proto": ("tls", "http", "dns", "failed")[n % 4],
                     "flow": _flow(rng, ts), "tcp": {"tcp_flags": "1b", "syn": True, "fin": True,
                                                     "ack": True, "state": "closed"}}  # fmt: skip
            if n % 50 == 7:
                base |= {"proto": "ICMP", "icmp_type": 8, "icmp_code": 0, "response_icmp_type": 0}
                del base["src_port"], base["dest_port"]
        elif draw < 0.72:
            base |= {"event_type": "dns", "dns": _dns(n, rng, hosts)}
        elif draw < 0.84:
            site = f"s{n % 300}.portal.example"
            base |= {"event_type": "tls", "tls": {
                "subject": f"C=US, O=Hospital, CN={site}", "serial": f"{n:016X}",
                "issuerdn": "C=US, O=Hospital, CN=Hospital Issuing CA 2",
                "fingerprint": rng.randbytes(20).hex(":"), "sni": site,
                "version": "TLS 1.3" if n % 3 else "TLS 1.2", "notbefore": "2025-01-01T00:00:00",
                "notafter": "2026-01-01T00:00:00", "ja3": {"hash": rng.randbytes(16).hex()},
                "ja3s": {"hash": rng.randbytes(16).hex()},
                "ja4": "t13d1516h2_8daaf6152771_e5627efa2ab1"}}  # fmt: skip
        elif draw < 0.91:
            site = f"s{n % 300}.portal.example"
            base |= {"event_type": "http", "tx_id": n % 4, "http": {
                "hostname": site, "url": f"/r\u00e9sultats/{n}?q=a%20b", "http_method": "GET",
                "http_user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
                "http_content_type": "application/json", "protocol": "HTTP/1.1",
                "status": (200, 200, 304, 404)[n % 4], "length": rng.randrange(50_000),
                "request_headers": [{"name": "Host", "value": site}]}}  # fmt: skip
        elif draw < 0.94:
            base |= _alert(n, rng, ts)
        elif draw < 0.96:
            base |= {"event_type": "fileinfo", "app_proto": "http", "fileinfo": {
                "filename": f"/studies/\u00e9tude-{n}.dcm", "sid": [], "gaps": False,
                "state": "CLOSED", "md5": rng.randbytes(16).hex(), "stored": False,
                "size": rng.randrange(1 << 24), "tx_id": 0}}  # fmt: skip
        elif draw < 0.97:
            base |= {"event_type": "anomaly", "app_proto": "tls", "anomaly": {
                "app_proto": "tls", "type": "applayer", "event": "INVALID_RECORD_TYPE",
                "layer": "proto_parser", "code": 4}}  # fmt: skip
        elif draw < 0.985:
            base |= {"event_type": "smb", "smb": {
                "id": n % 100, "dialect": "3.1.1", "command": "SMB2_COMMAND_CREATE",
                "status": "STATUS_SUCCESS", "session_id": rng.getrandbits(48), "tree_id": 1,
                "filename": "Radiology\\report.docx", "disposition": "FILE_OPEN"}}  # fmt: skip
        elif draw < 0.99:
            base |= {"event_type": "krb5", "krb5": {
                "msg_type": "KRB_TGS_REQ", "cname": f"u{n % 2000}", "realm": "HOSP.LOCAL",
                "sname": "cifs/fs01.hosp.local", "encryption": "aes256-cts-hmac-sha1-96",
                "weak_encryption": False}}  # fmt: skip
        elif draw < 0.995:
            base |= {"event_type": "dhcp", "dhcp": {
                "type": "reply", "id": n, "client_mac": rng.randbytes(6).hex(":"),
                "assigned_ip": hosts.pick(True), "lease_time": 86_400, "dhcp_type": "ack",
                "dns_servers": ["10.20.0.53", "10.20.0.54"]}}  # fmt: skip
        else:
            base |= {"event_type": "ssh", "ssh": {
                "client": {"proto_version": "2.0", "software_version": "OpenSSH_9.6"},
                "server": {"proto_version": "2.0", "software_version": "OpenSSH_8.9p1"}}}
        out.append(orjson.dumps(base))
    return out


def _flow(rng: random.Random, ts: str) -> dict[str, object]:
    return {
        "pkts_toserver": rng.randrange(1, 40), "pkts_toclient": rng.randrange(60),
        "bytes_toserver": rng.randrange(60, 20_000), "bytes_toclient": rng.randrange(90_000),
        "start": ts, "end": ts, "age": rng.randrange(120), "state": "closed",
        "reason": "timeout", "alerted": False,
    }  # fmt: skip


def _dns(n: int, rng: random.Random, hosts: Addresses) -> dict[str, object]:
    """A DNS answer, as Suricata 8 writes it (v3) or Suricata 7 (v2, grouped answers)."""
    name = f"h{rng.randrange(5000)}.pacs.example"
    answers = [{"rrname": name, "rrtype": "A", "ttl": 300, "rdata": hosts.pick(True)}]
    head = {"id": n % 65536, "flags": "8180", "qr": True, "rd": True, "ra": True}
    if n % 2:
        rcode = "NOERROR" if n % 9 else "NXDOMAIN"
        return {"version": 3, "type": "response", **head, "rcode": rcode,
                "queries": [{"rrname": name, "rrtype": "A"}], "answers": answers}  # fmt: skip
    grouped = {"A": [answers[0]["rdata"]]}
    return {"version": 2, "type": "answer", **head, "rrname": name, "rrtype": "A",
            "rcode": "NOERROR", "answers": answers, "grouped": grouped}  # fmt: skip


def _alert(n: int, rng: random.Random, ts: str) -> dict[str, object]:
    return {
        "event_type": "alert", "tx_id": 0, "app_proto": "http", "direction": "to_server",
        "flow": _flow(rng, ts),
        "alert": {
            "action": "allowed", "gid": 1, "signature_id": 2_030_000 + n % 90, "rev": 4,
            "signature": f'ET POLICY "Observed" test {n % 90}', "severity": 2,
            "category": "Potential Corporate Privacy Violation",
            "metadata": {"created_at": ["2019_08_13"], "signature_severity": ["Informational"]},
        },
        "payload": base64.b64encode(rng.randbytes(240)).decode(),
        "payload_printable": "GET /api HTTP/1.1\r\nHost: portal\r\n\r\n", "stream": 1,
        "packet": base64.b64encode(rng.randbytes(90)).decode(), "packet_info": {"linktype": 1},
    }  # fmt: skip


def _stats(n: int) -> dict[str, object]:
    return {
        "uptime": n // 50, "capture": {"kernel_packets": n * 90, "kernel_drops": 0},
        "decoder": {"pkts": n * 90, "bytes": n * 61_000, "ipv4": n * 80},
        "flow": {"memuse": 7_154_304, "tcp": n}, "app_layer": {"flow": {"tls": n}},
        "detect": {"alert": n // 30, "engines": [{"id": 0, "rules_loaded": 48_211}]},
    }  # fmt: skip


ZEEK_HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\t"
    "orig_bytes\tresp_bytes\tconn_state\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\n"
)


def zeek_lines(count: int, rng: random.Random, hosts: Addresses) -> list[bytes]:
    return [
        (
            f"{T0 + n / 50:.6f}\tC{n:x}\t{hosts.pick(True)}\t{1024 + n % 60000}\t"
            f"{hosts.pick(n % 3 == 0)}\t{(443, 53, 80, 104, 2575)[n % 5]}\t"
            f"{'udp' if n % 5 == 1 else 'tcp'}\t-\t0.{n % 999:03d}\t{n % 9000}\t{n % 7000}\tSF"
        ).encode()
        for n in range(count)
    ]


def zeek_json_lines(count: int, rng: random.Random, hosts: Addresses) -> list[bytes]:
    """The same connections as Zeek writes them with ``LogAscii::use_json=T``."""
    return [orjson.dumps(record) for record in zeek_json_records(count, rng, hosts)]


def zeek_json_records(count: int, rng: random.Random, hosts: Addresses) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for n in range(count):
        out.append(
            {"_path": "conn", "ts": T0 + n / 50, "uid": f"C{n:x}", "id.orig_h": hosts.pick(True),
             "id.orig_p": 1024 + n % 60000, "id.resp_h": hosts.pick(n % 3 == 0),
             "id.resp_p": (443, 53, 80, 104, 2575)[n % 5],
             "proto": "udp" if n % 5 == 1 else "tcp", "duration": (n % 999) / 1000,
             "orig_bytes": n % 9000, "resp_bytes": n % 7000, "conn_state": "SF"}
        )  # fmt: skip
    return out


def parse_only(connector: Connector, path: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, rows) of the connector alone."""
    started, cpu = time.perf_counter(), time.process_time()
    rows = sum(
        item.rows.num_rows
        for found in connector.discover(path)
        for item in connector.read(found)
        if isinstance(item, Batch)
    )
    return time.perf_counter() - started, time.process_time() - cpu, rows


def write_log(path: Path, lines: list[bytes], files: int, header: bytes = b"") -> Path:
    """``lines`` as the file ``path``, or with ``files`` > 1 as that many files of
    consecutive lines in a folder named after it (as a sensor rotates its logs), each with
    ``header``; returns the path to ingest."""
    if files <= 1:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(header + b"\n".join(lines) + b"\n")
        return path
    folder = path.parent / f"{path.name}-{files}-files"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    size = -(-len(lines) // files)
    for n in range(files):
        part = folder / f"{path.stem}-{n:03d}{path.suffix}"
        part.write_bytes(header + b"\n".join(lines[n * size : (n + 1) * size]) + b"\n")
    return folder


def into_store(
    make: Callable[[], Connector], path: Path, work: Path, run: int
) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, rows stored) of a full ingest into a fresh store."""
    work.mkdir(parents=True, exist_ok=True)
    folder = work / f"store-{path.stem}-{run}"
    shutil.rmtree(folder, ignore_errors=True)  # a --workdir used before holds this file already
    store = Store.open(folder)
    started, cpu = time.perf_counter(), time.process_time()
    summary = ingest(store, make(), [path])
    store.close()  # `carewarden ingest` waits for DuckDB's checkpoint at close too
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    if summary.total("quarantined") or summary.failed:
        raise SystemExit(f"{path}: records quarantined or failed: the generator wrote bad data")
    return elapsed, used, summary.total("records")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--only", default="", help="comma-separated connectors to time (default: all)"
    )
    parser.add_argument(
        "--files",
        type=int,
        default=1,
        help="write each network log as this many files of consecutive records, in a folder "
        "(rotated logs), instead of one",
    )
    parser.add_argument(
        "--random-addresses",
        action="store_true",
        help="draw every network address at random (the worst case for the store) instead "
        "of from a hospital's hosts",
    )
    parser.add_argument(
        "--no-per-line",
        action="store_true",
        help="skip timing the network connectors' per-line path (for the ratio)",
    )
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="carewarden-telemetry-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    hosts = Addresses(random.Random(11), random_addresses=args.random_addresses)
    syslog_path = work / "bench-syslog.log"
    syslog_path.write_text("\n".join(syslog_lines(args.records, rng)) + "\n")
    reference = dt.datetime(2025, 12, 31, tzinfo=dt.UTC).timestamp()
    os.utime(syslog_path, (reference, reference))
    osquery_path = work / "osqueryd.results.log"
    osquery_path.write_bytes(b"\n".join(osquery_lines(args.records, rng)) + b"\n")
    files = args.files
    eve_path = write_log(work / "eve.json", eve_lines(args.records, rng, hosts), files)
    full_lines = eve_full_lines(args.records, rng, hosts)
    eve_full_path = write_log(work / "full" / "eve.json", full_lines, files)
    sensor_lines = eve_sensor_lines(args.records, rng, hosts)
    eve_sensor_path = write_log(work / "sensor" / "eve.json", sensor_lines, files)
    conn_lines = zeek_lines(args.records, rng, hosts)
    conn_path = write_log(work / "conn.log", conn_lines, files, ZEEK_HEADER.encode())
    conn_json_lines = zeek_json_lines(args.records, rng, hosts)
    conn_json_path = write_log(work / "json" / "conn.log", conn_json_lines, files)
    makers: dict[str, tuple[Callable[[], Connector], Path]] = {
        "syslog": (SyslogConnector, syslog_path),
        "osquery": (OsqueryConnector, osquery_path),
        "suricata": (SuricataConnector, eve_path),
        "suricata-full": (SuricataConnector, eve_full_path),
        "suricata-sensor": (SuricataConnector, eve_sensor_path),
        "zeek": (ZeekConnector, conn_path),
        "zeek-json": (ZeekConnector, conn_json_path),
    }
    # The network connectors' per-line path (what they fall back to for a block they cannot
    # read column-wise), timed in the same process for the ratio.
    per_line: dict[str, Callable[[], Connector]] = {
        "suricata": lambda: SuricataConnector(columnwise=False),
        "suricata-full": lambda: SuricataConnector(columnwise=False),
        "suricata-sensor": lambda: SuricataConnector(columnwise=False),
        "zeek": lambda: ZeekConnector(columnwise=False),
        "zeek-json": lambda: ZeekConnector(columnwise=False),
    }
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    if only - set(makers):
        parser.error(f"--only: unknown connector(s) {', '.join(sorted(only - set(makers)))}")
    # The network connectors' compiled helpers, where the install built them (setup.py):
    # without them, the same work is done in Python and numpy, slower.
    built = "built" if network.native is not None else "not built (no C compiler found)"
    print(f"compiled helpers (carewarden.telemetry._native): {built}")
    for name, (make, path) in makers.items():
        if only and name not in only:
            continue
        parsed = [parse_only(make(), path) for _ in range(args.repeat)]
        stored = [into_store(make, path, work / name, run) for run in range(args.repeat)]
        records = stored[0][2]
        logs = sorted(path.iterdir()) if path.is_dir() else [path]
        size = sum(log.stat().st_size for log in logs) / 1e6
        where = f"{len(logs)} files, " if len(logs) > 1 else ""
        print(f"{name}: {records:,} records ({where}{size:,.0f} MB), median of {args.repeat}")
        medians = {}
        for label, runs in (("parse", parsed), ("into the store", stored)):
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            medians[label] = (wall, cpu)
            print(
                f"  {label:15s} {records / wall:10,.0f} records/s wall, "
                f"{records / cpu:10,.0f} per CPU-second of this process"
            )
        if name in per_line and not args.no_per_line:
            slow = per_line[name]
            old = {
                "parse": [parse_only(slow(), path) for _ in range(args.repeat)],
                "into the store": [
                    into_store(slow, path, work / f"{name}-per-line", run)
                    for run in range(args.repeat)
                ],
            }
            for label, runs in old.items():
                wall = statistics.median(r[0] for r in runs)
                cpu = statistics.median(r[1] for r in runs)
                print(
                    f"  {label + ', per line':25s} {records / wall:10,.0f} records/s wall, "
                    f"{records / cpu:10,.0f} per CPU-second; column-wise is "
                    f"{wall / medians[label][0]:.1f}x (wall), {cpu / medians[label][1]:.1f}x (CPU)"
                )
    print(f"files in {work}")


if __name__ == "__main__":
    main()
