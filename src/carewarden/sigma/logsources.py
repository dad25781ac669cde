"""Where the events of each Sigma log source come from (routing), and how their fields are
named there (field mapping).

A Windows rule names a ``category`` (``process_creation`` …) or a ``service``
(``security`` …). Each maps to one or more *sources*: a channel, the event ids of that
channel (none: all of them), an optional filter on a field's value, and a field mapping
from Sigma's names to the source's. Rules are only evaluated against the events of their
sources: routing, not parsing, is what keeps the cost of a rule set low.

``process_creation`` reads Sysmon event 1 and Security event 4688, whose fields Sigma names
as Sysmon does (``Image``, ``ParentImage``…): the 4688 mapping follows pySigma's Windows
pipeline. The service table follows the Windows pipeline's channels as well; that package
pins pySigma < 2, so the table lives here, as data.

Linux rules read the events of the syslog and osquery connectors. A ``service`` is the
syslog program that writes it (``sshd``, ``cron``…; ``syslog`` is every line, ``auth`` the
auth and authpriv facilities); a rule with neither category nor service reads every syslog
line (its keywords search the whole line); ``auditd`` reads auditd records, whose
``key=value`` fields rules name (``type``, ``SYSCALL``, ``a0``…). ``process_creation``,
``file_event`` and ``network_connection`` read osquery's evented tables, with Sigma's field
names mapped to osquery's columns (``Image`` → ``path``, ``CommandLine`` → ``cmdline``…).

Network rules read the events of the Zeek and Suricata connectors. ``product: zeek`` with a
``service`` reads the records of that Zeek log (``dns``, ``http``, ``smb_files``…, the
record's ``_path``), under Zeek's field names, which SigmaHQ's Zeek rules use; the Sigma
names of web logs (``c-uri``, ``c-useragent``…) are mapped to Zeek's. ``category: dns``
reads Zeek's dns.log and Suricata's ``event_type: dns`` events; ``category: firewall``
Zeek's conn.log and Suricata's ``flow`` events; each with a field mapping from Sigma's
generic names (``query``, ``answer``, ``record_type``; ``src_ip``, ``dst_port``,
``action``…) to the source's. A mapping may name several fields of a source: the first an
event holds is read (EVE v2 names the query ``dns.rrname``, v3 ``dns.queries.rrname``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from carewarden.telemetry import zeek

SYSMON = "Microsoft-Windows-Sysmon/Operational"
SECURITY = "Security"
POWERSHELL = ("Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational")
POWERSHELL_CLASSIC = "Windows PowerShell"


@dataclass(frozen=True)
class Source:
    channel: str
    event_ids: frozenset[int] | None = None
    # Sigma field (lower case) -> the source's field name (or names: the first an event holds).
    fields: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    # Only events whose field (source name) holds one of these values.
    where: tuple[str, frozenset[str]] | None = None

    def takes(self, channel: str, event_id: int | None) -> bool:
        return channel == self.channel and (
            self.event_ids is None or (event_id is not None and event_id in self.event_ids)
        )


def _sysmon(*ids: int, where: tuple[str, frozenset[str]] | None = None) -> tuple[Source, ...]:
    return (Source(SYSMON, frozenset(ids), where=where),)


SECURITY_4688_FIELDS = {
    "image": "NewProcessName",
    "parentimage": "ParentProcessName",
    "processid": "NewProcessId",
    "parentprocessid": "ProcessId",
    "user": "SubjectUserName",
    "logonid": "SubjectLogonId",
}

CATEGORIES: dict[str, tuple[Source, ...]] = {
    "process_creation": (
        *_sysmon(1),
        Source(SECURITY, frozenset({4688}), SECURITY_4688_FIELDS),
    ),
    "process_termination": _sysmon(5),
    "network_connection": _sysmon(3),
    "image_load": _sysmon(7),
    "file_change": _sysmon(2),
    "file_event": _sysmon(11),
    "file_delete": _sysmon(23, 26),
    "file_delete_detected": _sysmon(26),
    "file_block_executable": _sysmon(27),
    "file_block_shredding": _sysmon(28),
    "file_executable_detected": _sysmon(29),
    "create_stream_hash": _sysmon(15),
    "registry_add": _sysmon(12, where=("EventType", frozenset({"CreateKey"}))),
    "registry_delete": _sysmon(12, where=("EventType", frozenset({"DeleteKey", "DeleteValue"}))),
    "registry_set": _sysmon(13),
    "registry_rename": _sysmon(14),
    "registry_event": _sysmon(12, 13, 14),
    "dns_query": _sysmon(22),
    "process_access": _sysmon(10),
    "pipe_created": _sysmon(17, 18),
    "create_remote_thread": _sysmon(8),
    "driver_load": _sysmon(6),
    "wmi_event": _sysmon(19, 20, 21),
    "raw_access_thread": _sysmon(9),
    "process_tampering": _sysmon(25),
    "clipboard_capture": _sysmon(24),
    "sysmon_status": _sysmon(4, 16),
    "sysmon_error": _sysmon(255),
    "ps_script": tuple(Source(c, frozenset({4104})) for c in POWERSHELL),
    "ps_module": tuple(Source(c, frozenset({4103})) for c in POWERSHELL),
    "ps_classic_start": (Source(POWERSHELL_CLASSIC, frozenset({400})),),
    "ps_classic_provider_start": (Source(POWERSHELL_CLASSIC, frozenset({600})),),
    "ps_classic_script": (Source(POWERSHELL_CLASSIC, frozenset({800})),),
}

SERVICES: dict[str, tuple[str, ...]] = {
    "security": (SECURITY,),
    "system": ("System",),
    "application": ("Application",),
    "sysmon": (SYSMON,),
    "powershell": POWERSHELL,
    "powershell-classic": (POWERSHELL_CLASSIC,),
    "windefend": ("Microsoft-Windows-Windows Defender/Operational",),
    "codeintegrity-operational": ("Microsoft-Windows-CodeIntegrity/Operational",),
    "appxdeployment-server": ("Microsoft-Windows-AppXDeploymentServer/Operational",),
    "appxpackaging-om": ("Microsoft-Windows-AppxPackaging/Operational",),
    "appmodel-runtime": ("Microsoft-Windows-AppModel-Runtime/Admin",),
    "firewall-as": ("Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",),
    "bits-client": ("Microsoft-Windows-Bits-Client/Operational",),
    "msexchange-management": ("MSExchange Management",),
    "dns-client": ("Microsoft-Windows-DNS Client Events/Operational",),
    "dns-server": ("DNS Server",),
    "dns-server-analytic": ("Microsoft-Windows-DNS-Server/Analytical",),
    "iis-configuration": ("Microsoft-IIS-Configuration/Operational",),
    "taskscheduler": ("Microsoft-Windows-TaskScheduler/Operational",),
    "ntlm": ("Microsoft-Windows-NTLM/Operational",),
    "security-mitigations": (
        "Microsoft-Windows-Security-Mitigations/KernelMode",
        "Microsoft-Windows-Security-Mitigations/UserMode",
    ),
    "wmi": ("Microsoft-Windows-WMI-Activity/Operational",),
    "applocker": (
        "Microsoft-Windows-AppLocker/MSI and Script",
        "Microsoft-Windows-AppLocker/EXE and DLL",
        "Microsoft-Windows-AppLocker/Packaged app-Deployment",
        "Microsoft-Windows-AppLocker/Packaged app-Execution",
    ),
    "microsoft-servicebus-client": ("Microsoft-ServiceBus-Client",),
    "terminalservices-localsessionmanager": (
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
    ),
    "shell-core": ("Microsoft-Windows-Shell-Core/Operational",),
    "certificateservicesclient-lifecycle-system": (
        "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational",
    ),
    "driver-framework": ("Microsoft-Windows-DriverFrameworks-UserMode/Operational",),
    "ldap": ("Microsoft-Windows-LDAP-Client/Debug",),
    "smbclient-security": ("Microsoft-Windows-SmbClient/Security",),
    "smbclient-connectivity": ("Microsoft-Windows-SmbClient/Connectivity",),
    "smbserver-connectivity": ("Microsoft-Windows-SMBServer/Connectivity",),
    "diagnosis-scripted": ("Microsoft-Windows-Diagnosis-Scripted/Operational",),
    "lsa-server": ("Microsoft-Windows-LSA/Operational",),
    "openssh": ("OpenSSH/Operational",),
    "capi2": ("Microsoft-Windows-CAPI2/Operational",),
    "bitlocker": ("Microsoft-Windows-BitLocker/BitLocker Management",),
    "vhdmp": ("Microsoft-Windows-VHDMP/Operational",),
    "printservice-admin": ("Microsoft-Windows-PrintService/Admin",),
    "printservice-operational": ("Microsoft-Windows-PrintService/Operational",),
    "hyper-v-worker": ("Microsoft-Windows-Hyper-V-Worker",),
    "kernel-shimengine": ("Microsoft-Windows-Kernel-ShimEngine/Operational",),
    "ntfs": ("Microsoft-Windows-Ntfs/Operational",),
    "sysmon-operational": (SYSMON,),
    "terminalservices-remoteconnectionmanager": (
        "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
    ),
    "rdp-corets": ("Microsoft-Windows-RemoteDesktopServices-RdpCoreTS/Operational",),
    "winrm": ("Microsoft-Windows-WinRM/Operational",),
}

ANY = "any"  # a Windows rule with neither category nor service reads every Windows event

# Channels of the non-Windows connectors: never read by Windows rules.
SYSLOG = "syslog"
OSQUERY = "osquery"
ZEEK = zeek.CHANNEL
SURICATA = "suricata"
NOT_WINDOWS = frozenset({SYSLOG, "cef", OSQUERY, ZEEK, SURICATA})

# Linux service -> the syslog programs (``app``) that write it; None: every syslog line.
LINUX_SERVICES: dict[str, frozenset[str] | None] = {
    "syslog": None,
    "sshd": frozenset({"sshd", "sshd-session", "sshd-auth"}),  # OpenSSH 9.8+ splits sshd
    "cron": frozenset({"cron", "CRON", "crond", "crontab"}),
    "sudo": frozenset({"sudo"}),
    "su": frozenset({"su"}),
    "clamav": frozenset({"clamd", "freshclam", "clamav", "clamav-milter", "clamscan"}),
    "vsftpd": frozenset({"vsftpd"}),
    "guacamole": frozenset({"guacd", "guacamole"}),
    "named": frozenset({"named"}),
    "auditd": frozenset({"audit", "auditd", "audispd", "audisp-syslog"}),
}
AUTH_FACILITIES = frozenset({"auth", "authpriv"})

_OSQUERY_PROCESS = {
    "image": "path",
    "commandline": "cmdline",
    "currentdirectory": "cwd",
    "processid": "pid",
    "parentprocessid": "parent",
}
LINUX_CATEGORIES: dict[str, tuple[Source, ...]] = {
    "process_creation": (
        Source(
            OSQUERY,
            fields=_OSQUERY_PROCESS,
            where=("table", frozenset({"process_events", "bpf_process_events"})),
        ),
    ),
    "file_event": (
        Source(
            OSQUERY,
            fields={"targetfilename": "target_path"},
            where=("table", frozenset({"file_events"})),
        ),
    ),
    "network_connection": (
        Source(
            OSQUERY,
            fields={
                "image": "path",
                "destinationip": "remote_address",
                "destinationport": "remote_port",
                "sourceip": "local_address",
                "sourceport": "local_port",
                "processid": "pid",
            },
            where=("table", frozenset({"socket_events", "bpf_socket_events"})),
        ),
    ),
}


_ZEEK_ADDRESSES = {
    "src_ip": "id.orig_h",
    "src_port": "id.orig_p",
    "dst_ip": "id.resp_h",
    "dst_port": "id.resp_p",
}
_ZEEK_ENDPOINTS = {
    **_ZEEK_ADDRESSES,
    "c-ip": "id.orig_h",
    "s-ip": "id.resp_h",
    "s-port": "id.resp_p",
}
# Sigma's names for the fields of web logs (category proxy/webserver) -> http.log's.
_ZEEK_HTTP = {
    "c-uri": "uri",
    "cs-uri": "uri",
    "c-useragent": "user_agent",
    "cs-method": "method",
    "cs-host": "host",
    "r-dns": "host",
    "cs-referrer": "referrer",
    "sc-status": "status_code",
    "cs-version": "version",
    "cs-bytes": "request_body_len",
    "sc-bytes": "response_body_len",
}
ZEEK_FIELDS: dict[str, dict[str, str]] = {"http": _ZEEK_HTTP}
# Sigma's dns category fields -> each source's.
ZEEK_DNS = {
    **_ZEEK_ADDRESSES,
    "query": "query",
    "answer": "answers",
    "record_type": "qtype_name",
    "response_code": "rcode_name",
    "rcode": "rcode_name",
}
SURICATA_DNS: dict[str, str | tuple[str, ...]] = {
    "dst_ip": "dest_ip",
    "dst_port": "dest_port",
    "query": ("dns.rrname", "dns.queries.rrname"),
    "answer": ("dns.answers.rdata", "dns.rdata"),
    "record_type": ("dns.rrtype", "dns.queries.rrtype"),
    "response_code": "dns.rcode",
    "rcode": "dns.rcode",
}
# Sigma's firewall category fields -> each source's; ``action``/``blocked`` are what the
# connectors infer from a connection's state (see zeek.flat_fields, suricata.flat_fields).
_FIREWALL = {"action": "_action", "blocked": "_blocked"}
ZEEK_FIREWALL = {
    **_ZEEK_ADDRESSES,
    **_FIREWALL,
    "protocol": "proto",
    "src_bytes": "orig_bytes",
    "dst_bytes": "resp_bytes",
}
SURICATA_FIREWALL = {
    "dst_ip": "dest_ip",
    "dst_port": "dest_port",
    **_FIREWALL,
    "protocol": "proto",
    "src_bytes": "flow.bytes_toserver",
    "dst_bytes": "flow.bytes_toclient",
}


def _zeek(log: str, fields: Mapping[str, str | tuple[str, ...]]) -> Source:
    return Source(ZEEK, fields=fields, where=("_path", frozenset({log})))


NETWORK_CATEGORIES: dict[str, tuple[Source, ...]] = {
    "dns": (
        _zeek("dns", ZEEK_DNS),
        Source(SURICATA, fields=SURICATA_DNS, where=("event_type", frozenset({"dns"}))),
    ),
    "firewall": (
        _zeek("conn", ZEEK_FIREWALL),
        Source(SURICATA, fields=SURICATA_FIREWALL, where=("event_type", frozenset({"flow"}))),
    ),
}


class UnroutableError(ValueError):
    """A rule's log source has no source of Windows events here."""


