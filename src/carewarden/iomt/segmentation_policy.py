"""The network segmentation policy: zones, the flows allowed between them, and time-boxed
exceptions, in one YAML file a hospital edits (``segmentation_example.yaml`` beside this
module documents every field).

Semantics, shared by ``carewarden segmentation check`` and the nftables export:

- A **zone** is a set of CIDRs (IPv4 or IPv6). An address belongs to the zone of the *most
  specific* CIDR containing it (a pump at 10.20.1.5 is in ``infusion_pumps`` 10.20.0.0/16,
  not in ``clinical`` 10.0.0.0/8). Two zones declaring the very same CIDR is an error.
- A zone marked ``internet: true`` (at most one, with no CIDRs of its own) holds every
  address outside all the other zones. Without one, such addresses are *unzoned* and the
  policy's top-level ``default`` decides for them.
- A flow is **allowed** when a ``flows`` entry or an unexpired ``exceptions`` entry matches it
  (source in ``from``, destination in ``to``, protocol, destination port), or else when the
  source zone's ``egress`` and the destination zone's ``ingress`` are both ``allow``.
  Both default to ``deny``: an IoMT zone talks only as its flows say, and only what its flows
  say may reach it. Everything else is a violation.
- An exception whose ``expires`` date has passed is ignored (and reported as expired).
"""

from __future__ import annotations

import bisect
import datetime as dt
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from carewarden.config import load_yaml_model

EXAMPLE_POLICY = Path(__file__).parent / "segmentation_example.yaml"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Action = Literal["allow", "deny"]
Protocol = Literal["tcp", "udp", "icmp", "any"]
Criticality = Literal["low", "medium", "high", "critical"]
CRITICALITY_ORDER: tuple[Criticality, ...] = ("low", "medium", "high", "critical")

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
_FLOW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/ -]{0,79}$")
_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
UNZONED = "(unzoned)"


