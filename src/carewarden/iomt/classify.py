"""Device classes from weighted evidence: documented rules, no trained model.

Each observation of a device (its MAC vendor, a DHCP option, a host name, an HTTP user
agent, a certificate, the protocols it serves or uses, a CMDB row) is turned by the rules
below into :class:`Evidence` items, each pointing at one class with a weight in (0, 1): the
probability on its own that the device is of that class. A class's score combines its
items as independent clues (noisy-OR: ``1 - Π(1 - weight)``); the device takes the class
with the highest score, and its confidence is that score, lowered by half the runner-up's
score when another class is also supported (``best * (1 - second / 2)``). A device whose
best score stays under :data:`THRESHOLD` is ``unknown`` (confidence 0), its evidence kept.

Classes (the exact strings of ``--class`` and of the JSONL ``class`` field):
``infusion_pump, patient_monitor, imaging_modality, pacs, lab_analyzer, nurse_call,
workstation, server, printer, unknown``.

Rule families and their weights (see the tables for every pattern):

* MAC vendor (:data:`VENDOR_RULES`): a maker of one kind of device, 0.35-0.5; PC makers
  0.2; virtualisation and server makers 0.4.
* Names (:data:`NAME_PATTERNS`): keywords in a host name (0.5), a DHCP vendor class or a
  device's own user-agent product (0.6), a CMDB model (0.6), a certificate or an HTTP host
  (0.35).
* Protocols (:data:`PORT_RULES`): serving DICOM to three or more peers (PACS, 0.8), sending
  DICOM (imaging modality, 0.6), serving HL7 MLLP (server, 0.6), sending HL7 (lab analyzer or
  monitor gateway, 0.3 each), serving printing (printer, 0.8), serving directory, file,
  database or web to five or more peers (server, 0.5-0.6), using the directory (workstation,
  0.3). Sites add their own ports (HL7 on another port, a vendor's telemetry) in a ports file.
* Operating system: a desktop browser on Windows (workstation, 0.4), a Microsoft DHCP client
  (workstation, 0.3).
* A class stated by a CMDB import: 0.9.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

CLASSES: tuple[str, ...] = (
    "infusion_pump",
    "patient_monitor",
    "imaging_modality",
    "pacs",
    "lab_analyzer",
    "nurse_call",
    "workstation",
    "server",
    "printer",
    "unknown",
)
THRESHOLD = 0.3


@dataclass(frozen=True)
class Evidence:
    source: str  # where it was seen: oui, zeek/dhcp, zeek/conn, zeek/http, import, …
    observation: str  # what was seen, in words
    cls: str | None  # the class it supports; None for a fact that supports none
    weight: float


@dataclass(frozen=True)
class Verdict:
    cls: str
    confidence: float
    scores: dict[str, float]


def decide(evidence: Iterable[Evidence]) -> Verdict:
    """The class the evidence supports best, with its confidence (module docstring)."""
    miss: dict[str, float] = {}
    for item in evidence:
        if item.cls is None or item.cls == "unknown" or item.weight <= 0:
            continue
        miss[item.cls] = miss.get(item.cls, 1.0) * (1.0 - min(item.weight, 0.99))
    scores = {cls: round(1.0 - m, 4) for cls, m in miss.items()}
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], CLASSES.index(kv[0])))
    if not ranked or ranked[0][1] < THRESHOLD:
        return Verdict("unknown", 0.0, scores)
    best = ranked[0][1]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    return Verdict(ranked[0][0], round(best * (1 - second / 2), 3), scores)


# -- MAC vendors ---------------------------------------------------------------------------
VENDOR_RULES: dict[str, tuple[tuple[str, float], ...]] = {
    "Philips": (("patient_monitor", 0.45),),
    "GE Healthcare": (("patient_monitor", 0.3), ("imaging_modality", 0.3)),
    "Nihon Kohden": (("patient_monitor", 0.45),),
    "Draeger": (("patient_monitor", 0.45),),
    "Spacelabs": (("patient_monitor", 0.45),),
    "Welch Allyn": (("patient_monitor", 0.4),),
    "Masimo": (("patient_monitor", 0.4),),
    "Mindray": (("patient_monitor", 0.4),),
    "ICU Medical": (("infusion_pump", 0.5),),
    "B. Braun": (("infusion_pump", 0.5),),
    "Baxter": (("infusion_pump", 0.5),),
    "BD": (("infusion_pump", 0.4),),
    "Smiths Medical": (("infusion_pump", 0.5),),
    "Fresenius": (("infusion_pump", 0.4),),
    "Abbott": (("lab_analyzer", 0.4),),
    "Roche": (("lab_analyzer", 0.5),),
    "Sysmex": (("lab_analyzer", 0.5),),
    "Beckman Coulter": (("lab_analyzer", 0.5),),
    "Bio-Rad": (("lab_analyzer", 0.5),),
    "Siemens Healthineers (diagnostics)": (("lab_analyzer", 0.5),),
    "Siemens Healthineers": (("imaging_modality", 0.45),),
    "Rauland": (("nurse_call", 0.5),),
    "Ascom": (("nurse_call", 0.5),),
    "Vocera": (("nurse_call", 0.5),),
    "Hillrom": (("nurse_call", 0.35),),
    "Carestream": (("imaging_modality", 0.45),),
    "Fujifilm": (("imaging_modality", 0.45),),
    "Varian": (("imaging_modality", 0.45),),
    "Agfa": (("imaging_modality", 0.45),),
    "Hologic": (("imaging_modality", 0.45),),
    "Dell": (("workstation", 0.2), ("server", 0.1)),
    "HP": (("workstation", 0.2), ("printer", 0.15)),
    "Lenovo": (("workstation", 0.2),),
    "Intel": (("workstation", 0.2),),
    "HPE": (("server", 0.4),),
    "Supermicro": (("server", 0.4),),
    "VMware": (("server", 0.4),),
    "Microsoft": (("server", 0.4),),
    "Lexmark": (("printer", 0.5),),
    "Brother": (("printer", 0.5),),
    "Xerox": (("printer", 0.5),),
    "Zebra": (("printer", 0.35),),
}


def vendor_evidence(vendor: str, source: str, what: str) -> list[Evidence]:
    return [
        Evidence(source, f"{what} {vendor}, a maker of {cls.replace('_', ' ')}s", cls, weight)
        for cls, weight in VENDOR_RULES.get(vendor, ())
    ]


# -- names ---------------------------------------------------------------------------------
def _word(alternatives: str) -> str:
    """Alternatives as whole words of a name (digits may follow: ``ct01``, ``srv2``)."""
    return rf"(?<![a-z0-9])(?:{alternatives})(?=[^a-z]|$)"


NAME_PATTERNS: dict[str, str] = {
    "infusion_pump": "|".join(
        (
            r"pump",
            r"infus",
            r"alaris",
            r"sapphire",
            r"medfusion",
            r"agilia",
            r"volumat",
            r"perfusor",
            r"spacestation",
            _word(r"pcu|plum|iv|inf"),
        )
    ),
    "patient_monitor": "|".join(
        (
            r"monitor",
            r"intellivue",
            r"carescape",
            r"vital ?sign",
            r"bedside",
            _word(r"mon|mx\d+|bsm|pm|tele"),
        )
    ),
    "imaging_modality": "|".join(
        (
            r"scanner",
            r"ultrasound",
            r"tomograph",
            r"modality",
            r"mammo",
            r"fluoro",
            r"x-?ray",
            _word(r"ct|mr|mri|cr|dr|dx|us|xa|rf|mg|nm|pet|cath|cbct"),
        )
    ),
    "pacs": "|".join((r"pacs", _word(r"vna|dicom ?archive"))),
    "lab_analyzer": "|".join(
        (
            r"analy[sz]er",
            r"cobas",
            r"alinity",
            r"atellica",
            r"hematology",
            r"chemistry",
            r"blood ?gas",
            _word(r"lab|chem|xn|dxh|dxc|coag|abl\d*"),
        )
    ),
    "nurse_call": "|".join(
        (r"nurse ?call", r"nursecall", r"responder", r"pillow ?speaker", _word(r"nc|badge"))
    ),
    "workstation": "|".join(
        (
            r"workstation",
            r"desktop",
            r"laptop",
            r"thin ?client",
            _word(r"ws|wks|pc|cow|wow|kiosk|desk"),
        )
    ),
    "server": "|".join(
        (
            r"server",
            r"mirth",
            r"rhapsody",
            r"cloverleaf",
            _word(r"srv|svr|dc|sql|db|app|esx|hl7|ehr|lis|ris|dns|dhcp|fs|engine|ie"),
        )
    ),
    "printer": "|".join(
        (r"print", r"laserjet", r"officejet", r"copier", _word(r"prn|prt|lbl|label|mfp"))
    ),
}
_NAME_RULES = tuple((cls, re.compile(p, re.IGNORECASE)) for cls, p in NAME_PATTERNS.items())

NAME_WEIGHTS: dict[str, float] = {
    "host name": 0.5,
    "DHCP vendor class": 0.6,
    "user-agent product": 0.6,
    "CMDB model": 0.6,
    "certificate": 0.35,
    "HTTP host": 0.35,
}


def name_evidence(kind: str, value: str, source: str) -> list[Evidence]:
    """Evidence from the keywords of a name of ``kind`` (a key of :data:`NAME_WEIGHTS`)."""
    weight = NAME_WEIGHTS[kind]
    found = [cls for cls, pattern in _NAME_RULES if pattern.search(value)]
    if len(found) > 1:  # a name that reads as several kinds says less about each
        weight /= 2
    return [Evidence(source, f"{kind} {value!r} names {_a(cls)}", cls, weight) for cls in found]


def _a(cls: str) -> str:
    words = cls.replace("_", " ")
    return ("an " if words[0] in "aeiou" else "a ") + words


# -- protocols -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PortRule:
    port: int
    protocol: str  # what runs there, in words
    server: tuple[tuple[str, float], ...] = ()  # classes of a device serving it
    client: tuple[tuple[str, float], ...] = ()  # classes of a device using it
    min_peers: int = 1  # distinct peers needed for the server-side evidence
    transport: str = "tcp"


PORT_RULES: tuple[PortRule, ...] = (
    PortRule(104, "DICOM", server=(("pacs", 0.8),), client=(("imaging_modality", 0.6),),
             min_peers=3),
    PortRule(11112, "DICOM", server=(("pacs", 0.8),), client=(("imaging_modality", 0.6),),
             min_peers=3),
    PortRule(2575, "HL7 v2 MLLP", server=(("server", 0.6),),
             client=(("lab_analyzer", 0.3), ("patient_monitor", 0.3))),
    PortRule(9100, "raw printing (JetDirect)", server=(("printer", 0.8),)),
    PortRule(515, "LPD printing", server=(("printer", 0.8),)),
    PortRule(631, "IPP printing", server=(("printer", 0.8),)),
    PortRule(88, "Kerberos", server=(("server", 0.6),), client=(("workstation", 0.3),),
             min_peers=5),
    PortRule(389, "LDAP", server=(("server", 0.6),), client=(("workstation", 0.3),),
             min_peers=5),
    PortRule(445, "SMB", server=(("server", 0.5),), min_peers=5),
    PortRule(1433, "SQL Server", server=(("server", 0.6),), min_peers=2),
    PortRule(5432, "PostgreSQL", server=(("server", 0.6),), min_peers=2),
    PortRule(443, "HTTPS", server=(("server", 0.5),), min_peers=5),
    PortRule(80, "HTTP", server=(("server", 0.4),), min_peers=5),
    PortRule(53, "DNS", server=(("server", 0.6),), min_peers=5, transport="udp"),
    PortRule(67, "DHCP", server=(("server", 0.6),), min_peers=2, transport="udp"),
    PortRule(3389, "RDP", server=(("workstation", 0.15), ("server", 0.15))),
)


def port_rules(extra: Iterable[PortRule] = ()) -> dict[tuple[int, str], PortRule]:
    """(port, transport) -> rule; the site's rules replace the shipped ones."""
    rules = {(r.port, r.transport): r for r in PORT_RULES}
    rules.update({(r.port, r.transport): r for r in extra})
    return rules


