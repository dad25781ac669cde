"""The synthetic hospital's connected-device fleet and its network telemetry.

Written beside (not into) the hospital's FHIR export, so the privacy data and labels are
unchanged: ``zeek/`` (dhcp.log, conn.log, http.log, ssl.log, x509.log as Zeek TSV),
``sbom/`` (CycloneDX JSON of a few device models), ``advisories/`` (an OSV advisory and a
KEV extract that match one of those SBOMs), ``site_network.yaml`` (the site's own ports, as
a site would describe them to discovery), ``devices_truth.jsonl`` (every device with its
true class, MACs and addresses) and ``findings.jsonl`` (the injected findings).

Sizes. Hospitals are commonly reported to run 10 to 15 connected medical and IT devices
per bed (figures quoted across IoMT vendors' "state of connected healthcare" reports); the
fleet has about 11.5 per bed, split by our judgement: infusion pumps are the largest group
(about 5 per bed: several channels per patient, spares, PCA), then workstations (2.5:
nursing stations, workstations on wheels), patient monitors (1.8), nurse call (1.2),
printers (0.5), and a few imaging modalities, laboratory analyzers, PACS and data-centre
servers. Palo Alto Networks' Unit 42 "2020 IoT Threat Report" found 83% of imaging
devices on unsupported operating systems: most modality consoles here report Windows 7,
and a share of workstations still browse from Windows 7 or XP.

The network: per-ward subnets for pumps, monitors, nurse call and workstations, a data
centre of statically addressed servers (seen only in connection logs unless they present a
certificate), DHCP leases renewed daily with churn (devices moving wards get new addresses,
and freed addresses are leased to other devices later), DICOM from modalities to PACS on
104 and 11112, HL7 v2 over MLLP from analyzers and monitors to the interface engine on 2575
(and the site's 6661), and the vendors' own services on site ports.

Injected findings: one infusion pump opens SMB to a workstation subnet (outside its zone);
the SBOM of the ``InfuStar 300`` pump lists OpenSSL 1.0.1f, affected by CVE-2014-0160
(Heartbleed), which is in CISA's KEV catalogue.

Models are fictional; MAC vendor prefixes are real IEEE assignments of their makers.
Deterministic: the same seed, beds and days write byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from carewarden.synth.config import SynthConfig, sub_rng

DOMAIN = "svmc.example"
ORG = "Sangamon Valley Medical Center"
DAY = 86400
BEDS_PER_WARD = 25
TELEMETRY_DAYS = 3  # network telemetry covers the first days of the period (size and time)
IDLE = {"infusion_pump": 0.08, "patient_monitor": 0.05}  # in storage: DHCP renewals only

# Devices per bed, per class (module docstring); fixed counts for the data centre.
PER_BED: dict[str, float] = {
    "infusion_pump": 5.0,
    "workstation": 2.5,
    "patient_monitor": 1.8,
    "nurse_call": 1.2,
    "printer": 0.5,
    "imaging_modality": 0.1,
    "lab_analyzer": 0.08,
    "unknown": 0.1,
}
# The fleet's zones and the flows its devices need (iomt/segmentation_policy.py schema): the
# demo checks the fleet's flows against it, so the injected pump-to-workstation SMB shows.
SEGMENTATION_POLICY = Path(__file__).with_name("fleet_segmentation.yaml")

# The site's ports (written to site_network.yaml for discovery).
PUMP_SERVER_PORT = 7100
CENTRAL_STATION_PORT = 7200
NURSE_CALL_PORT = 7300
SITE_HL7_PORT = 6661


@dataclass(frozen=True)
class Model:
    name: str
    ouis: tuple[str, ...]
    hosts: tuple[str, ...]  # host name prefixes
    agent: str | None = None  # the device's own user-agent product
    vendor: str = ""


MODELS: dict[str, tuple[Model, ...]] = {
    "infusion_pump": (
        Model("InfuStar 300", ("001221",), ("PUMP", "INF"), "InfuStar300/4.2.1", "B. Braun"),
        Model("FlowLine PCU 8", ("00D075", "00B094", "F8C678"), ("PCU", "PUMP"),
              "FlowLine-PCU/9.19", "BD"),
        Model("VoluGuard 2", ("0003B1",), ("PUMP", "IV"), "VoluGuard/2.7", "ICU Medical"),
        Model("Dosera LVP", ("5846E1", "5842E4"), ("PUMP", "INF"), "DoseraLVP/1.12", "Baxter"),
        Model("Syringa S5", ("001A01",), ("PUMP", "SYR-PUMP"), "SyringaS5/5.0.3",
              "Smiths Medical"),
    ),
    "patient_monitor": (
        Model("VitaView MX5", ("00095C", "7C94B2"), ("MON", "PM"), "VitaView/M.01", "Philips"),
        Model("CardioScope 650", ("444B5D",), ("MON", "TELE"), None, "GE Healthcare"),
        Model("LifeTrend BSM", ("00A09A",), ("BSM", "MON"), None, "Nihon Kohden"),
        Model("VitalPoint 120", ("00105D", "0030E6", "F0E5C3"), ("MON",), None, "Draeger"),
        Model("ClearSign T8", ("000F14", "00A037"), ("MON", "PM"), None, "Mindray"),
        Model("Orbit 9", ("00A0AA",), ("MON",), None, "Spacelabs"),
    ),
    "imaging_modality": (
        Model("Revo CT 64", ("444B5D",), ("CT",), None, "GE Healthcare"),
        Model("MagnaView 1.5T", ("444B5D",), ("MR",), None, "GE Healthcare"),
        Model("DR Focus 2", ("001D4A",), ("DX", "DR"), None, "Carestream"),
        Model("Sonora US", ("88B436",), ("US",), None, "Fujifilm"),
        Model("CR Classic", ("080066",), ("CR",), None, "Agfa"),
    ),
    "lab_analyzer": (
        Model("ChemLine c500", ("000E2F", "B87879", "004049"), ("LAB", "CHEM"), None, "Roche"),
        Model("HemaCount XN", ("00066B",), ("HEMA-LAB", "XN"), None, "Sysmex"),
        Model("ImmunoQ i2", ("0013DD",), ("LAB",), None, "Abbott"),
        Model("ChemPro 700", ("00E090", "D0D286"), ("LAB", "CHEM"), None, "Beckman Coulter"),
        Model("GlycoTrack 10", ("001C38",), ("LAB",), None, "Bio-Rad"),
        Model("ImmunoStar", ("001865", "20E791"), ("LAB",), None, "Siemens Healthineers"),
    ),
    "nurse_call": (
        Model("Responder Console 5", ("00905E",), ("NC", "NURSECALL"), None, "Rauland"),
        Model("CallLink Dome", ("000B92", "004015"), ("NC",), None, "Ascom"),
        Model("WardCall 700", ("0014B8",), ("NC", "NURSECALL"), None, "Hillrom"),
        Model("VoiceBadge B3", ("0009EF",), ("BADGE", "NC"), None, "Vocera"),
    ),
    "workstation": (
        Model("", ("001422", "00065B", "000874"), ("WS", "COW", "WKS"), None, "Dell"),
        Model("", ("3CA82A", "0001E6"), ("WS", "PC"), None, "HP"),
        Model("", ("48C35A", "10C595"), ("WS", "WOW"), None, "Lenovo"),
        Model("", ("001B21", "0012F0", "001302"), ("WS", "DESK"), None, "Intel"),
    ),
    "printer": (
        Model("LaserPro M400", ("3CA82A",), ("PRN", "PRINT"), None, "HP"),
        Model("MX-611", ("000400", "0021B7"), ("PRN", "MFP"), None, "Lexmark"),
        Model("ZT-Label 230", ("00074D",), ("LBL", "PRN"), None, "Zebra"),
        Model("HL-5000", ("001BA9",), ("PRN",), None, "Brother"),
        Model("WorkCentre 70", ("9C934E",), ("PRN", "MFP"), None, "Xerox"),
    ),
}
# Embedded Wi-Fi/serial modules inside some pumps and monitors: their MAC names the module's
# maker, not the device's.
MODULE_OUIS = ("000D2C", "0080A3", "004017", "008092")
SERVER_OUIS = ("005056", "000C29", "000569", "00155D", "001422", "001438", "002590", "0CC47A")
WINDOWS_PARAMS = "1,3,6,15,31,33,43,44,46,47,119,121,249,252"
EMBEDDED_PARAMS = "1,3,6,12,15,28,42"
BROWSERS = {
    "10.0": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    "6.1": "Mozilla/5.0 (Windows NT 6.1; Win64; x64; Trident/7.0; rv:11.0) like Gecko",
    "5.1": "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0)",
}


@dataclass
class Device:
    id: str
    cls: str
    model: Model
    mac: str
    hostname: str | None
    static_ip: str | None = None
    ward: int = 0
    vendor_class: str | None = None
    params: str | None = None
    agent: str | None = None
    role: str = ""  # servers: dc, ehr, sql, engine, …
    joined: float = 0.0
    # (from, to, ip) in epoch seconds; a static device holds one address throughout
    leases: list[tuple[float, float, str]] = field(default_factory=list)
    truth_ips: list[str] = field(default_factory=list)

    def ip_at(self, t: float) -> str | None:
        if self.static_ip:
            return self.static_ip
        for start, end, ip in self.leases:
            if start <= t < end:
                return ip
        return None


@dataclass(frozen=True)
class FleetResult:
    out_dir: Path
    files: list[Path]
    devices: int
    by_class: dict[str, int]
    truth_path: Path
    findings_path: Path
    network_path: Path
    policy_path: Path | None = None  # the fleet's segmentation policy


class _Pools:
    """DHCP pools per subnet: an address freed goes back first in line (churn)."""

    def __init__(self) -> None:
        self.free: dict[str, list[int]] = {}

    def take(self, subnet: str) -> str:
        pool = self.free.setdefault(subnet, list(range(249, 99, -1)))  # .100-.249, low first
        if not pool:
            raise ValueError(f"the synthetic DHCP pool {subnet}.0/24 is exhausted")
        return f"{subnet}.{pool.pop()}"

    def give(self, ip: str) -> None:
        subnet, host = ip.rsplit(".", 1)
        self.free.setdefault(subnet, list(range(249, 99, -1))).append(int(host))


class Fleet:
    def __init__(self, config: SynthConfig) -> None:
        self.config = config
        self.rng = sub_rng(config.seed, "fleet")
        self.t0 = dt.datetime.combine(config.start, dt.time(), dt.UTC).timestamp()
        self.days = min(config.days, TELEMETRY_DAYS)
        self.t1 = self.t0 + self.days * DAY
        self.wards = min(250, max(1, -(-config.beds // BEDS_PER_WARD)))
        self._static_next: dict[str, int] = {}
        self.devices: list[Device] = []
        self.servers: dict[str, Device] = {}
        self._macs: set[str] = set()
        self._uid = 0

    # -- devices ---------------------------------------------------------------------------
    def _mac(self, oui: str, local: bool = False) -> str:
        while True:
            tail = self.rng.getrandbits(24)
            if local:
                first = (self.rng.getrandbits(8) | 0x02) & 0xFE
                mac = f"{first:02x}:" + ":".join(
                    f"{self.rng.getrandbits(8):02x}" for _ in range(4)
                ) + f":{tail & 0xFF:02x}"
            else:
                o = oui.lower()
                mac = f"{o[0:2]}:{o[2:4]}:{o[4:6]}:{tail >> 16:02x}:{tail >> 8 & 0xFF:02x}:" \
                      f"{tail & 0xFF:02x}"
            if mac not in self._macs:
                self._macs.add(mac)
                return mac

    def build(self) -> None:
        rng = self.rng
        self._servers()
        counts = {cls: max(1, round(rate * self.config.beds)) for cls, rate in PER_BED.items()}
        serial = 0
        for cls, count in counts.items():
            for n in range(count):
                serial += 1
                if cls == "unknown":
                    device = Device(f"D{serial:05d}", cls, Model("", (), ()),
                                    self._mac("", local=True),
                                    f"android-{rng.getrandbits(32):08x}"
                                    if rng.random() < 0.5 else None,
                                    vendor_class="android-dhcp-14")
                    device.ward = rng.randrange(self.wards)
                    self.devices.append(device)
                    continue
                model = rng.choice(MODELS[cls])
                module = cls in ("infusion_pump", "patient_monitor") and rng.random() < 0.25
                oui = rng.choice(MODULE_OUIS if module else model.ouis)
                ward = n % self.wards
                prefix = rng.choice(model.hosts)
                named = rng.random() < {
                    "infusion_pump": 0.55, "patient_monitor": 0.7, "nurse_call": 0.6,
                    "workstation": 0.97, "printer": 0.85, "lab_analyzer": 0.7,
                    "imaging_modality": 0.9,
                }[cls]
                hostname = f"{prefix}-{ward + 1}W-{n:03d}" if named else None
                if cls in ("imaging_modality", "lab_analyzer"):
                    hostname = f"{prefix}{n + 1:02d}" if named else None
                device = Device(f"D{serial:05d}", cls, model, self._mac(oui), hostname, ward=ward)
                self._details(device, rng)
                self.devices.append(device)
        self.devices.extend(self.servers.values())

    def _details(self, d: Device, rng: random.Random) -> None:
        cls = d.cls
        if cls == "workstation":
            d.vendor_class = "MSFT 5.0"
            d.params = WINDOWS_PARAMS
            version = rng.choices(("10.0", "6.1", "5.1"), (0.8, 0.15, 0.05))[0]
            d.agent = BROWSERS[version]
            d.role = "radiology" if rng.random() < 0.08 else ""
        else:
            d.params = EMBEDDED_PARAMS
            if d.model.name and rng.random() < {"infusion_pump": 0.6, "patient_monitor": 0.4,
                                                "nurse_call": 0.4, "lab_analyzer": 0.3,
                                                "printer": 0.3}.get(cls, 0.0):
                d.vendor_class = d.model.name
            if d.model.agent and rng.random() < 0.5:
                d.agent = d.model.agent
        static = {"imaging_modality": 0.8, "lab_analyzer": 0.5, "patient_monitor": 0.3,
                  "printer": 0.5}.get(cls, 0.0)
        if rng.random() < static:
            d.static_ip = self._static(cls, d)

    def _static(self, cls: str, d: Device) -> str:
        """An address of the subnet's static range (.10-.99); "" when it is full (the
        device then leases one like the others)."""
        subnet = {
            "imaging_modality": "10.50.0",
            "lab_analyzer": "10.60.0",
            "printer": f"10.70.{d.ward}",
            "patient_monitor": f"10.30.{d.ward}",
        }[cls]
        host = self._static_next.get(subnet, 10)
        self._static_next[subnet] = host + 1
        return f"{subnet}.{host}" if host <= 99 else ""

    def _servers(self) -> None:
        roles = [
            ("dc01", "dc"), ("dc02", "dc"), ("dns01", "dns"), ("dhcp01", "dhcp"),
            ("ehr-app01", "ehr"), ("ehr-app02", "ehr"), ("ehr-sql01", "sql"),
            ("hl7-engine01", "engine"), ("lis01", "lis"), ("fs01", "file"),
            ("pumpsrv01", "pumpserver"), ("cms01", "central"), ("ncsrv01", "nursecall"),
            ("pacs01", "pacs"), ("pacs02", "pacs"),
        ]
        extra = max(0, round(self.config.beds * 0.075) - len(roles))
        roles += [(f"app{n + 1:02d}", "app") for n in range(extra)]
        for n, (name, role) in enumerate(roles):
            cls = "pacs" if role == "pacs" else "server"
            subnet = "10.1.2" if cls == "pacs" else "10.1.1"
            d = Device(f"S{n + 1:03d}", cls, Model("ImageVault PACS" if cls == "pacs" else "",
                                                   (), ()),
                       self._mac(self.rng.choice(SERVER_OUIS)), name,
                       static_ip=f"{subnet}.{10 + n}", role=role)
            self.servers[name] = d

    # -- addresses over time ---------------------------------------------------------------
    def subnet(self, d: Device, ward: int) -> str:
        return {
            "infusion_pump": f"10.20.{ward}",
            "patient_monitor": f"10.30.{ward}",
            "workstation": f"10.40.{ward}",
            "nurse_call": f"10.80.{ward}",
            "printer": f"10.70.{ward}",
            "imaging_modality": "10.50.1",
            "lab_analyzer": "10.60.1",
            "unknown": f"10.90.{ward}",
        }[d.cls]

    def lease(self) -> None:
        """Joins, moves and departures in time order, from shared pools."""
        rng = self.rng
        span = self.t1 - self.t0
        events: list[tuple[float, int, str, Device, int]] = []
        for d in self.devices:
            if d.static_ip:
                d.truth_ips = [d.static_ip]
                continue
            d.static_ip = None
            late = rng.random() < 0.15
            d.joined = self.t0 + (rng.uniform(0.2, 0.8) * span if late else rng.uniform(0, 3600))
            events.append((d.joined, 0, "join", d, d.ward))
            if rng.random() < 0.3:
                moved = rng.uniform(d.joined + 3600, self.t1) if d.joined + 3600 < self.t1 \
                    else self.t1
                ward = rng.randrange(self.wards) if d.cls in ("infusion_pump", "unknown") \
                    else d.ward
                events.append((moved, 1, "move", d, ward))
        events.sort(key=lambda e: (e[0], e[1], e[3].id))
        pools = _Pools()
        for when, _, kind, d, ward in events:
            if when >= self.t1:
                continue
            if kind == "move" and d.leases:
                start, _, old = d.leases[-1]
                d.leases[-1] = (start, when, old)
                pools.give(old)
            ip = pools.take(self.subnet(d, ward))
            d.leases.append((when, self.t1, ip))
            d.truth_ips.append(ip)

    # -- telemetry -------------------------------------------------------------------------
    def uid(self) -> str:
        self._uid += 1
        return f"C{self.rng.getrandbits(48):012x}{self._uid:x}"

    def conn(self, t: float, src: str, dst: str, port: int, proto: str = "tcp",
             state: str = "SF", service: str | None = None) -> list[Any]:
        rng = self.rng
        answered = state == "SF"
        return [
            t, self.uid(), src, rng.randrange(49152, 65535), dst, port, proto, service,
            round(rng.uniform(0.01, 30), 6) if answered else None,
            rng.randrange(200, 20000) if answered else 0,
            rng.randrange(200, 200000) if answered else 0,
            state, "ShADadFf" if answered else "S",
        ]

    def telemetry(self) -> dict[str, list[list[Any]]]:
        rng = self.rng
        logs: dict[str, list[list[Any]]] = {"dhcp": [], "conn": [], "http": [], "ssl": []}
        s = self.servers
        dns, dhcp_server = s["dns01"].static_ip or "", s["dhcp01"].static_ip or ""
        pacs = [s["pacs01"], s["pacs02"]]
        printers = [d for d in self.devices if d.cls == "printer"]
        for d in self.devices:
            # DHCP: the first lease (DISCOVER/OFFER/REQUEST/ACK), then a daily renewal
            for start, end, ip in d.leases:
                t = start
                first = True
                while t < end:
                    logs["dhcp"].append([
                        t, [self.uid()], ip if not first else None, dhcp_server, d.mac,
                        d.hostname, None, DOMAIN, ip if first else None, ip, 86400.0,
                        ["DISCOVER", "OFFER", "REQUEST", "ACK"] if first else ["REQUEST", "ACK"],
                        d.vendor_class,
                    ])
                    logs["conn"].append(self.conn(t + 0.01, "0.0.0.0" if first else ip,
                                                  dhcp_server, 67, "udp", service="dhcp"))
                    first = False
                    t += DAY - rng.uniform(0, 600)
            if not d.static_ip and self.rng.random() < IDLE.get(d.cls, 0.0):
                continue
            for day in range(self.days):
                base = self.t0 + day * DAY
                for _ in range(1 if d.cls != "server" else 0):
                    t = base + rng.uniform(0, DAY)
                    now_ip = d.ip_at(t)
                    if now_ip and (d.cls != "unknown" or rng.random() < 0.5):
                        logs["conn"].append(self.conn(t, now_ip, dns, 53, "udp", service="dns"))
                self._day(d, base, logs, pacs, printers)
        self._server_traffic(logs)
        self._finding(logs)
        for rows in logs.values():
            rows.sort(key=lambda r: (r[0], r[1] if isinstance(r[1], str) else r[1][0]))
        return logs

    def _times(self, d: Device, base: float, n: int) -> Iterator[tuple[float, str]]:
        for _ in range(n):
            t = base + self.rng.uniform(0, DAY)
            ip = d.ip_at(t)
            if ip:
                yield t, ip

    def _day(self, d: Device, base: float, logs: dict[str, list[list[Any]]],
             pacs: list[Device], printers: list[Device]) -> None:
        rng = self.rng
        s = self.servers
        ip_of = {name: dev.static_ip or "" for name, dev in s.items()}
        cls = d.cls
        if cls == "infusion_pump":
            for t, ip in self._times(d, base, 2):
                logs["conn"].append(self.conn(t, ip, ip_of["pumpsrv01"], PUMP_SERVER_PORT))
            if d.agent:
                for t, ip in self._times(d, base, 1):
                    logs["conn"].append(self.conn(t, ip, ip_of["pumpsrv01"], 80, service="http"))
                    logs["http"].append(self._http(t, ip, ip_of["pumpsrv01"], 80,
                                                   f"pumpsrv01.{DOMAIN}", "/druglib/latest",
                                                   d.agent))
        elif cls == "patient_monitor":
            for t, ip in self._times(d, base, 2):
                logs["conn"].append(self.conn(t, ip, ip_of["cms01"], CENTRAL_STATION_PORT))
            if int(d.id[1:]) % 10 < 6:
                for t, ip in self._times(d, base, 2):
                    logs["conn"].append(self.conn(t, ip, ip_of["hl7-engine01"], 2575))
        elif cls == "nurse_call":
            for t, ip in self._times(d, base, 2):
                logs["conn"].append(self.conn(t, ip, ip_of["ncsrv01"], NURSE_CALL_PORT))
            for t, ip in self._times(d, base, 1):
                logs["conn"].append(self.conn(t, ip, ip_of["ncsrv01"], 5060, "udp",
                                              service="sip"))
        elif cls == "imaging_modality":
            for t, ip in self._times(d, base, 6):
                target = rng.choice(pacs)
                port = 104 if int(d.id[1:]) % 3 else 11112
                logs["conn"].append(self.conn(t, ip, target.static_ip or "", port))
            for t, ip in self._times(d, base, 1):
                logs["http"].append(self._http(t, ip, "13.107.4.50", 80, "ctldl.windowsupdate.com",
                                               "/msdownload/update/v3/static/trustedr/en/"
                                               "authrootstl.cab", "Microsoft-CryptoAPI/6.1"))
        elif cls == "lab_analyzer":
            port = SITE_HL7_PORT if int(d.id[1:]) % 2 else 2575
            for t, ip in self._times(d, base, 4):
                logs["conn"].append(self.conn(t, ip, ip_of["hl7-engine01"], port))
        elif cls == "workstation":
            for t, ip in self._times(d, base, 1):
                dc = rng.choice(("dc01", "dc02"))
                logs["conn"].append(self.conn(t, ip, ip_of[dc], 88))
                logs["conn"].append(self.conn(t + 0.2, ip, ip_of[dc], 389))
                logs["conn"].append(self.conn(t + 0.5, ip, ip_of["fs01"], 445))
            for t, ip in self._times(d, base, 1):
                ehr = rng.choice(("ehr-app01", "ehr-app02"))
                logs["conn"].append(self.conn(t, ip, ip_of[ehr], 443, service="ssl"))
                logs["ssl"].append(self._ssl(t, ip, ip_of[ehr], f"ehr.{DOMAIN}", ehr))
            apps = [n for n in s if n.startswith("app")]
            if apps:
                for t, ip in self._times(d, base, 1):
                    logs["conn"].append(self.conn(t, ip, ip_of[rng.choice(apps)], 443,
                                                  service="ssl"))
            for t, ip in self._times(d, base, 1):
                logs["http"].append(self._http(t, ip, "23.215.0.10", 80, "www.cdc.gov",
                                               "/index.html", d.agent or ""))
            if printers and rng.random() < 0.5:
                printer = rng.choice(printers)
                for t, ip in self._times(d, base, 1):
                    printer_ip = printer.ip_at(t)
                    if printer_ip:
                        logs["conn"].append(
                            self.conn(t, ip, printer_ip, rng.choice((9100, 631)))
                        )
            if d.role == "radiology":
                for t, ip in self._times(d, base, 2):
                    logs["conn"].append(self.conn(t, ip, pacs[0].static_ip or "", 104))
                    logs["conn"].append(self.conn(t + 1, ip, pacs[0].static_ip or "", 443,
                                                  service="ssl"))
                    logs["ssl"].append(self._ssl(t + 1, ip, pacs[0].static_ip or "",
                                                 f"pacs01.{DOMAIN}", "pacs01"))
        elif cls == "unknown":
            for t, ip in self._times(d, base, 2):
                logs["conn"].append(self.conn(t, ip, "142.250.190.78", 443, service="ssl"))

    def _server_traffic(self, logs: dict[str, list[list[Any]]]) -> None:
        s = {name: d.static_ip or "" for name, d in self.servers.items()}
        for day in range(self.days):
            base = self.t0 + day * DAY
            for _ in range(24):
                t = base + self.rng.uniform(0, DAY)
                app = self.rng.choice(("ehr-app01", "ehr-app02"))
                logs["conn"].append(self.conn(t, s[app], s["ehr-sql01"], 1433))
                logs["conn"].append(self.conn(t + 1, s["hl7-engine01"], s["lis01"], 2575))
                logs["conn"].append(self.conn(t + 2, s["hl7-engine01"], s[app], 443,
                                              service="ssl"))
                logs["conn"].append(self.conn(t + 3, s["pumpsrv01"], s[app], 443, service="ssl"))
                logs["conn"].append(self.conn(t + 4, s["cms01"], s["hl7-engine01"], 2575))
                logs["conn"].append(self.conn(t + 5, s["pacs01"], s["pacs02"], 11112))
            for name, ip in s.items():
                if name.startswith("app"):
                    t = base + self.rng.uniform(0, DAY)
                    logs["conn"].append(self.conn(t, ip, s["ehr-sql01"], 1433))
                    logs["conn"].append(self.conn(t + 1, ip, s["dc01"], 389))

    def _http(self, t: float, src: str, dst: str, port: int, host: str, uri: str,
              agent: str) -> list[Any]:
        return [t, self.uid(), src, self.rng.randrange(49152, 65535), dst, port, 1, "GET", host,
                uri, None, "1.1", agent, 0, self.rng.randrange(500, 90000), 200, "OK"]

    def _ssl(self, t: float, src: str, dst: str, sni: str, server: str) -> list[Any]:
        return [t, self.uid(), src, self.rng.randrange(49152, 65535), dst, 443, "TLSv12",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", sni, False, True,
                [_fingerprint(server)]]

    def _finding(self, logs: dict[str, list[list[Any]]]) -> None:
        pumps = [d for d in self.devices if d.cls == "infusion_pump" and d.leases]
        self.rogue = pumps[len(pumps) // 2]
        t = self.rogue.leases[0][0] + 1800
        ip = self.rogue.ip_at(t) or self.rogue.leases[0][2]
        targets = [a for w in self.devices if w.cls == "workstation" and (a := w.ip_at(t))]
        self.rogue_target = targets[len(targets) // 2] if targets else f"10.40.{self.rogue.ward}.99"
        self.rogue_time = t
        self.rogue_ip = ip
        logs["conn"].append(self.conn(t, ip, self.rogue_target, 445, service="smb"))


def _fingerprint(server: str) -> str:
    from hashlib import sha256

    return sha256(f"carewarden-synth-cert/{server}".encode()).hexdigest()


# -- writing -------------------------------------------------------------------------------
ZEEK_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "dhcp": (
        ("ts", "time"), ("uids", "set[string]"), ("client_addr", "addr"),
        ("server_addr", "addr"), ("mac", "string"), ("host_name", "string"),
        ("client_fqdn", "string"), ("domain", "string"), ("requested_addr", "addr"),
        ("assigned_addr", "addr"), ("lease_time", "interval"), ("msg_types", "vector[string]"),
        ("client_software", "string"),
    ),
    "conn": (
        ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"),
        ("id.resp_h", "addr"), ("id.resp_p", "port"), ("proto", "enum"), ("service", "string"),
        ("duration", "interval"), ("orig_bytes", "count"), ("resp_bytes", "count"),
        ("conn_state", "string"), ("history", "string"),
    ),
    "http": (
        ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"),
        ("id.resp_h", "addr"), ("id.resp_p", "port"), ("trans_depth", "count"),
        ("method", "string"), ("host", "string"), ("uri", "string"), ("referrer", "string"),
        ("version", "string"), ("user_agent", "string"), ("request_body_len", "count"),
        ("response_body_len", "count"), ("status_code", "count"), ("status_msg", "string"),
    ),
    "ssl": (
        ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"),
        ("id.resp_h", "addr"), ("id.resp_p", "port"), ("version", "string"),
        ("cipher", "string"), ("server_name", "string"), ("resumed", "bool"),
        ("established", "bool"), ("cert_chain_fps", "vector[string]"),
    ),
    "x509": (
        ("ts", "time"), ("fingerprint", "string"), ("certificate.version", "count"),
        ("certificate.serial", "string"), ("certificate.subject", "string"),
        ("certificate.issuer", "string"), ("certificate.not_valid_before", "time"),
        ("certificate.not_valid_after", "time"), ("certificate.key_alg", "string"),
        ("certificate.sig_alg", "string"), ("san.dns", "vector[string]"),
        ("host_cert", "bool"), ("client_cert", "bool"),
    ),
}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value) if value else "(empty)"
    text = str(value)
    return text.replace("\\", "\\x5c").replace("\t", "\\x09") if text else "(empty)"


def write_zeek(path: Path, log: str, rows: list[list[Any]], opened: float) -> None:
    fields = ZEEK_FIELDS[log]
    stamp = dt.datetime.fromtimestamp(opened, dt.UTC).strftime("%Y-%m-%d-%H-%M-%S")
    with path.open("w", encoding="utf-8", newline="\n") as f:
        f.write("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n"
                f"#unset_field\t-\n#path\t{log}\n#open\t{stamp}\n")
        f.write("#fields\t" + "\t".join(n for n, _ in fields) + "\n")
        f.write("#types\t" + "\t".join(t for _, t in fields) + "\n")
        for row in rows:
            f.write("\t".join(_cell(v) for v in row) + "\n")
        f.write(f"#close\t{stamp}\n")


def _line(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj) + b"\n"


SBOM_MODELS: dict[str, list[tuple[str, str, str]]] = {
    # model -> (component, version, purl)
    "InfuStar 300": [
        ("openssl", "1.0.1f", "pkg:generic/openssl@1.0.1f"),
        ("busybox", "1.22.1", "pkg:generic/busybox@1.22.1"),
        ("linux-kernel", "3.10.17", "pkg:generic/linux-kernel@3.10.17"),
    ],
    "VitaView MX5": [
        ("openssl", "3.0.13", "pkg:generic/openssl@3.0.13"),
        ("zlib", "1.3.1", "pkg:generic/zlib@1.3.1"),
    ],
    "Revo CT 64": [
        ("dcmtk", "3.6.7", "pkg:generic/dcmtk@3.6.7"),
        ("openssl", "1.1.1w", "pkg:generic/openssl@1.1.1w"),
    ],
}


def write_sboms(folder: Path, seed: int, when: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    vendors = {m.name: m.vendor for ms in MODELS.values() for m in ms}
    vendors["ImageVault PACS"] = "ImageVault"
    for model, components in SBOM_MODELS.items():
        slug = model.lower().replace(" ", "-")
        version = "4.2.1" if model == "InfuStar 300" else "1.0"
        doc = {
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "serialNumber": f"urn:uuid:{_uuid(seed, slug)}",
            "version": 1,
            "metadata": {
                "timestamp": when,
                "component": {"type": "device", "bom-ref": f"{slug}@{version}", "name": model,
                              "version": version, "supplier": {"name": vendors.get(model, "")}},
            },
            "components": [
                {"type": "library", "bom-ref": f"{name}@{ver}", "name": name, "version": ver,
                 "purl": purl}
                for name, ver, purl in components
            ],
        }
        path = folder / f"{slug}.cdx.json"
        path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        files.append(path)
    return files


def _uuid(seed: int, name: str) -> str:
    from uuid import UUID

    r = random.Random(f"carewarden-synth/{seed}/sbom/{name}")
    return str(UUID(int=r.getrandbits(128), version=4))


HEARTBLEED_OSV = {
    "id": "CVE-2014-0160",
    "summary": "OpenSSL heartbeat extension reads beyond the buffer (Heartbleed)",
    "modified": "2024-01-01T00:00:00Z",
    "published": "2014-04-07T22:55:00Z",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
    "affected": [
        {
            "package": {"purl": "pkg:generic/openssl"},
            "versions": ["1.0.1", "1.0.1a", "1.0.1b", "1.0.1c", "1.0.1d", "1.0.1e", "1.0.1f"],
        }
    ],
}
# The CISA KEV catalogue's row for CVE-2014-0160 (public domain), as a one-row extract.
KEV_CSV = (
    "cveID,vendorProject,product,vulnerabilityName,dateAdded,shortDescription,requiredAction,"
    "dueDate,knownRansomwareCampaignUse,notes,cwes\n"
    'CVE-2014-0160,OpenSSL,OpenSSL,"OpenSSL Information Disclosure Vulnerability",2022-05-04,'
    '"The TLS and DTLS implementations in OpenSSL do not properly handle Heartbeat Extension '
    'packets, which allows remote attackers to obtain sensitive information.",'
    '"Apply updates per vendor instructions.",2022-05-25,Unknown,'
    "https://nvd.nist.gov/vuln/detail/CVE-2014-0160,CWE-125\n"
)


def site_network_yaml() -> str:
    return f"""# The site's own ports, as its network team describes them to device discovery.