def parse_network(text: str) -> Network:
    """A CIDR or a single host address (``10.1.2.3`` is ``10.1.2.3/32``), host bits set
    refused (``10.1.2.3/16`` is a typo more often than not)."""
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a CIDR or IP address ({exc})") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Zone(_Strict):
    """A named part of the network."""

    name: str
    description: str = ""
    cidrs: list[str] = []
    # Device classes of the asset inventory whose addresses join this zone (resolved by the
    # caller: see ZoneMap(class_addresses=...)). CIDRs are the contract; classes add hosts.
    device_classes: list[str] = []
    iomt: bool = False  # medical devices: violations are IoMT findings, internet is critical
    internet: bool = False  # every address outside all other zones
    criticality: Criticality = "medium"  # the severity of a violation from or into the zone
    egress: Action = "deny"  # flows from this zone that no entry allows
    ingress: Action = "deny"  # flows into this zone that no entry allows

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"zone name {value!r} must be lower case letters, digits and _ "
                "(at most 31, starting with a letter): it names nftables sets"
            )
        return value

    @field_validator("cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            parse_network(cidr)
        return value

    @model_validator(mode="after")
    def _members(self) -> Zone:
        if self.internet and (self.cidrs or self.device_classes):
            raise ValueError(
                f"zone {self.name!r}: an internet zone has no cidrs or device_classes "
                "(it is every address outside the other zones)"
            )
        if not self.internet and not self.cidrs and not self.device_classes:
            raise ValueError(f"zone {self.name!r}: give cidrs (or device_classes)")
        return self

    def networks(self) -> list[Network]:
        return [parse_network(c) for c in self.cidrs]


PortSpec = int | str


def parse_ports(ports: Sequence[PortSpec]) -> tuple[tuple[int, int], ...]:
    """Ports and ``"low-high"`` ranges as sorted, merged (low, high) pairs."""
    spans: list[tuple[int, int]] = []
    for port in ports:
        if isinstance(port, int):
            low = high = port
        else:
            found = _RANGE.match(port)
            if found is None:
                if not port.strip().isdigit():
                    raise ValueError(f"port {port!r} is not a number or a range like 8000-8010")
                low = high = int(port)
            else:
                low, high = int(found.group(1)), int(found.group(2))
        if not (1 <= low <= 65535 and 1 <= high <= 65535):
            raise ValueError(f"port {port!r} is out of range (1-65535)")
        if low > high:
            raise ValueError(f"port range {port!r} runs backwards")
        spans.append((low, high))
    merged: list[tuple[int, int]] = []
    for low, high in sorted(spans):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return tuple(merged)


class Flow(_Strict):
    """Traffic the policy allows: from zones (or CIDRs) to zones (or CIDRs or hosts)."""

    name: str
    from_: list[str] = Field(alias="from", min_length=1)
    to: list[str] = Field(min_length=1)
    protocol: Protocol = "tcp"
    ports: list[PortSpec] = []  # none: every port of the protocol (tcp/udp only)
    description: str = ""  # what it is for: the justification an auditor reads

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _flow_name(cls, value: str) -> str:
        if not _FLOW_NAME.match(value):
            raise ValueError(
                f"flow name {value!r}: letters, digits, space and _.:/- only (at most 80)"
            )
        return value

    @model_validator(mode="after")
    def _ports(self) -> Flow:
        if self.ports and self.protocol in ("icmp", "any"):
            raise ValueError(f"flow {self.name!r}: ports only go with tcp or udp")
        try:
            parse_ports(self.ports)
        except ValueError as exc:
            raise ValueError(f"flow {self.name!r}: {exc}") from None
        return self

    def port_spans(self) -> tuple[tuple[int, int], ...]:
        return parse_ports(self.ports)


class FlowException(Flow):
    """An allowed flow for a limited time (a vendor's remote support session, a migration)."""

    expires: dt.date = Field(strict=False)
    justification: str = Field(min_length=1)
    ticket: str = ""


class SegmentationPolicy(_Strict):
    version: Literal[1] = 1
    name: str = "segmentation policy"
    default: Action = "deny"  # addresses in no zone (only without an internet zone)
    zones: list[Zone] = Field(min_length=1)
    flows: list[Flow] = []
    exceptions: list[FlowException] = []

    @model_validator(mode="after")
    def _references(self) -> SegmentationPolicy:
        names = [z.name for z in self.zones]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"zones: {', '.join(dupes)} declared more than once")
        if sum(z.internet for z in self.zones) > 1:
            raise ValueError("zones: at most one zone is the internet")
        owner: dict[Network, str] = {}
        for zone in self.zones:
            for net in zone.networks():
                if net in owner and owner[net] != zone.name:
                    raise ValueError(
                        f"zones: {net} is in both {owner[net]!r} and {zone.name!r} "
                        "(a CIDR may belong to one zone; nest a more specific one instead)"
                    )
                owner[net] = zone.name
        entries: list[tuple[str, Flow]] = [(f"flows[{i}]", f) for i, f in enumerate(self.flows)]
        entries += [(f"exceptions[{i}]", e) for i, e in enumerate(self.exceptions)]
        seen: set[str] = set()
        known = set(names)
        for where, flow in entries:
            if flow.name in seen:
                raise ValueError(f"{where}: flow name {flow.name!r} is used twice")
            seen.add(flow.name)
            for side, values in (("from", flow.from_), ("to", flow.to)):
                for value in values:
                    if value in known:
                        continue
                    if _NAME.match(value):
                        raise ValueError(
                            f"{where} ({flow.name}): {side}: unknown zone {value!r} "
                            f"(zones: {', '.join(names)})"
                        )
                    try:
                        parse_network(value)
                    except ValueError as exc:
                        raise ValueError(
                            f"{where} ({flow.name}): {side}: neither a zone nor an address: {exc}"
                        ) from None
        return self

    @classmethod
    def load(cls, path: Path | None = None) -> SegmentationPolicy:
        return load_yaml_model(cls, path or EXAMPLE_POLICY, "segmentation policy")

    def zone(self, name: str) -> Zone:
        return next(z for z in self.zones if z.name == name)

    def active_exceptions(self, today: dt.date) -> list[FlowException]:
        return [e for e in self.exceptions if e.expires >= today]

    def expired_exceptions(self, today: dt.date) -> list[FlowException]:
        return [e for e in self.exceptions if e.expires < today]

    def rules(self, today: dt.date) -> list[Flow]:
        """The flows in force on ``today``: the allowed flows, then the unexpired exceptions."""
        return [*self.flows, *self.active_exceptions(today)]


# -- address to zone ----------------------------------------------------------------------


def collapse(nets: Iterable[Network]) -> list[Network]:
    """The fewest networks covering ``nets``, IPv4 then IPv6, in address order."""
    listed = list(nets)
    v4 = [n for n in listed if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in listed if isinstance(n, ipaddress.IPv6Network)]
    return [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]


