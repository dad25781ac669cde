"""Network segmentation: observed flows against the policy, and the policy as a firewall
ruleset.

**Check.** The connection records of the network sensors (Zeek ``conn``, Suricata ``flow``
and ``netflow`` rows of ``security_event``) are first aggregated in DuckDB by (source,
destination, protocol, destination port), with counts, bytes, first and last seen and a few
sample event ids; only those distinct tuples are then decided in Python against the policy
(:class:`~carewarden.iomt.segmentation_policy.Evaluator`), each address resolved to its zone
once. Violations become alerts in the shared alert table, one per (rule, source address,
destination zone): ``segmentation.iomt_to_internet`` when an IoMT zone reached the internet,
``segmentation.flow_not_allowed`` otherwise. The alert id is a hash of that key, so a re-run
adds nothing and new traffic of the same kind refreshes the same alert's evidence.

**Export.** :func:`nftables` writes a ruleset for a Linux router or firewall between the
zones (``table inet carewarden_seg``); :func:`rules_json` gives the same rules as data for
other firewalls. Both use the zone map of the check (most specific CIDR wins), so the
firewall enforces exactly what the check reports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from carewarden.detect.engine import Alert, DetectContext
from carewarden.iomt.segmentation_policy import (
    UNZONED,
    Criticality,
    Flow,
    Network,
    SegmentationPolicy,
    Verdict,
    Zone,
    ZoneMap,
    collapse,
    worst,
)
from carewarden.iomt.segmentation_policy import Evaluator as PolicyEvaluator
from carewarden.store import Store

FLOW_PROVIDERS = ("zeek/conn", "suricata/flow", "suricata/netflow")
RULE_NOT_ALLOWED = "segmentation.flow_not_allowed"
RULE_IOMT_INTERNET = "segmentation.iomt_to_internet"
TITLES = {
    RULE_NOT_ALLOWED: "Network flow not allowed by the segmentation policy",
    RULE_IOMT_INTERNET: "Medical device zone reached the internet",
}
MAPPING = ["HICP 6", "NIST CSF PR.IR-01", "HIPAA 164.312(e)(1)"]
SCORES: dict[str, int] = {"low": 30, "medium": 50, "high": 70, "critical": 85}
# Destination ports of remote services (ATT&CK T1021: SSH, Telnet, RPC, SMB, RDP, VNC, WinRM).
REMOTE_SERVICE_PORTS = frozenset({22, 23, 135, 139, 445, 3389, 5900, 5985, 5986})
SAMPLES_PER_FLOW = 3
SAMPLES_PER_ALERT = 20
LISTED_PER_ALERT = 5

_PROTOCOLS = (
    "CASE lower(j[1]) WHEN '6' THEN 'tcp' WHEN '17' THEN 'udp' WHEN '1' THEN 'icmp' "
    "WHEN '58' THEN 'icmp' WHEN 'ipv6-icmp' THEN 'icmp' WHEN 'icmp6' THEN 'icmp' "
    "WHEN 'icmpv6' THEN 'icmp' ELSE coalesce(lower(j[1]), 'unknown') END"
)
# One JSON parse per row: the protocol and the byte counts of Zeek conn and Suricata flow.
OBSERVED_SQL = f"""
WITH f AS (
    SELECT event_uid, time, src_ip, dst_ip, dst_port,
           json_extract_string(raw, ['$.proto', '$.orig_bytes', '$.resp_bytes',
                                     '$.flow.bytes_toserver', '$.flow.bytes_toclient']) AS j
    FROM security_event
    WHERE provider IN ({", ".join(f"'{p}'" for p in FLOW_PROVIDERS)})
      AND src_ip IS NOT NULL AND dst_ip IS NOT NULL AND time >= ?
), p AS (
    SELECT event_uid, time, src_ip, dst_ip, {_PROTOCOLS} AS proto,
           dst_port, j
    FROM f
)
SELECT src_ip, dst_ip, proto,
       CASE WHEN proto IN ('tcp', 'udp') THEN TRY_CAST(dst_port AS INTEGER) END AS port,
       count(*) AS events,
       sum(coalesce(TRY_CAST(j[2] AS BIGINT), 0) + coalesce(TRY_CAST(j[3] AS BIGINT), 0)
           + coalesce(TRY_CAST(j[4] AS BIGINT), 0) + coalesce(TRY_CAST(j[5] AS BIGINT), 0))
           AS bytes,
       min(time) AS first_seen, max(time) AS last_seen,
       min_by(event_uid, {{'t': time, 'u': event_uid}}, {SAMPLES_PER_FLOW}) AS samples