ports:
  - port: {SITE_HL7_PORT}
    protocol: HL7 v2 MLLP (laboratory)
    server: {{server: 0.6}}
    client: {{lab_analyzer: 0.3, patient_monitor: 0.3}}
  - port: {PUMP_SERVER_PORT}
    protocol: infusion pump server
    server: {{server: 0.6}}
    client: {{infusion_pump: 0.7}}
  - port: {CENTRAL_STATION_PORT}
    protocol: central monitoring station
    server: {{server: 0.6}}
    client: {{patient_monitor: 0.7}}
  - port: {NURSE_CALL_PORT}
    protocol: nurse call server
    server: {{server: 0.6}}
    client: {{nurse_call: 0.7}}
"""


def generate_fleet(out_dir: Path, config: SynthConfig) -> FleetResult:
    """Write the device fleet of the hospital ``config`` describes into ``out_dir``."""
    out_dir = Path(out_dir)
    zeek = out_dir / "zeek"
    zeek.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(config)
    fleet.build()
    fleet.lease()
    logs = fleet.telemetry()
    files: list[Path] = []
    for log in ("dhcp", "conn", "http", "ssl"):
        path = zeek / f"{log}.log"
        write_zeek(path, log, logs[log], fleet.t0)
        files.append(path)
    x509 = []
    for name in ("ehr-app01", "ehr-app02", "pacs01"):
        cn = f"ehr.{DOMAIN}" if name.startswith("ehr") else f"{name}.{DOMAIN}"
        x509.append([fleet.t0, _fingerprint(name), 3, _fingerprint(name)[:16].upper(),
                     f"CN={cn},O={ORG},C=US", f"CN={ORG} Issuing CA,O={ORG},C=US",
                     fleet.t0 - 200 * DAY, fleet.t0 + 500 * DAY, "rsaEncryption",
                     "sha256WithRSAEncryption", [cn, f"{name}.{DOMAIN}"], True, False])
    path = zeek / "x509.log"
    write_zeek(path, "x509", x509, fleet.t0)
    files.append(path)
    when = dt.datetime.fromtimestamp(fleet.t0, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    files += write_sboms(out_dir / "sbom", config.seed, when)
    advisories = out_dir / "advisories"
    advisories.mkdir(exist_ok=True)
    (advisories / "CVE-2014-0160.osv.json").write_bytes(
        orjson.dumps(HEARTBLEED_OSV, option=orjson.OPT_INDENT_2) + b"\n"
    )
    (advisories / "kev.csv").write_text(KEV_CSV, "utf-8")
    files += [advisories / "CVE-2014-0160.osv.json", advisories / "kev.csv"]
    network = out_dir / "site_network.yaml"
    network.write_text(site_network_yaml(), "utf-8")
    files.append(network)
    policy = out_dir / "segmentation_policy.yaml"
    policy.write_bytes(SEGMENTATION_POLICY.read_bytes())
    files.append(policy)
    truth = out_dir / "devices_truth.jsonl"
    by_class: dict[str, int] = {}
    with truth.open("wb") as f:
        for d in sorted(fleet.devices, key=lambda d: d.id):
            by_class[d.cls] = by_class.get(d.cls, 0) + 1
            f.write(_line({
                "id": d.id, "class": d.cls, "vendor": d.model.vendor or None,
                "model": d.model.name or None, "macs": [d.mac], "ips": d.truth_ips,
                "static": bool(d.static_ip), "hostname": d.hostname,
            }))
    files.append(truth)
    findings = out_dir / "findings.jsonl"
    with findings.open("wb") as f:
        f.write(_line({
            "kind": "pump_outside_zone", "device": fleet.rogue.id, "mac": fleet.rogue.mac,
            "src_ip": fleet.rogue_ip, "dst_ip": fleet.rogue_target, "dst_port": 445,
            "time": dt.datetime.fromtimestamp(fleet.rogue_time, dt.UTC).isoformat()
            .replace("+00:00", "Z"),
            "why": "an infusion pump opened SMB to the workstation subnet",
        }))
        f.write(_line({
            "kind": "kev_component", "model": "InfuStar 300", "component": "openssl",
            "version": "1.0.1f", "cve": "CVE-2014-0160",
            "devices": sorted(d.id for d in fleet.devices if d.model.name == "InfuStar 300"),
        }))
    files.append(findings)
    return FleetResult(out_dir, files, len(fleet.devices), dict(sorted(by_class.items())),
                       truth, findings, network, policy)