# -- operating systems ---------------------------------------------------------------------
WINDOWS_NT: dict[str, tuple[str, bool]] = {
    # NT version in a user agent -> (name, unsupported by Microsoft as of 2026)
    "5.1": ("Windows XP", True),
    "5.2": ("Windows XP x64 / Server 2003", True),
    "6.0": ("Windows Vista", True),
    "6.1": ("Windows 7", True),
    "6.2": ("Windows 8", True),
    "6.3": ("Windows 8.1", True),
    "10.0": ("Windows 10/11", False),
}
_NT = re.compile(r"Windows NT (\d+\.\d+)")
_CRYPTOAPI = re.compile(r"Microsoft-CryptoAPI/(\d+\.\d+)")  # Windows' certificate updates
_PRODUCT = re.compile(r"^([A-Za-z][A-Za-z0-9 ._+-]*?)/(\d[\w.\-]*)")
BROWSERS = re.compile(r"Mozilla/|Chrome/|Safari/|Edg/|Firefox/|Opera", re.IGNORECASE)
GENERIC_AGENTS = re.compile(
    r"^(Microsoft|Windows|WinHttp|curl|Wget|python|Java|Go-http|okhttp|Apache-HttpClient"
    r"|libcurl|Dalvik)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AgentReading:
    os: str | None = None
    unsupported: bool = False
    product: str | None = None  # a device's own software name and version, e.g. "X/4.2"
    browser: bool = False


def read_user_agent(agent: str) -> AgentReading:
    """What a user agent says about the device that sent it."""
    nt = _NT.search(agent) or _CRYPTOAPI.match(agent)
    os_name, unsupported = WINDOWS_NT.get(nt.group(1), (f"Windows NT {nt.group(1)}", False)) \
        if nt else (None, False)
    if BROWSERS.search(agent):
        return AgentReading(os_name, unsupported, None, True)
    product = _PRODUCT.match(agent.strip())
    if product and not GENERIC_AGENTS.match(agent):
        return AgentReading(os_name, unsupported, f"{product.group(1)}/{product.group(2)}")
    return AgentReading(os_name or ("Windows" if agent.startswith("Microsoft") else None),
                        unsupported)


def agent_evidence(agent: str, source: str) -> list[Evidence]:
    reading = read_user_agent(agent)
    out: list[Evidence] = []
    if reading.browser and reading.os and reading.os.startswith("Windows"):
        out.append(Evidence(source, f"desktop browser on {reading.os}: {agent[:80]!r}",
                            "workstation", 0.4))
    if reading.product:
        out.extend(name_evidence("user-agent product", reading.product, source))
    return out


# -- DHCP ----------------------------------------------------------------------------------
GENERIC_VENDOR_CLASSES = re.compile(r"^(MSFT|dhcpcd|udhcp|android-dhcp|Linux|ubnt)", re.I)


def dhcp_evidence(vendor_class: str | None, params: str | None, source: str) -> list[Evidence]:
    """Option 60 (vendor class) and option 55 (parameter request list) of a client."""
    out: list[Evidence] = []
    if vendor_class:
        if vendor_class.startswith("MSFT"):
            out.append(Evidence(source, f"DHCP vendor class {vendor_class!r}: a Microsoft "
                                "Windows client", "workstation", 0.3))
        elif not GENERIC_VENDOR_CLASSES.match(vendor_class):
            out.extend(name_evidence("DHCP vendor class", vendor_class, source))
    if params:
        options = {p.strip() for p in params.split(",")}
        if {"43", "249", "252"} <= options:
            out.append(Evidence(source, f"DHCP parameter list {params} asks for options 43, "
                                "249 and 252, as Windows does", "workstation", 0.3))
    return out


def dhcp_os(vendor_class: str | None) -> str | None:
    if vendor_class and vendor_class.startswith("MSFT"):
        return "Windows"
    if vendor_class and re.match(r"^(dhcpcd|udhcp)", vendor_class, re.I):
        return "embedded Linux"
    return None


def device_model(vendor_class: str | None) -> str | None:
    """A DHCP vendor class that names a product (not a generic client) is its model."""
    if vendor_class and not GENERIC_VENDOR_CLASSES.match(vendor_class):
        return vendor_class
    return None


# -- class names from other tools ----------------------------------------------------------
CLASS_SYNONYMS: dict[str, str] = {
    "infusion pump": "infusion_pump",
    "pump": "infusion_pump",
    "iv pump": "infusion_pump",
    "patient monitor": "patient_monitor",
    "monitor": "patient_monitor",
    "physiological monitor": "patient_monitor",
    "imaging": "imaging_modality",
    "imaging modality": "imaging_modality",
    "modality": "imaging_modality",
    "pacs": "pacs",
    "lab analyzer": "lab_analyzer",
    "laboratory analyzer": "lab_analyzer",
    "analyzer": "lab_analyzer",
    "nurse call": "nurse_call",
    "workstation": "workstation",
    "desktop": "workstation",
    "laptop": "workstation",
    "pc": "workstation",
    "server": "server",
    "virtual machine": "server",
    "printer": "printer",
    "unknown": "unknown",
}


def class_from_text(value: str | None) -> str | None:
    """A class named by a CMDB or another tool ("Infusion Pump", "infusion_pump"); None when
    the text names none of the classes."""
    if not value:
        return None
    key = re.sub(r"[\s_\-]+", " ", value.strip().lower())
    if key.replace(" ", "_") in CLASSES:
        return key.replace(" ", "_")
    return CLASS_SYNONYMS.get(key)
