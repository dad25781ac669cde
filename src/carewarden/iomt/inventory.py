"""The device inventory: observations of the network and CMDB rows merged into devices.

Observations come from ``security_event`` (Zeek dhcp, conn, http, ssl and x509; Suricata
dhcp, flow, http and tls) and from ``asset_import`` (CMDB/CSV rows). They become devices so:

1. **Identity by MAC first.** Every DHCP message names the client's MAC: a MAC is one device
   whatever addresses it holds over time.
2. **Addresses over time.** DHCP leases give, per IP address, who held it when: the holder
   from its lease until another MAC leases the address (the first holder also owns what was
   seen before its first lease). A connection, request or certificate seen on an address is
   given to the device that held the address at that moment, so the same IP leased to two
   MACs at different times stays two devices, and DHCP churn splits nothing.
3. **Static addresses.** An internal address never leased is one device (``ip:<address>``):
   a statically addressed server seen only in connection logs is still an asset (only
   addresses that answered, or that started connections, count; a connection attempt that
   nobody answered makes no device).
4. **CMDB rows** join the device with their MAC, else the one device with their host name,
   else the device that last held their address, else stand alone (``cmdb:<key>``).

Only internal addresses (RFC 1918, 100.64/10, IPv6 ULA by default; the site network file adds
networks) make devices: the internet hosts a device talks to are peers, not assets.
Each device is then classified (:mod:`carewarden.iomt.classify`) and stored in ``asset``
with its evidence in ``asset_evidence``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
from blake3 import blake3

from carewarden.iomt import classify as cl
from carewarden.iomt.oui import OuiTable, locally_administered, normalise_mac
from carewarden.store import Store
from carewarden.store.store import utcnow

DEFAULT_INTERNAL: tuple[str, ...] = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
)
NEVER = dt.datetime(1970, 1, 1)
FOREVER = dt.datetime(9999, 1, 1)
# Connection states (Zeek conn_state) in which the responder never answered.
UNANSWERED = ("S0", "REJ", "OTH", "RSTOS0", "SH", "SHR")


@dataclass
class Device:
    """A device being assembled from its observations."""

    identity: str
    macs: set[str] = field(default_factory=set)
    ips: dict[str, tuple[dt.datetime, dt.datetime]] = field(default_factory=dict)
    hostnames: Counter[str] = field(default_factory=Counter)
    evidence: dict[tuple[str, str], cl.Evidence] = field(default_factory=dict)
    sources: set[str] = field(default_factory=set)
    protocols: set[str] = field(default_factory=set)
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    vendor: str | None = None
    model: str | None = None
    os: str | None = None
    os_unsupported: bool = False
    zone: str | None = None
    stated_vendor: str | None = None
    stated_model: str | None = None
    serves: dict[tuple[int, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    uses: dict[tuple[int, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    connections: Counter[tuple[str, int, str]] = field(default_factory=Counter)

    def seen(self, source: str, first: dt.datetime | None, last: dt.datetime | None) -> None:
        self.sources.add(source)
        if first is not None:
            self.first_seen = first if self.first_seen is None else min(self.first_seen, first)
        if last is not None:
            self.last_seen = last if self.last_seen is None else max(self.last_seen, last)

    def see_ip(self, ip: str, first: dt.datetime, last: dt.datetime) -> None:
        old = self.ips.get(ip)
        self.ips[ip] = (min(old[0], first), max(old[1], last)) if old else (first, last)

    def add(self, items: list[cl.Evidence]) -> None:
        for item in items:
            self.evidence.setdefault((item.source, item.observation), item)

    @property
    def asset_id(self) -> str:
        return "A-" + blake3(self.identity.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Settings:
    """How discovery reads the network: internal networks, site ports, the OUI table."""

    internal: tuple[str, ...] = DEFAULT_INTERNAL
    ports: tuple[cl.PortRule, ...] = ()


@dataclass
class DiscoverySummary:
    devices: int = 0
    by_class: Counter[str] = field(default_factory=Counter)
    observations: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


class _Networks:
    def __init__(self, cidrs: tuple[str, ...]) -> None:
        self.nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]
        self._cache: dict[str, bool] = {}

    def internal(self, ip: str | None) -> bool:
        if not ip:
            return False
        found = self._cache.get(ip)
        if found is None:
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                found = False
            else:
                found = any(address in n for n in self.nets) and not (
                    address.is_multicast or address.is_unspecified
                ) and not ip.endswith(".255")
            self._cache[ip] = found
        return found


def _json(raw: str) -> dict[str, Any]:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _get(doc: dict[str, Any], *names: str) -> str | None:
    """A text field by its Zeek name, flat (``id.orig_h``) or nested, first one set."""
    for name in names:
        value: Any = doc.get(name)
        if value is None and "." in name:
            value = doc
            for part in name.split("."):
                value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, list):
            value = ",".join(str(v) for v in value) if value else None
        if value not in (None, "", "-", "0.0.0.0"):
            return str(value)
    return None


@dataclass(frozen=True)
class DhcpSighting:
    time: dt.datetime
    source: str
    mac: str
    ip: str | None
    hostname: str | None
    vendor_class: str | None
    params: str | None


def dhcp_sightings(store: Store) -> list[DhcpSighting]:
    out: list[DhcpSighting] = []
    for batch in store.row_batches(
        "SELECT time, provider, raw FROM security_event "
        "WHERE provider IN ('zeek/dhcp', 'suricata/dhcp') ORDER BY time, event_uid"
    ):
        for when, provider, raw in batch:
            doc = _json(raw)
            if provider == "suricata/dhcp":
                inner = doc.get("dhcp")
                doc = inner if isinstance(inner, dict) else {}
                mac_text = _get(doc, "client_mac")
                ip = _get(doc, "assigned_ip", "client_ip")
                host = _get(doc, "hostname")
                vendor_class = _get(doc, "vendor_class_identifier")
                params = None
            else:
                mac_text = _get(doc, "mac")
                ip = _get(doc, "assigned_addr", "client_addr")
                host = _get(doc, "host_name", "client_fqdn")
                vendor_class = _get(doc, "client_software", "vendor_class")
                params = _get(doc, "param_list", "fingerprint")
            mac = normalise_mac(mac_text) if mac_text else None
            if mac is None:
                continue
            out.append(DhcpSighting(when, provider, mac, ip, host, vendor_class, params))
    return out


def leases(sightings: list[DhcpSighting]) -> pa.Table:
    """(ip, start, end, key): who held each leased address when."""
    by_ip: dict[str, list[tuple[dt.datetime, str]]] = defaultdict(list)
    for s in sightings:
        if s.ip:
            by_ip[s.ip].append((s.time, s.mac))
    ips: list[str] = []
    starts: list[dt.datetime] = []
    ends: list[dt.datetime] = []
    keys: list[str] = []
    for ip, held in by_ip.items():
        held.sort()
        runs: list[tuple[dt.datetime, str]] = []
        for when, mac in held:
            if not runs or runs[-1][1] != mac:
                runs.append((when, mac))
        for index, (when, mac) in enumerate(runs):
            ips.append(ip)
            starts.append(NEVER if index == 0 else when)
            ends.append(runs[index + 1][0] if index + 1 < len(runs) else FOREVER)
            keys.append(f"mac:{mac}")
    return pa.table(
        {
            "ip": pa.array(ips, pa.string()),
            "start": pa.array(starts, pa.timestamp("us")),
            "end": pa.array(ends, pa.timestamp("us")),
            "key": pa.array(keys, pa.string()),
        }
    )


def _subnet(ip: str) -> str | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


class Inventory:
    """Builds the devices of one store (:func:`discover` is the entry point)."""

    def __init__(self, store: Store, settings: Settings, oui: OuiTable) -> None:
        self.store = store
        self.settings = settings
        self.oui = oui
        self.networks = _Networks(settings.internal)
        self.rules = cl.port_rules(settings.ports)
        self.devices: dict[str, Device] = {}
        self.summary = DiscoverySummary()

    def device(self, key: str) -> Device:
        found = self.devices.get(key)
        if found is None:
            found = self.devices[key] = Device(key)
            if key.startswith("mac:"):
                found.macs.add(key[4:])
        return found

    # -- DHCP ------------------------------------------------------------------------------
    def read_dhcp(self, sightings: list[DhcpSighting]) -> None:
        for s in sightings:
            self.summary.observations[s.source] += 1
            d = self.device(f"mac:{s.mac}")
            d.seen(s.source, s.time, s.time)
            if s.ip and self.networks.internal(s.ip):
                d.see_ip(s.ip, s.time, s.time)
            if s.hostname:
                d.hostnames[s.hostname.lower().rstrip(".")] += 1
            if s.vendor_class or s.params:
                d.add(cl.dhcp_evidence(s.vendor_class, s.params, s.source))
                d.model = d.model or cl.device_model(s.vendor_class)
                d.os = d.os or cl.dhcp_os(s.vendor_class)

    # -- flows -----------------------------------------------------------------------------
    def _keyed(self, select: str, name: str) -> None:
        """A temp table ``name`` of ``select``'s rows with the device key of their source
        (``okey``) and destination (``rkey``) addresses at their time."""
        self.store.query(
            f"""
            CREATE OR REPLACE TEMP TABLE {name} AS
            SELECT f.*, coalesce(ls.key, 'ip:' || f.src_ip) AS okey,
                   coalesce(ld.key, 'ip:' || f.dst_ip) AS rkey
            FROM ({select}) f
            LEFT JOIN _leases ls ON ls.ip = f.src_ip AND f.time >= ls.start AND f.time < ls."end"
            LEFT JOIN _leases ld ON ld.ip = f.dst_ip AND f.time >= ld.start AND f.time < ld."end"
            """
        )

    def read_flows(self) -> None:
        self._keyed(
            """
            SELECT time, provider, src_ip, dst_ip, try_cast(dst_port AS INTEGER) AS port,
                   lower(coalesce(json_extract_string(raw, '$.proto'), 'tcp')) AS proto,
                   coalesce(status, '') NOT IN ('S0', 'REJ', 'OTH', 'RSTOS0', 'SH', 'SHR')
                       AS answered
            FROM security_event WHERE provider IN ('zeek/conn', 'suricata/flow')
            """,
            "_flows",
        )
        rows = self.store.query(
            "SELECT provider, okey, src_ip, rkey, dst_ip, port, proto, bool_or(answered), "
            "count(*), min(time), max(time) FROM _flows GROUP BY ALL"
        )
        for provider, okey, src, rkey, dst, port, proto, answered, n, first, last in rows:
            self.summary.observations[provider] += int(n)
            src_in, dst_in = self.networks.internal(src), self.networks.internal(dst)
            if src_in:
                d = self.device(okey)
                d.seen(provider, first, last)
                d.see_ip(src, first, last)
                if port is not None:
                    d.uses[(int(port), proto)].add(rkey if dst_in else f"ext:{dst}")
                    d.connections[("to", int(port), proto)] += int(n)
            if dst_in and answered:
                d = self.device(rkey)
                d.seen(provider, first, last)
                d.see_ip(dst, first, last)
                if port is not None:
                    d.serves[(int(port), proto)].add(okey if src_in else f"ext:{src}")
                    d.connections[("from", int(port), proto)] += int(n)
        self.store.query("DROP TABLE IF EXISTS _flows")

    # -- HTTP and TLS ----------------------------------------------------------------------
    def read_http(self) -> None:
        self._keyed(
            """
            SELECT time, provider, src_ip, dst_ip, dns_query AS host,
                   coalesce(json_extract_string(raw, '$.user_agent'),
                            json_extract_string(raw, '$.http.http_user_agent')) AS agent
            FROM security_event WHERE provider IN ('zeek/http', 'suricata/http')
            """,
            "_http",
        )
        rows = self.store.query(
            "SELECT provider, okey, src_ip, rkey, dst_ip, agent, host, count(*), min(time), "
            "max(time) FROM _http GROUP BY ALL"
        )
        for provider, okey, src, rkey, dst, agent, host, n, first, last in rows:
            self.summary.observations[provider] += int(n)
            if agent and self.networks.internal(src):
                d = self.device(okey)
                d.seen(provider, first, last)
                d.see_ip(src, first, last)
                d.add(cl.agent_evidence(agent, provider))
                reading = cl.read_user_agent(agent)
                if reading.os and (d.os is None or d.os == "Windows"):
                    d.os, d.os_unsupported = reading.os, reading.unsupported
                if reading.product and d.model is None:
                    d.model = reading.product.split("/", 1)[0]
            if host and self.networks.internal(dst):
                name = host.split(":", 1)[0].lower()
                if not _is_address(name):
                    d = self.device(rkey)
                    d.seen(provider, first, last)
                    d.see_ip(dst, first, last)
                    d.add(cl.name_evidence("HTTP host", name, provider))
        self.store.query("DROP TABLE IF EXISTS _http")

    def read_tls(self) -> None:
        self._keyed(
            """
            SELECT s.time, s.provider, s.src_ip, s.dst_ip, s.dns_query AS sni,
                   coalesce(x.subject, json_extract_string(s.raw, '$.tls.subject')) AS subject
            FROM (
                SELECT *, coalesce(json_extract_string(raw, '$.cert_chain_fps[0]'),
                                   json_extract_string(raw, '$.cert_chain_fuids[0]')) AS fp
                FROM security_event WHERE provider IN ('zeek/ssl', 'suricata/tls')
            ) s
            LEFT JOIN (
                SELECT coalesce(json_extract_string(raw, '$.fingerprint'),
                                json_extract_string(raw, '$.id')) AS fp,
                       any_value(coalesce(json_extract_string(raw, '$."certificate.subject"'),
                                          json_extract_string(raw, '$.certificate.subject')))
                           AS subject
                FROM security_event WHERE provider = 'zeek/x509' GROUP BY 1
            ) x ON x.fp = s.fp
            """,
            "_tls",
        )
        rows = self.store.query(
            "SELECT provider, rkey, dst_ip, sni, subject, count(*), min(time), max(time) "
            "FROM _tls GROUP BY ALL"
        )
        for provider, rkey, dst, sni, subject, n, first, last in rows:
            self.summary.observations[provider] += int(n)
            if not self.networks.internal(dst):
                continue
            d = self.device(rkey)
            d.seen(provider, first, last)
            d.see_ip(dst, first, last)
            names = {sni.lower()} if sni and not _is_address(sni) else set()
            fields = _subject(subject) if subject else {}
            if fields.get("CN") and not _is_address(fields["CN"]):
                names.add(fields["CN"].lower())
            for name in sorted(names):
                d.add(cl.name_evidence("certificate", name, provider))
                if "." in name or not d.hostnames:
                    d.hostnames[name] += 0  # a name it answers to, never a DHCP name's rival
            if fields.get("O"):  # often the site's own CA: a clue, never the vendor
                d.add(cl.name_evidence("certificate", fields["O"], provider))
        self.store.query("DROP TABLE IF EXISTS _tls")

    # -- CMDB rows -------------------------------------------------------------------------
    def read_imports(self) -> None:
        rows = self.store.arrow(
            "SELECT line, mac, ip, hostname, class, class_text, vendor, model, os, serial, "
            "location, zone, s.path, record_uid FROM asset_import i "
            "LEFT JOIN source_file s USING (file_id) ORDER BY s.path, line"
        ).to_pylist()
        by_host: dict[str, set[str]] = defaultdict(set)
        by_ip: dict[str, tuple[dt.datetime, str]] = {}  # address -> its latest holder
        for key, d in self.devices.items():
            for name in d.hostnames:
                by_host[name.split(".", 1)[0]].add(key)
            for ip, (_, last) in d.ips.items():
                if ip not in by_ip or (last, key) > by_ip[ip]:
                    by_ip[ip] = (last, key)
        for row in rows:
            source = f"import:{(row['path'] or 'cmdb').rsplit('/', 1)[-1]}:{row['line']}"
            self.summary.observations["import"] += 1
            key = self._import_key(row, by_host, by_ip)
            d = self.device(key)
            d.seen("import", None, None)
            if row["mac"]:
                d.macs.add(row["mac"])
            if row["hostname"]:
                d.hostnames[row["hostname"].lower()] += 1
            if row["ip"] and row["ip"] not in d.ips and self.networks.internal(row["ip"]):
                d.ips[row["ip"]] = (NEVER, NEVER)
            if row["class"]:
                d.add([cl.Evidence(source, f"the CMDB states {row['class_text']!r}",
                                   row["class"], 0.9)])
            if row["model"]:
                d.add(cl.name_evidence("CMDB model", row["model"], source))
            d.stated_vendor = row["vendor"] or d.stated_vendor
            d.stated_model = row["model"] or d.stated_model
            d.os = row["os"] or d.os
            d.zone = row["zone"] or row["location"] or d.zone

    @staticmethod
    def _import_key(
        row: dict[str, Any],
        by_host: dict[str, set[str]],
        by_ip: dict[str, tuple[dt.datetime, str]],
    ) -> str:
        if row["mac"]:
            return f"mac:{row['mac']}"
        if row["hostname"]:
            found = by_host.get(row["hostname"].lower().split(".", 1)[0], set())
            if len(found) == 1:
                return next(iter(found))
        if row["ip"]:
            holder = by_ip.get(row["ip"])
            return holder[1] if holder else f"ip:{row['ip']}"
        return f"cmdb:{row['serial'] or row['hostname'] or row['record_uid']}"

    # -- classification --------------------------------------------------------------------
    def finish(self, d: Device) -> cl.Verdict:
        for mac in sorted(d.macs):
            vendor = self.oui.vendor(mac)
            if vendor:
                d.vendor = d.vendor or vendor
                d.add(cl.vendor_evidence(vendor, "oui", f"MAC {mac[:8]} is registered to"))
            elif locally_administered(mac):
                d.add([cl.Evidence("oui", f"MAC {mac} is randomised (locally administered)",
                                   None, 0.0)])
        for name, _ in d.hostnames.most_common():
            if d.hostnames[name] > 0:
                d.add(cl.name_evidence("host name", name, "hostname"))
        # Peers are counted per protocol: a PACS answers DICOM on 104 and 11112 alike.
        served: dict[str, tuple[cl.PortRule, set[str], list[str]]] = {}
        for (port, proto), peers in sorted(d.serves.items()):
            rule = self.rules.get((port, proto))
            if rule is None:
                continue
            d.protocols.add(f"serves {rule.protocol} {proto}/{port}")
            _, union, ports = served.setdefault(rule.protocol, (rule, set(), []))
            union |= peers
            ports.append(f"{proto}/{port}")
        for name, (rule, peers, ports) in served.items():
            if len(peers) >= rule.min_peers:
                for cls, weight in rule.server:
                    d.add([cl.Evidence("conn", f"serves {name} on {', '.join(ports)} to "
                                       f"{len(peers)} peer(s)", cls, weight)])
        for (port, proto), peers in sorted(d.uses.items()):
            rule = self.rules.get((port, proto))
            if rule is None:
                continue
            d.protocols.add(f"uses {rule.protocol} {proto}/{port}")
            for cls, weight in rule.client:
                d.add([cl.Evidence("conn", f"uses {rule.protocol} on {proto}/{port} "
                                   f"({len(peers)} peer(s))", cls, weight)])
        d.vendor = d.stated_vendor if d.stated_vendor and not d.vendor else d.vendor
        d.model = d.stated_model or d.model
        return cl.decide(d.evidence.values())

    def table(self) -> tuple[pa.Table, pa.Table]:
        now = utcnow()
        assets: dict[str, list[Any]] = defaultdict(list)
        evidence: dict[str, list[Any]] = defaultdict(list)
        for key in sorted(self.devices):
            d = self.devices[key]
            if not d.ips and not d.macs and not d.hostnames:
                continue
            verdict = self.finish(d)
            self.summary.by_class[verdict.cls] += 1
            last_ip = max(d.ips.items(), key=lambda kv: (kv[1][1], kv[0]))[0] if d.ips else None
            names = [n for n, c in d.hostnames.most_common() if c > 0] + sorted(
                n for n, c in d.hostnames.items() if c == 0
            )
            row = {
                "asset_id": d.asset_id,
                "identity": d.identity,
                "class": verdict.cls,
                "confidence": verdict.confidence,
                "vendor": d.vendor,
                "model": d.model,
                "os": d.os,
                "os_unsupported": d.os_unsupported,
                "macs": sorted(d.macs),
                "ips": sorted(d.ips, key=lambda ip: (d.ips[ip][0], ip)),
                "hostnames": names,
                "first_seen": d.first_seen,
                "last_seen": d.last_seen,
                "subnet": _subnet(last_ip) if last_ip else None,
                "zone": d.zone,
                "protocols": sorted(d.protocols),
                "sources": sorted(d.sources),
                "discovered_at": now,
            }
            for name, value in row.items():
                assets[name].append(value)
            ranked = sorted(d.evidence.values(), key=lambda e: (-e.weight, e.source, e.observation))
            for item in ranked:
                evidence["asset_id"].append(d.asset_id)
                evidence["source"].append(item.source)
                evidence["observation"].append(item.observation)
                evidence["class"].append(item.cls)
                evidence["weight"].append(item.weight)
        self.summary.devices = len(assets["asset_id"])
        return _asset_table(assets), _evidence_table(evidence)


def _asset_table(columns: dict[str, list[Any]]) -> pa.Table:
    s, ts, lst = pa.string(), pa.timestamp("us"), pa.list_(pa.string())
    schema = pa.schema(
        [
            ("asset_id", s), ("identity", s), ("class", s), ("confidence", pa.float64()),
            ("vendor", s), ("model", s), ("os", s), ("os_unsupported", pa.bool_()),
            ("macs", lst), ("ips", lst), ("hostnames", lst), ("first_seen", ts),
            ("last_seen", ts), ("subnet", s), ("zone", s), ("protocols", lst),
            ("sources", lst), ("discovered_at", ts),
        ]
    )
    return pa.Table.from_pydict({n: columns.get(n, []) for n in schema.names}, schema=schema)


def _evidence_table(columns: dict[str, list[Any]]) -> pa.Table:
    s = pa.string()
    schema = pa.schema(
        [("asset_id", s), ("source", s), ("observation", s), ("class", s),
         ("weight", pa.float64())]
    )
    return pa.Table.from_pydict({n: columns.get(n, []) for n in schema.names}, schema=schema)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _subject(subject: str) -> dict[str, str]:
    """``CN=pacs01.example,O=Acme\\, Inc.`` -> {"CN": …, "O": …}."""
    out: dict[str, str] = {}
    part = ""
    parts: list[str] = []
    escaped = False
    for char in subject:
        if escaped:
            part += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append(part)
            part = ""
        else:
            part += char
    parts.append(part)
    for item in parts:
        name, sep, value = item.partition("=")
        if sep:
            out.setdefault(name.strip().upper(), value.strip())
    return out


def discover(store: Store, settings: Settings, oui: OuiTable) -> DiscoverySummary:
    """Rebuild ``asset`` and ``asset_evidence`` from everything the store holds."""
    started = time.perf_counter()
    inventory = Inventory(store, settings, oui)
    sightings = dhcp_sightings(store)
    store.con.register("_leases_arrow", leases(sightings))
    try:
        store.query("CREATE OR REPLACE TEMP TABLE _leases AS SELECT * FROM _leases_arrow")
    finally:
        store.con.unregister("_leases_arrow")
    try:
        inventory.read_dhcp(sightings)
        inventory.read_flows()
        inventory.read_http()
        inventory.read_tls()
        inventory.read_imports()
    finally:
        store.query("DROP TABLE IF EXISTS _leases")
    assets, evidence = inventory.table()
    with store.transaction():
        store.replace_table("asset", assets)
        store.replace_table("asset_evidence", evidence)
    inventory.summary.seconds = time.perf_counter() - started
    return inventory.summary