def route_of(product: str | None, category: str | None, service: str | None) -> str:
    """The routing key of a rule's log source (``category:…``, ``service:…`` or ``any``;
    ``linux:…`` for Linux rules, ``zeek:…`` and ``network:…`` for network rules)."""
    if (product or "").lower() == "linux":
        return _linux_route(category, service)
    if (product or "").lower() == ZEEK:
        return _zeek_route(category, service)
    if not product and category and category.lower() in NETWORK_CATEGORIES:
        return f"network:category:{category.lower()}"
    if (product or "").lower() != "windows":
        raise UnroutableError(
            f"log source product {product!r}: only Windows and Linux rules, and network "
            f"rules (product zeek; categories {', '.join(sorted(NETWORK_CATEGORIES))}), are "
            "evaluated here"
        )
    if category:
        if category.lower() not in CATEGORIES:
            raise UnroutableError(f"log source category {category!r} has no Windows event source")
        return f"category:{category.lower()}"
    if service:
        if service.lower() not in SERVICES:
            raise UnroutableError(f"log source service {service!r} has no known channel")
        return f"service:{service.lower()}"
    return ANY


def _linux_route(category: str | None, service: str | None) -> str:
    if category:
        if category.lower() not in LINUX_CATEGORIES:
            raise UnroutableError(
                f"log source category {category!r} has no Linux event source (osquery "
                f"feeds {', '.join(sorted(LINUX_CATEGORIES))})"
            )
        return f"linux:category:{category.lower()}"
    if service:
        if service.lower() != "auth" and service.lower() not in LINUX_SERVICES:
            raise UnroutableError(f"log source service {service!r} has no known syslog program")
        return f"linux:service:{service.lower()}"
    return "linux:any"


