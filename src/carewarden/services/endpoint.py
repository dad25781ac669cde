"""Endpoint and network detections: the Sigma alerts of the store by host, with their ATT&CK
tactics and techniques and the credit the Detection Rule License asks for (the rule's author
and a link to the rule); and, from the network sensor, the SMB mappings of administrative
shares (``C$``, ``ADMIN$``…), the trail lateral movement leaves on the wire."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from carewarden.store import Store

# ATT&CK enterprise tactics in kill-chain order (the newer "stealth" and
# "defense-impairment" beside "defense-evasion"); others sort last.
TACTICS = (
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "stealth",
    "defense-impairment",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
)
SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
_ID = re.compile(r"^[TGS]\d{4}")
_URL = re.compile(r"https?://\S+")
SYSMON = "Microsoft-Windows-Sysmon/Operational"
# \\HOST\C$, \\HOST\ADMIN$ (not IPC$ or a named share)
ADMIN_SHARE = r"^\\\\[^\\]+\\([A-Za-z]|ADMIN)\$$"


@dataclass(frozen=True)
class SigmaFinding:
    """One Sigma rule's alerts on one host."""

    host: str
    rule_id: str
    title: str
    severity: str
    tactics: list[str]
    techniques: list[str]
    alerts: int
    events: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    author: str
    reference: str

    @property
    def link(self) -> str | None:
        """The rule's URL when its reference holds one."""
        found = _URL.search(self.reference)
        return found.group(0) if found else None

    @property
    def tactic_names(self) -> list[str]:
        return [t.replace("-", " ").capitalize() for t in self.tactics]


@dataclass
class HostFindings:
    host: str
    findings: list[SigmaFinding] = field(default_factory=list)

    @property
    def severity(self) -> str:
        return max((f.severity for f in self.findings), key=lambda s: SEVERITY_RANK.get(s, 0))

    @property
    def events(self) -> int:
        return sum(f.events for f in self.findings)

    @property
    def tactics(self) -> list[str]:
        seen = {t for f in self.findings for t in f.tactics}
        return [t.replace("-", " ").capitalize() for t in _ordered(seen)]


def _ordered(tactics: set[str]) -> list[str]:
    return sorted(tactics, key=lambda t: (TACTICS.index(t) if t in TACTICS else len(TACTICS), t))


def sigma_findings(store: Store) -> list[HostFindings]:
    """Hosts with Sigma alerts, the first attacked first; on each host its rules in the order
    they first fired."""
    rows = store.query(
        "SELECT coalesce(a.host, '(no host)'), a.rule_id, any_value(a.title), "
        "any_value(a.severity), count(*), sum(len(a.event_ids)), min(a.first_seen), "
        "max(a.last_seen), any_value(coalesce(a.author, r.author)), "
        "any_value(coalesce(a.reference, r.reference, r.path)), any_value(a.mapping) "
        "FROM alert a JOIN sigma_rule r ON r.rule_id = a.rule_id "
        "GROUP BY 1, 2 ORDER BY min(a.first_seen), 1, 2"
    )
    hosts: dict[str, HostFindings] = {}
    for host, rule_id, title, severity, alerts, events, first, last, author, ref, mapping in rows:
        tags = [str(m) for m in mapping or []]
        finding = SigmaFinding(
            host=str(host),
            rule_id=str(rule_id),
            title=str(title),
            severity=str(severity),
            tactics=_ordered({t for t in tags if not _ID.match(t)}),
            techniques=sorted({t for t in tags if t.startswith("T") and _ID.match(t)}),
            alerts=int(alerts),
            events=int(events or 0),
            first_seen=first,
            last_seen=last,
            author=str(author or "unknown author"),
            reference=str(ref or ""),
        )
        hosts.setdefault(finding.host, HostFindings(finding.host)).findings.append(finding)
    return list(hosts.values())


@dataclass(frozen=True)
class ShareMapping:
    """SMB mappings of one administrative share from one source, as Zeek saw them."""

    source: str  # the host whose Sysmon network events carry the address, else the address
    target: str
    share: str
    sessions: int
    first_seen: dt.datetime
    last_seen: dt.datetime


def admin_share_mappings(store: Store) -> list[ShareMapping]:
    """Zeek ``smb_mapping`` records of administrative shares, by source, target and share,
    the earliest first; addresses are named after the Windows host that used them."""
    names = {
        str(ip): str(host)
        for ip, host in store.query(
            "SELECT src_ip, min(host) FROM security_event WHERE channel = ? AND event_id = 3 "
            "AND src_ip IS NOT NULL AND host IS NOT NULL GROUP BY src_ip",
            [SYSMON],
        )
    }
    rows = store.query(
        "SELECT src_ip, dst_ip, share, count(*), min(time), max(time) FROM ("
        "  SELECT src_ip, dst_ip, time, json_extract_string(raw, '$.path') AS share"
        "  FROM security_event WHERE provider = 'zeek/smb_mapping'"
        ") WHERE regexp_matches(share, ?) GROUP BY ALL ORDER BY min(time), 1, 2, 3",
        [ADMIN_SHARE],
    )
    return [
        ShareMapping(
            source=names.get(str(src), str(src)),
            target=names.get(str(dst), str(dst)),
            share=str(share),
            sessions=int(sessions),
            first_seen=first,
            last_seen=last,
        )
        for src, dst, share, sessions, first, last in rows
    ]