def _exclude(net: Network, holes: Iterable[Network]) -> list[Network]:
    """``net`` without the (nested) networks ``holes``."""
    parts: list[Network] = [net]
    for hole in holes:
        out: list[Network] = []
        for part in parts:
            if part.version != hole.version:
                out.append(part)
            elif hole.supernet_of(part):  # type: ignore[arg-type]
                continue
            elif part.supernet_of(hole):  # type: ignore[arg-type]
                out.extend(part.address_exclude(hole))  # type: ignore[arg-type]
            else:
                out.append(part)
        parts = out
    return sorted(parts, key=lambda n: (n.version, int(n.network_address)))


@dataclass(frozen=True)
class ZoneMap:
    """Every address to its zone, by the most specific CIDR.

    ``effective[zone]`` lists disjoint networks: the zone's CIDRs less the more specific
    CIDRs of other zones (and, for an internet zone, everything outside all zones). The same
    sets feed the nftables export, so the firewall and the check agree."""

    effective: dict[str, list[Network]]
    _starts: dict[int, list[int]]
    _spans: dict[int, list[tuple[int, int, str]]]

    @classmethod
    def build(
        cls,
        policy: SegmentationPolicy,
        class_addresses: Mapping[str, Sequence[str]] | None = None,
    ) -> ZoneMap:
        """``class_addresses`` (device class → addresses, from an asset inventory) adds the
        devices of each zone's ``device_classes`` to it as host addresses."""
        declared: list[tuple[Network, str]] = []
        for zone in policy.zones:
            nets = list(zone.networks())
            for device_class in zone.device_classes:
                for address in (class_addresses or {}).get(device_class, ()):
                    try:
                        nets.append(ipaddress.ip_network(address))
                    except ValueError:
                        continue
            declared += [(n, zone.name) for n in collapse(nets)]
        effective: dict[str, list[Network]] = {z.name: [] for z in policy.zones}
        for net, name in declared:
            holes = [
                other
                for other, other_name in declared
                if other_name != name
                and other.version == net.version
                and other.prefixlen > net.prefixlen
                and other.subnet_of(net)  # type: ignore[arg-type]
            ]
            effective[name] += _exclude(net, holes)
        internet = next((z.name for z in policy.zones if z.internet), None)
        if internet is not None:
            for root in (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")):
                zoned = [n for n, _ in declared if n.version == root.version]
                holes = collapse(zoned)
                effective[internet] += _exclude(root, holes)
        for name in effective:
            effective[name].sort(key=lambda n: (n.version, int(n.network_address)))
        spans: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
        for name, nets in effective.items():
            for net in nets:
                spans[net.version].append(
                    (int(net.network_address), int(net.broadcast_address), name)
                )
        for version in spans:
            spans[version].sort()
        starts = {v: [s[0] for s in spans[v]] for v in spans}
        return cls(effective, starts, spans)

    def zone_of(self, address: str | Address) -> str | None:
        """The zone of an address; None when it is in no zone (or is no address)."""
        if isinstance(address, str):
            try:
                address = ipaddress.ip_address(address.strip().split("%", 1)[0])
            except ValueError:
                return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        value = int(address)
        spans = self._spans[address.version]
        at = bisect.bisect_right(self._starts[address.version], value) - 1
        if at >= 0 and spans[at][0] <= value <= spans[at][1]:
            return spans[at][2]
        return None


# -- one flow against the policy -----------------------------------------------------------


@dataclass(frozen=True)
class _Endpoint:
    zones: frozenset[str]
    networks: tuple[Network, ...]

    @classmethod
    def of(cls, values: Sequence[str], zones: set[str]) -> _Endpoint:
        return cls(
            frozenset(v for v in values if v in zones),
            tuple(parse_network(v) for v in values if v not in zones),
        )

    def contains(self, zone: str | None, address: Address | None) -> bool:
        if zone is not None and zone in self.zones:
            return True
        return address is not None and any(address in n for n in self.networks)


@dataclass(frozen=True)
class CompiledFlow:
    flow: Flow
    source: _Endpoint
    destination: _Endpoint
    ports: tuple[tuple[int, int], ...]
    exception: bool

    def matches(
        self,
        src_zone: str | None,
        src: Address | None,
        dst_zone: str | None,
        dst: Address | None,
        protocol: str,
        port: int | None,
    ) -> bool:
        wanted = self.flow.protocol
        if wanted != "any" and wanted != protocol:
            return False
        if (
            self.ports
            and wanted in ("tcp", "udp")
            and (port is None or not any(low <= port <= high for low, high in self.ports))
        ):
            return False
        return self.source.contains(src_zone, src) and self.destination.contains(dst_zone, dst)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    src_zone: str | None
    dst_zone: str | None
    flow: str | None  # the policy entry that allowed it, if one did
    reason: str  # why: the entry, the zones' defaults, or what denied it


class Evaluator:
    """Decides observed flows against a policy on a given day (exceptions then in force)."""

    def __init__(
        self,
        policy: SegmentationPolicy,
        today: dt.date,
        zones: ZoneMap | None = None,
    ) -> None:
        self.policy = policy
        self.zones = zones or ZoneMap.build(policy)
        names = {z.name for z in policy.zones}
        exceptions = {e.name for e in policy.active_exceptions(today)}
        self.rules = [
            CompiledFlow(
                f,
                _Endpoint.of(f.from_, names),
                _Endpoint.of(f.to, names),
                f.port_spans(),
                f.name in exceptions,
            )
            for f in policy.rules(today)
        ]
        self._zone = {z.name: z for z in policy.zones}
        # The rules that can match a source zone (those naming it, or naming CIDRs), in order.
        self._by_source: dict[str | None, list[CompiledFlow]] = {
            zone: [r for r in self.rules if zone in r.source.zones or r.source.networks]
            for zone in [*self._zone, None]
        }
        # A verdict depends on an address only through its zone and the literal networks
        # (flow ends given as CIDRs or hosts) holding it: decided once per such signature.
        self._literals = sorted(
            {n for r in self.rules for n in (*r.source.networks, *r.destination.networks)},
            key=lambda n: (n.version, int(n.network_address), n.prefixlen),
        )
        self._located: dict[str, tuple[str | None, Address | None, tuple[int, ...]]] = {}
        self._verdicts: dict[tuple[object, ...], Verdict] = {}

    def locate(self, text: str) -> tuple[str | None, Address | None, tuple[int, ...]]:
        """(zone, parsed address, literal networks holding it) of an address, cached:
        flows far outnumber addresses."""
        found = self._located.get(text)
        if found is None:
            address = _address(text)
            zone = self.zones.zone_of(address) if address is not None else None
            inside = (
                tuple(i for i, n in enumerate(self._literals) if address in n)
                if address is not None
                else ()
            )
            found = self._located[text] = (zone, address, inside)
        return found

    def egress(self, zone: str | None) -> Action:
        return self._zone[zone].egress if zone is not None else self.policy.default

    def ingress(self, zone: str | None) -> Action:
        return self._zone[zone].ingress if zone is not None else self.policy.default

    def decide(self, src_ip: str, dst_ip: str, protocol: str, port: int | None) -> Verdict:
        src_zone, src, src_in = self.locate(src_ip)
        dst_zone, dst, dst_in = self.locate(dst_ip)
        key = (src_zone, src_in, dst_zone, dst_in, protocol, port)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verdicts[key] = self._decide(
                src_zone, src, dst_zone, dst, protocol, port
            )
        return verdict

    def _decide(
        self,
        src_zone: str | None,
        src: Address | None,
        dst_zone: str | None,
        dst: Address | None,
        protocol: str,
        port: int | None,
    ) -> Verdict:
        for rule in self._by_source[src_zone]:
            if rule.matches(src_zone, src, dst_zone, dst, protocol, port):
                kind = "exception" if rule.exception else "flow"
                return Verdict(True, src_zone, dst_zone, rule.flow.name, f"{kind} {rule.flow.name}")
        out, into = self.egress(src_zone), self.ingress(dst_zone)
        if out == "allow" and into == "allow":
            return Verdict(True, src_zone, dst_zone, None, "both zones allow by default")
        denied = []
        if out == "deny":
            denied.append(f"{src_zone or UNZONED} denies egress")
        if into == "deny":
            denied.append(f"{dst_zone or UNZONED} denies ingress")
        return Verdict(False, src_zone, dst_zone, None, "no flow allows it; " + ", ".join(denied))


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def worst(*levels: Criticality) -> Criticality:
    return max(levels, key=CRITICALITY_ORDER.index)