def _zeek_route(category: str | None, service: str | None) -> str:
    if category:
        if category.lower() not in NETWORK_CATEGORIES:
            raise UnroutableError(
                f"log source category {category!r} has no Zeek log (Zeek feeds "
                f"{', '.join(sorted(NETWORK_CATEGORIES))})"
            )
        return f"zeek:category:{category.lower()}"
    if service:
        if service.lower() not in zeek.LOGS:
            raise UnroutableError(f"log source service {service!r} is no Zeek log known here")
        return f"zeek:service:{service.lower()}"
    return "zeek:any"


def _zeek_sources(route: str) -> tuple[Source, ...]:
    kind, _, name = route.partition(":")
    if kind == "category":
        return tuple(s for s in NETWORK_CATEGORIES[name] if s.channel == ZEEK)
    if kind == "service":
        fields = {**_ZEEK_ENDPOINTS, **ZEEK_FIELDS.get(name, {})}
        return (_zeek(name, fields),)
    return (Source(ZEEK, fields=_ZEEK_ENDPOINTS),)


def _linux_sources(route: str) -> tuple[Source, ...]:
    kind, _, name = route.partition(":")
    if kind == "category":
        return LINUX_CATEGORIES[name]
    if kind == "service" and name == "auth":
        return (Source(SYSLOG, where=("facility", AUTH_FACILITIES)),)
    if kind == "service":
        apps = LINUX_SERVICES[name]
        return (Source(SYSLOG, where=("app", apps) if apps is not None else None),)
    return (Source(SYSLOG),)


def sources(route: str) -> tuple[Source, ...]:
    """The sources of a routing key (an empty tuple for ``any``: every Windows event)."""
    kind, _, name = route.partition(":")
    if kind == "linux":
        return _linux_sources(name)
    if kind == "zeek":
        return _zeek_sources(name)
    if kind == "network":
        return NETWORK_CATEGORIES[name.removeprefix("category:")]
    if kind == "category":
        return CATEGORIES[name]
    if kind == "service":
        return tuple(Source(channel) for channel in SERVICES[name])
    return ()