FROM p
GROUP BY ALL
"""


@dataclass(frozen=True)
class Violation:
    """One observed (source, destination, protocol, port) the policy does not allow."""

    rule_id: str
    src_ip: str
    src_zone: str | None
    dst_ip: str
    dst_zone: str | None
    protocol: str
    port: int | None
    events: int
    bytes: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    samples: list[str]
    reason: str
    severity: str

    @property
    def service(self) -> str:
        return f"{self.protocol}/{self.port}" if self.port is not None else self.protocol

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "src_ip": self.src_ip,
            "src_zone": self.src_zone,
            "dst_ip": self.dst_ip,
            "dst_zone": self.dst_zone,
            "protocol": self.protocol,
            "port": self.port,
            "events": self.events,
            "bytes": self.bytes,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "samples": self.samples,
            "reason": self.reason,
            "severity": self.severity,
        }


@dataclass
class CheckResult:
    policy: str
    events: int = 0  # connection records evaluated
    flows: int = 0  # distinct (source, destination, protocol, port) tuples
    allowed_flows: int = 0
    violations: list[Violation] = field(default_factory=list)
    expired_exceptions: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def violating_events(self) -> int:
        return sum(v.events for v in self.violations)


def has_flows(store: Store) -> bool:
    """Whether the store holds any connection record (cheap: stops at the first)."""
    found = store.query(
        "SELECT EXISTS (SELECT 1 FROM security_event WHERE provider IN "
        f"({', '.join(f'{chr(39)}{p}{chr(39)}' for p in FLOW_PROVIDERS)}))"
    )
    return bool(found[0][0])


class _Decider:
    """The policy evaluator with per-address caches (a hospital has many more flows than
    addresses)."""

    def __init__(self, policy: SegmentationPolicy, today: dt.date) -> None:
        self.policy = policy
        self.evaluator = PolicyEvaluator(policy, today)
        self.zones: dict[str, Zone] = {z.name: z for z in policy.zones}
        self.internet = next((z.name for z in policy.zones if z.internet), None)
        self._global: dict[str, bool] = {}

    def is_internet(self, zone: str | None, address: str) -> bool:
        if zone is not None:
            return zone == self.internet
        if address not in self._global:
            try:
                self._global[address] = ipaddress.ip_address(address).is_global
            except ValueError:
                self._global[address] = False
        return self._global[address]

    def criticality(self, zone: str | None) -> Criticality:
        return self.zones[zone].criticality if zone is not None else "medium"

    def classify(self, verdict: Verdict, dst_ip: str) -> tuple[str, str]:
        """(rule id, severity) of a violation."""
        src = self.zones.get(verdict.src_zone) if verdict.src_zone else None
        severity = worst(self.criticality(verdict.src_zone), self.criticality(verdict.dst_zone))
        if src is not None and src.iomt and self.is_internet(verdict.dst_zone, dst_ip):
            return RULE_IOMT_INTERNET, worst(severity, "high")
        return RULE_NOT_ALLOWED, severity


KEY_COLUMNS = ("src_ip", "dst_ip", "proto", "port", "events")
DETAIL_COLUMNS = ("bytes", "first_seen", "last_seen", "samples")


def check(
    store: Store,
    policy: SegmentationPolicy,
    *,
    today: dt.date | None = None,
    since: dt.datetime | None = None,
) -> CheckResult:
    """Every observed flow since ``since`` against ``policy`` with the exceptions in force on
    ``today`` (default: today, UTC). Writes nothing.

    The aggregate streams from DuckDB as Arrow batches; only the key columns of every tuple
    become Python values, the details (times, sample ids) only for the violating ones."""
    today = today or dt.datetime.now(dt.UTC).date()
    result = CheckResult(
        policy.name, expired_exceptions=[e.name for e in policy.expired_exceptions(today)]
    )
    if not has_flows(store):
        return result
    started = time.perf_counter()
    evaluating = 0.0
    decider = _Decider(policy, today)
    decide = decider.evaluator.decide
    start = since or dt.datetime(1970, 1, 1)
    for batch in store.batches(OBSERVED_SQL, [start], size=50_000):
        began = time.perf_counter()
        keys = zip(*(batch.column(c).to_pylist() for c in KEY_COLUMNS), strict=True)
        bad: list[int] = []
        found: list[tuple[str, str, str, str, str, int | None, int, Verdict]] = []
        for index, (src_ip, dst_ip, proto, port, events) in enumerate(keys):
            result.flows += 1
            result.events += events
            verdict = decide(src_ip, dst_ip, proto, port)
            if verdict.allowed:
                result.allowed_flows += 1
                continue
            rule_id, severity = decider.classify(verdict, dst_ip)
            bad.append(index)
            found.append((rule_id, severity, src_ip, dst_ip, proto, port, events, verdict))
        if bad:
            picked = batch.take(pa.array(bad, pa.int64()))
            details = zip(*(picked.column(c).to_pylist() for c in DETAIL_COLUMNS), strict=True)
            for (rule_id, severity, src_ip, dst_ip, proto, port, events, verdict), row in zip(
                found, details, strict=True
            ):
                sent, first_seen, last_seen, samples = row
                result.violations.append(
                    Violation(
                        rule_id=rule_id,
                        src_ip=src_ip,
                        src_zone=verdict.src_zone,
                        dst_ip=dst_ip,
                        dst_zone=verdict.dst_zone,
                        protocol=proto,
                        port=port,
                        events=int(events),
                        bytes=int(sent or 0),
                        first_seen=first_seen,
                        last_seen=last_seen,
                        samples=sorted(samples or []),
                        reason=verdict.reason,
                        severity=severity,
                    )
                )
        evaluating += time.perf_counter() - began
    total = time.perf_counter() - started
    result.seconds["aggregate"] = total - evaluating
    result.seconds["evaluate"] = evaluating
    result.violations.sort(
        key=lambda v: (
            -SCORES[v.severity],
            v.src_ip,
            v.dst_zone or "",
            v.dst_ip,
            v.protocol,
            v.port or 0,
        )
    )
    return result


def alert_id(rule_id: str, src_ip: str, dst_zone: str) -> str:
    text = f"{rule_id}|{src_ip}|{dst_zone}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _connections(count: int) -> str:
    return f"{count:,} connection" + ("" if count == 1 else "s")


def _zone_label(zone: str | None, policy: SegmentationPolicy) -> str:
    if zone is None:
        return UNZONED
    return f"{zone}, IoMT" if policy.zone(zone).iomt else zone


def alerts(result: CheckResult, policy: SegmentationPolicy) -> list[Alert]:
    """One alert per (rule, source address, destination zone); the destination address for
    an unzoned destination."""
    groups: dict[tuple[str, str, str], list[Violation]] = {}
    for violation in result.violations:
        target = violation.dst_zone or f"{UNZONED} {violation.dst_ip}"
        groups.setdefault((violation.rule_id, violation.src_ip, target), []).append(violation)
    out = []
    for (rule_id, src_ip, target), items in sorted(groups.items()):
        items.sort(key=lambda v: (-v.events, v.dst_ip, v.protocol, v.port or 0))
        first = min(v.first_seen for v in items)
        last = max(v.last_seen for v in items)
        events = sum(v.events for v in items)
        sent = sum(v.bytes for v in items)
        severity = worst(*(v.severity for v in items))  # type: ignore[arg-type]
        ports = {v.port for v in items if v.port is not None}
        mapping = list(MAPPING)
        if rule_id == RULE_IOMT_INTERNET:
            mapping.append("T1071")
        if ports & REMOTE_SERVICE_PORTS:
            mapping.append("T1021")
        listed = ", ".join(
            f"{v.dst_ip} {v.service} ({_connections(v.events)})" for v in items[:LISTED_PER_ALERT]
        )
        if len(items) > LISTED_PER_ALERT:
            listed += f" and {len(items) - LISTED_PER_ALERT} more"
        head = items[0]
        src_label = _zone_label(head.src_zone, policy)
        dst_label = _zone_label(head.dst_zone, policy) if head.dst_zone else f"{UNZONED} address"
        explanation = (
            f"{src_ip} ({src_label}) reached {dst_label} on {len(items)} flow(s) the "
            f"segmentation policy {policy.name!r} does not allow: {listed}; "
            f"{_connections(events)}{f', {sent:,} bytes' if sent else ''} from "
            f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC ({head.reason})."
        )
        samples = [s for v in items for s in v.samples][:SAMPLES_PER_ALERT]
        score = min(100, SCORES[severity] + (5 if "T1021" in mapping else 0))
        out.append(
            Alert(
                alert_id=alert_id(rule_id, src_ip, target),
                rule_id=rule_id,
                title=TITLES[rule_id],
                severity=severity,
                score=score,
                user_id=None,
                patient_id=None,
                first_seen=first,
                last_seen=last,
                event_ids=samples,
                explanation=explanation,
                mapping=mapping,
                host=src_ip,
            )
        )
    return out


class SegmentationDetector:
    """The segmentation check as a phase of ``carewarden detect``: the policy is read when
    it runs, so an invalid policy file fails this detector alone."""

    id: ClassVar[str] = "segmentation"

    def __init__(self, policy: SegmentationPolicy | Path, today: dt.date | None = None) -> None:
        self.policy = policy
        self.today = today
        self.result: CheckResult | None = None

    def run(self, store: Store, context: DetectContext) -> list[Alert]:
        policy = (
            SegmentationPolicy.load(self.policy) if isinstance(self.policy, Path) else self.policy
        )
        self.result = check(store, policy, today=self.today)
        return alerts(self.result, policy)


# -- export -------------------------------------------------------------------------------

TABLE = "carewarden_seg"
_FAMILIES: tuple[tuple[int, str, str], ...] = ((4, "ip", "ipv4_addr"), (6, "ip6", "ipv6_addr"))


@dataclass(frozen=True)
class FirewallRule:
    """One rule of the exported ruleset, per address family."""

    action: str  # accept | drop
    kind: str  # flow | exception | egress-default | ingress-default | zoned-default
    name: str  # the policy entry or zone it comes from
    family: int  # 4 | 6
    source: tuple[Network, ...] | None  # None: any
    source_set: str | None  # the named set holding ``source``, if one does
    destination: tuple[Network, ...] | None
    destination_set: str | None
    protocol: str  # tcp | udp | icmp | any
    ports: tuple[tuple[int, int], ...]
    expires: dt.date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "kind": self.kind,
            "name": self.name,
            "family": f"ipv{self.family}",
            "source": None if self.source is None else [str(n) for n in self.source],
            "destination": (
                None if self.destination is None else [str(n) for n in self.destination]
            ),
            "protocol": self.protocol,
            "ports": [[low, high] for low, high in self.ports],
            "expires": self.expires.isoformat() if self.expires else None,
        }


@dataclass
class Ruleset:
    policy: SegmentationPolicy
    today: dt.date
    zones: ZoneMap
    sets: dict[str, tuple[int, list[Network], str]]  # name -> (family, networks, comment)
    rules: list[FirewallRule]
    chain_policy: str  # accept | drop: what no rule decided

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.name,
            "generated_for": self.today.isoformat(),
            "zones": {name: [str(n) for n in nets] for name, nets in self.zones.effective.items()},
            "established_related": "accept",
            "rules": [r.as_dict() for r in self.rules],
            "default": self.chain_policy,
            "expired_exceptions": [e.name for e in self.policy.expired_exceptions(self.today)],
        }


def _collapse(nets: Sequence[Network]) -> list[Network]:
    return collapse(nets)


def ruleset(policy: SegmentationPolicy, today: dt.date | None = None) -> Ruleset:
    """The policy as ordered firewall rules: allowed flows and exceptions in force accept;
    then each zone's default denials (egress, then ingress) drop; what remains is allowed by
    both zones (or, without an internet zone, decided by the policy's default)."""
    today = today or dt.datetime.now(dt.UTC).date()
    zones = ZoneMap.build(policy)
    names = {z.name for z in policy.zones}
    sets: dict[str, tuple[int, list[Network], str]] = {}

    def zone_set(zone: str, family: int) -> str | None:
        nets = [n for n in zones.effective[zone] if n.version == family]
        if not nets:
            return None
        name = f"z_{zone}_v{family}"
        sets.setdefault(name, (family, nets, policy.zone(zone).description or zone))
        return name

    def endpoint(
        values: Sequence[str], family: int, label: str, comment: str
    ) -> tuple[tuple[Network, ...], str | None]:
        nets: list[Network] = []
        for value in values:
            if value in names:
                nets += [n for n in zones.effective[value] if n.version == family]
            else:
                net = ipaddress.ip_network(value)
                if net.version == family:
                    nets.append(net)
        merged = tuple(_collapse(nets))
        if len(values) == 1 and values[0] in names:
            return merged, zone_set(values[0], family) if merged else None
        if len(merged) > 1:
            sets[label] = (family, list(merged), comment)
            return merged, label
        return merged, None

    rules: list[FirewallRule] = []
    entries: list[tuple[str, Flow, dt.date | None]] = [("flow", f, None) for f in policy.flows]
    entries += [("exception", e, e.expires) for e in policy.active_exceptions(today)]
    for index, (kind, flow, expires) in enumerate(entries, start=1):
        for family, _, _ in _FAMILIES:
            src, src_set = endpoint(
                flow.from_, family, f"r{index}_src_v{family}", f"sources of {flow.name}"
            )
            dst, dst_set = endpoint(
                flow.to, family, f"r{index}_dst_v{family}", f"destinations of {flow.name}"
            )
            if not src or not dst:
                continue
            rules.append(
                FirewallRule(
                    "accept",
                    kind,
                    flow.name,
                    family,
                    src,
                    src_set,
                    dst,
                    dst_set,
                    flow.protocol,
                    flow.port_spans(),
                    expires,
                )
            )
    for direction in ("egress", "ingress"):
        for zone in policy.zones:
            if getattr(zone, direction) != "deny":
                continue
            for family, _, _ in _FAMILIES:
                nets = tuple(n for n in zones.effective[zone.name] if n.version == family)
                if not nets:
                    continue
                name = zone_set(zone.name, family)
                rules.append(
                    FirewallRule(
                        "drop",
                        f"{direction}-default",
                        zone.name,
                        family,
                        nets if direction == "egress" else None,
                        name if direction == "egress" else None,
                        nets if direction == "ingress" else None,
                        name if direction == "ingress" else None,
                        "any",
                        (),
                    )
                )
    internet = any(z.internet for z in policy.zones)
    chain_policy = "accept" if internet or policy.default == "allow" else "drop"
    if chain_policy == "drop":
        # Unzoned addresses are denied; traffic between zones that both allow still passes.
        for family, _, _ in _FAMILIES:
            everything = [n for nets in zones.effective.values() for n in nets]
            zoned = tuple(_collapse([n for n in everything if n.version == family]))
            if not zoned:
                continue
            label = f"zoned_v{family}"
            sets[label] = (family, list(zoned), "every zone")
            rules.append(
                FirewallRule(
                    "accept",
                    "zoned-default",
                    "zones",
                    family,
                    zoned,
                    label,
                    zoned,
                    label,
                    "any",
                    (),
                )
            )
    return Ruleset(policy, today, zones, sets, rules, chain_policy)


def _comment(text: str) -> str:
    cleaned = "".join(c for c in text if c.isprintable() and c not in '"\\')
    return cleaned[:120]


def _match(prefix: str, direction: str, nets: tuple[Network, ...] | None, named: str | None) -> str:
    if nets is None:
        return ""
    if named is not None:
        return f"{prefix} {direction} @{named} "
    net = nets[0]
    single = net.network_address if net.prefixlen == net.max_prefixlen else net
    return f"{prefix} {direction} {single} "


def _ports(protocol: str, ports: tuple[tuple[int, int], ...], family: int) -> str:
    if protocol == "icmp":
        return "meta l4proto icmp " if family == 4 else "meta l4proto ipv6-icmp "
    if protocol == "any":
        return ""
    if not ports:
        return f"meta l4proto {protocol} "
    items = [str(low) if low == high else f"{low}-{high}" for low, high in ports]
    if len(items) == 1:
        return f"{protocol} dport {items[0]} "
    return f"{protocol} dport {{ {', '.join(items)} }} "


def nftables(policy: SegmentationPolicy, today: dt.date | None = None) -> str:
    """The policy as an nftables script (``nft -f``): it replaces the table
    ``inet carewarden_seg`` whole, so loading it again is safe."""
    built = ruleset(policy, today)
    lines = [
        "#!/usr/sbin/nft -f",
        f"# Carewarden network segmentation: {_comment(policy.name)}",
        f"# Generated for {built.today.isoformat()} by `carewarden segmentation export`.",
        "# Forwarded traffic only (a router or firewall between the zones). Most specific CIDR",
        "# wins: each zone set holds its CIDRs less the more specific CIDRs of other zones.",
    ]
    for name in (e.name for e in policy.expired_exceptions(built.today)):
        lines.append(f"# Expired exception left out: {_comment(name)}")
    lines += [
        f"table inet {TABLE}",
        f"delete table inet {TABLE}",
        "",
        f"table inet {TABLE} {{",
    ]
    for name, (family, nets, comment) in built.sets.items():
        kind = dict((f, t) for f, _, t in _FAMILIES)[family]
        lines += [
            f"\tset {name} {{",
            f"\t\ttype {kind}",
            "\t\tflags interval",
            f'\t\tcomment "{_comment(comment)}"',
            f"\t\telements = {{ {', '.join(str(n) for n in nets)} }}",
            "\t}",
        ]
    lines += [
        "",
        "\tchain forward {",
        f"\t\ttype filter hook forward priority filter; policy {built.chain_policy};",
        '\t\tct state established,related counter accept comment "replies of allowed flows"',
        '\t\tct state invalid counter drop comment "invalid state"',
    ]
    for rule in built.rules:
        prefix = "ip" if rule.family == 4 else "ip6"
        text = (
            _match(prefix, "saddr", rule.source, rule.source_set)
            + _match(prefix, "daddr", rule.destination, rule.destination_set)
            + _ports(rule.protocol, rule.ports, rule.family)
        )
        if rule.kind == "exception" and rule.expires:
            label = f"exception: {rule.name} (expires {rule.expires.isoformat()})"
        elif rule.kind == "flow":
            label = f"flow: {rule.name}"
        elif rule.kind == "zoned-default":
            label = "between zones that allow by default"
        else:
            label = f"{rule.name}: {rule.kind.replace('-', ' ')} deny"
        lines.append(f'\t\t{text}counter {rule.action} comment "{_comment(label)}"')
    lines += ["\t}", "}", ""]
    return "\n".join(lines)


def rules_json(policy: SegmentationPolicy, today: dt.date | None = None) -> dict[str, Any]:
    """The same rules as :func:`nftables`, as data: zones with their effective CIDRs, then
    the ordered rules (first match wins), then the default."""
    return ruleset(policy, today).as_dict()
