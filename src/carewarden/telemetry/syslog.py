"""Syslog files into ``security_event``: RFC 3164 (BSD, with or without ``<PRI>``, as in
``/var/log``), rsyslog's high-precision file format (an ISO time in place of the BSD one),
RFC 5424 (structured data, BOM), CEF, bare or behind either syslog header, and auditd
records (``/var/log/audit/audit.log`` lines, or forwarded through syslog). RFC 6587
octet-counted frames (``LEN <PRI>…``) are read too, one or several on a line or spanning
lines. ``.gz`` is read transparently.

A BSD time has no year and no zone: it is read in the site's time zone (UTC unless told),
in the latest year that does not put it after the file's last change (so a file written
across New Year has its December lines in the old year and its January lines in the new).

Classes: sshd, PAM, sudo, su and login successes and failures → authentication (3002;
``status`` success, failure or logoff, the user, source address and method), as are
auditd's USER_LOGIN, USER_AUTH and USER_ERR records; CEF → detection finding (2004) for an
IDS, IPS or anti-virus event, network activity (4001) for a firewall's allow or deny, else
base event (0); every other message → base event (0).

``raw`` is a JSON object holding the line as read (``line``) and what was parsed from it
(facility, severity, host, app, pid, msgid, structured data, message, CEF header and
extension); Sigma rules of ``product: linux`` read those fields. A line that is not valid
UTF-8 is stored with its bad bytes replaced, and counted. The id hashes the line and its
resolved time, so re-reading a file adds nothing and the same line in two years is two
events."""

from __future__ import annotations

import datetime as dt
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Literal
from zoneinfo import ZoneInfo

import orjson

from carewarden.connectors.base import MAX_RECORD_BYTES, open_binary
from carewarden.model import Batch, Rejected, preview
from carewarden.telemetry.network import iso_time, row
from carewarden.telemetry.ocsf import AUTHENTICATION, DETECTION, NETWORK, OcsfClass
from carewarden.telemetry.rows import EventRows, drain

Format = Literal["auto", "3164", "5424", "cef"]
FORMATS: tuple[Format, ...] = ("auto", "3164", "5424", "cef")
CHANNEL = "syslog"
CEF_CHANNEL = "cef"
BASE = OcsfClass(0, "base_event")

# /var/log names without a telling suffix, rotated ones (auth.log.1, messages-20240301.gz)
_NAMES = re.compile(
    r"(?:\.(?:log|syslog|cef|txt)|^(?:messages|secure|syslog|auth|authlog|maillog|cron|"
    r"kern|daemon|user|debug)(?:\.log)?)(?:[.-]\d+)*(?:\.gz)?$",
    re.IGNORECASE,
)

FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}

_OCTET = re.compile(rb"\s*(\d{1,7}) (?=<\d{1,3}>)")
_PRI = re.compile(r"<(\d{1,3})>")
# Mmm dd [yyyy] hh:mm:ss[.fff] (the day space-padded or zero-padded)
_BSD_TIME = re.compile(
    r"([A-Za-z]{3}) {1,2}(\d{1,2})(?: (\d{4}))? (\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?: |$)"
)
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})? ")
_TAG = re.compile(r"([^\s\[\]:]{1,128})(?:\[([^\]\s]{0,32})\])?: ?")
_5424 = re.compile(r"(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ?")


class NotSyslog(ValueError):
    """A line that is no syslog or CEF record of the format asked for."""


# -- structured parts ----------------------------------------------------------------------


_SD_ELEMENT = re.compile(r'\[([^\s\]="]{1,32})((?: [^\s\]="]{1,32}="(?:[^"\\]|\\.)*")*)\]')
_SD_PARAM = re.compile(r' ([^\s\]="]{1,32})="((?:[^"\\]|\\.)*)"')
_SD_ESCAPE = re.compile(r'\\(["\\\]])')


def structured_data(text: str) -> tuple[dict[str, dict[str, str]], str]:
    """RFC 5424 STRUCTURED-DATA at the start of ``text`` (``-`` or ``[id k="v"…]…``) and what
    follows it. Param values unescape ``\\"``, ``\\\\`` and ``\\]``."""
    if text.startswith("-"):
        return {}, text[1:]
    out: dict[str, dict[str, str]] = {}
    position = 0
    while position < len(text) and text[position] == "[":
        element = _SD_ELEMENT.match(text, position)
        if element is None:
            raise NotSyslog("bad RFC 5424 structured data: not [id name=\"value\"…]")
        params = out.setdefault(element.group(1), {})
        for param in _SD_PARAM.finditer(element.group(2)):
            value = param.group(2)
            params[param.group(1)] = _SD_ESCAPE.sub(r"\1", value) if "\\" in value else value
        position = element.end()
    if not out:
        raise NotSyslog("bad RFC 5424 structured data: neither - nor [")
    return out, text[position:]


_CEF_KEY = re.compile(r"[A-Za-z0-9_.\[\]-]{1,64}").fullmatch
_CEF_VALUE_ESCAPE = re.compile(r"\\(.)")
_CEF_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}


def _unescape_value(value: str) -> str:
    if "\\" not in value:
        return value
    return _CEF_VALUE_ESCAPE.sub(lambda m: _CEF_ESCAPES.get(m.group(1), m.group(1)), value)


def cef(text: str) -> dict[str, Any]:
    """A ``CEF:Version|Vendor|Product|Version|SignatureID|Name|Severity|Extension`` record:
    header fields with ``\\|`` and ``\\\\`` unescaped, extension pairs with ``\\=``,
    ``\\\\``, ``\\n`` and ``\\r`` unescaped and spaces kept inside values."""
    if not text.startswith("CEF:"):
        raise NotSyslog("not a CEF record")
    fields: list[str] = []
    current: list[str] = []
    i, n = 4, len(text)
    parts = text.split("|", 7)
    if len(parts) == 8 and "\\" not in text[: n - len(parts[7])]:  # no escape in the header
        fields, i = parts[1:7], n - len(parts[7])
        fields.insert(0, parts[0][4:])
    while i < n and len(fields) < 7:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in "|\\":
            current.append(text[i + 1])
            i += 2
            continue
        if char == "|":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    if len(fields) < 7:
        raise NotSyslog(f"CEF header has {len(fields) + 1} of its 8 fields")
    pairs: dict[str, str] = {}
    key: str | None = None
    value: list[str] = []
    for token in text[i:].rstrip(" \r\n").split(" "):
        eq = token.find("=")
        if eq > 0 and _CEF_KEY(token, 0, eq):  # a key (its characters exclude the backslash)
            if key is not None:
                pairs[key] = _unescape_value(" ".join(value))
            key, value = token[:eq], [token[eq + 1 :]]
        elif key is not None:
            value.append(token)
        elif token.strip():
            raise NotSyslog("CEF extension is not key=value pairs")
    if key is not None:
        pairs[key] = _unescape_value(" ".join(value))
    version, vendor, product, device_version, signature, name, severity = fields
    return {
        "version": version,
        "vendor": vendor,
        "product": product,
        "device_version": device_version,
        "signature_id": signature,
        "name": name,
        "severity": severity,
        "extension": pairs,
    }


# -- one record ----------------------------------------------------------------------------


@dataclass
class Record:
    """One parsed line: what ``raw`` holds, plus its time."""

    format: str
    time: dt.datetime  # naive UTC
    doc: dict[str, Any] = field(default_factory=dict)


class Clock:
    """BSD times (no year, no zone) as UTC, in the site zone, not after the reference."""

    def __init__(self, zone: ZoneInfo, reference: dt.datetime) -> None:
        self.zone = zone
        self.utc = zone.key in ("UTC", "Etc/UTC", "Etc/GMT", "GMT")
        # the reference as local wall time, one day of slack for clocks and late writes
        local = reference.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)
        self.latest = local + dt.timedelta(days=1)
        self._offsets: dict[dt.datetime, dt.timedelta] = {}
        self._last: tuple[str, dt.datetime] = ("", dt.datetime.min)

    def local(self, when: dt.datetime) -> dt.datetime:
        """A wall time of the site as UTC (the offset looked up once per hour of wall time:
        zone changes happen on the hour)."""
        if self.utc:
            return when
        hour = when.replace(minute=0, second=0, microsecond=0)
        offset = self._offsets.get(hour)
        if offset is None:
            if len(self._offsets) > 10_000:
                self._offsets.clear()
            offset = hour.replace(tzinfo=self.zone).utcoffset() or dt.timedelta(0)
            self._offsets[hour] = offset
        return when - offset

    def bsd(self, match: re.Match[str]) -> dt.datetime:
        text = match.group(0)
        if text == self._last[0]:  # lines of one second share their stamp
            return self._last[1]
        when = self.local(self.wall(match))
        self._last = (text, when)
        return when

    def wall(self, match: re.Match[str]) -> dt.datetime:
        """The wall time of a BSD time match (groups: month, day, year or None, h, m, s,
        fraction), its year inferred when absent."""
        month = _MONTHS.get(match.group(1).lower())
        if month is None:
            raise NotSyslog(f"bad month {match.group(1)!r}")
        day, hour, minute, second = (int(match.group(i)) for i in (2, 4, 5, 6))
        fraction = match.group(7)
        micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
        parts = (month, day, hour, minute, second, micro)
        if match.group(3):
            stamp = _dated(int(match.group(3)), parts)
        else:
            year = self.latest.year
            stamp = _dated(year, parts)
            if stamp is None or stamp > self.latest:
                # last year's; for 29 February the latest leap year before
                stamp = _dated(year - 1, parts) or _dated(year - 4, parts)
        if stamp is None:
            raise NotSyslog(f"bad BSD time {match.group(0).strip()!r}: no such day or time")
        return stamp


def _dated(year: int, parts: tuple[int, int, int, int, int, int]) -> dt.datetime | None:
    month, day, hour, minute, second, micro = parts
    try:
        return dt.datetime(year, month, day, hour, minute, second, micro)
    except ValueError:
        return None


def _iso(text: str, clock: Clock) -> dt.datetime:
    """An ISO time; one without an offset is local time of the site."""
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is not None:  # the common case, without the lenient fix-ups
        if parsed.tzinfo is None:
            return clock.local(parsed)
        return parsed.astimezone(dt.UTC).replace(tzinfo=None)
    try:
        parsed = iso_time(text)
    except ValueError as exc:
        raise NotSyslog(f"bad time {text!r}: {exc}") from None
    has_zone = text.endswith("Z") or bool(re.search(r"[+-]\d{2}:?\d{2}$", text))
    return parsed if has_zone else clock.local(parsed)


def _pri(doc: dict[str, Any], value: int) -> None:
    if value > 191:
        raise NotSyslog(f"PRI {value} is over 191")
    doc["facility"] = FACILITIES[value >> 3]
    doc["severity"] = SEVERITIES[value & 7]


def _tagged(doc: dict[str, Any], rest: str) -> None:
    """``tag[pid]: msg`` (or a bare message) into app, pid, msg."""
    if rest.startswith("CEF:"):
        doc["msg"] = rest
        return
    tag = _TAG.match(rest)
    if tag:
        doc["app"] = tag.group(1)
        if tag.group(2):
            doc["pid"] = tag.group(2)
        doc["msg"] = rest[tag.end() :]
    else:
        doc["msg"] = rest


def _bsd(body: str, doc: dict[str, Any], clock: Clock) -> dt.datetime:
    """``TIMESTAMP HOST TAG: MSG`` after the PRI (a BSD or an ISO time)."""
    match = _BSD_TIME.match(body)
    if match:
        time = clock.bsd(match)
        rest = body[match.end() :]
    else:
        iso = _ISO_TIME.match(body)
        if not iso:
            raise NotSyslog("no RFC 3164 timestamp (Mmm dd hh:mm:ss)")
        time = _iso(iso.group(0)[:-1], clock)
        rest = body[iso.end() :]
    # the host, unless the next word is already the tag (``su: …``) or CEF
    host, space, after = rest.partition(" ")
    if space and host and not host.endswith(":") and "[" not in host and "|" not in host:
        doc["host"] = host
        rest = after
    _tagged(doc, rest)
    return time


def _rfc5424(body: str, doc: dict[str, Any], clock: Clock) -> dt.datetime:
    match = _5424.match(body)
    if not match:
        raise NotSyslog("not an RFC 5424 header (VERSION TIMESTAMP HOST APP PROCID MSGID)")
    version, stamp, host, app, procid, msgid = match.groups()
    if version != "1":
        raise NotSyslog(f"RFC 5424 version {version} (only 1 is defined)")
    if stamp == "-":
        raise NotSyslog("RFC 5424 record without a timestamp")
    time = _iso(stamp, clock)
    for name, value in (("host", host), ("app", app), ("pid", procid), ("msgid", msgid)):
        if value != "-":
            doc[name] = value
    rest = body[match.end() :]
    if rest:
        sd, rest = structured_data(rest)
        if sd:
            doc["sd"] = sd
        if rest.startswith(" "):
            rest = rest[1:]
    if rest.startswith("\ufeff"):
        rest = rest[1:]
    doc["msg"] = rest
    return time


_RT_TEXT = re.compile(
    r"([A-Za-z]{3}) (\d{1,2})(?: (\d{4}))? (\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?: (\S+))?$"
)


def cef_time(value: str, clock: Clock) -> dt.datetime:
    """A CEF ``rt``/``end``/``start``: epoch milliseconds, ``Mmm dd [yyyy] hh:mm:ss[.SSS]
    [zone]`` or ISO."""
    value = value.strip()
    if value.isdigit():
        try:
            return dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError) as exc:
            raise NotSyslog(f"bad CEF time {value!r}: {exc}") from None
    match = _RT_TEXT.match(value)
    if match:
        wall = clock.wall(match)
        zone = match.group(8)
        if zone and zone.upper() in ("UTC", "GMT", "Z"):
            return wall
        return clock.local(wall)
    return _iso(value, clock)


def parse(text: str, clock: Clock, fmt: Format = "auto") -> Record:
    """One line (already decoded) as a :class:`Record`; :class:`NotSyslog` if it is none."""
    if text.startswith("\ufeff"):
        text = text[1:]
    doc: dict[str, Any] = {}
    pri = _PRI.match(text)
    if pri:
        _pri(doc, int(pri.group(1)))
        body = text[pri.end() :]
        if body[:2] == "1 " and fmt in ("auto", "5424", "cef"):
            kind = "5424"
            time = _rfc5424(body, doc, clock)
        elif fmt == "5424":
            raise NotSyslog("not RFC 5424: no version after the PRI")
        else:
            kind = "3164"
            time = _bsd(body, doc, clock)
    elif text.startswith("CEF:"):
        if fmt not in ("auto", "cef"):
            raise NotSyslog(f"a bare CEF record where RFC {fmt} was asked for")
        kind = "cef"
        doc["msg"] = text
        time = None
    elif fmt == "5424":
        raise NotSyslog("not RFC 5424: no <PRI>")
    elif text.startswith(("type=", "node=")) and (audit := _AUDIT.match(text)):
        if fmt != "auto":
            raise NotSyslog(f"an auditd record where {fmt} was asked for")
        kind = "audit"
        if audit.group(1):
            doc["host"] = audit.group(1)
        doc["app"] = "auditd"
        doc["msg"] = text
        millis = int((audit.group(3) or "0")[:3].ljust(3, "0"))
        try:
            time = dt.datetime.fromtimestamp(int(audit.group(2)), dt.UTC).replace(
                tzinfo=None
            ) + dt.timedelta(milliseconds=millis)
        except (OverflowError, OSError, ValueError) as exc:
            raise NotSyslog(f"bad auditd time: {exc}") from None
    else:
        kind = "3164"
        time = _bsd(text, doc, clock)
    message = str(doc.get("msg", ""))
    if message.startswith("CEF:"):
        doc["cef"] = cef(message)
        del doc["msg"]  # the parsed header and extension hold all of it
        extension = doc["cef"]["extension"]
        stamp = extension.get("rt") or extension.get("end") or extension.get("start")
        if stamp:
            time = cef_time(stamp, clock)
        kind = "cef" if kind == "cef" else f"{kind}+cef"
    elif fmt == "cef":
        raise NotSyslog("not a CEF record")
    if time is None:
        raise NotSyslog("CEF record without a time (no syslog header, rt, end or start)")
    doc["format"] = kind
    return Record(kind, time, doc)


# -- auditd --------------------------------------------------------------------------------

# [node=HOST ]type=TYPE msg=audit(EPOCH.MILLIS:SERIAL)
_AUDIT = re.compile(r"(?:node=(\S+) )?type=\S+ msg=audit\((\d{1,12})(?:\.(\d{1,9}))?:\d+\)")
_AUDIT_PAIR = re.compile(r"([A-Za-z_][\w-]{0,63})=(\"[^\"]*\"|'[^']*'|[^\s'\"]*)")
AUDIT_APPS = frozenset({"auditd", "audit", "audispd", "audisp-syslog"})
_AUDIT_AUTH = frozenset({"USER_LOGIN", "USER_AUTH", "USER_ERR"})


def audit_fields(message: str) -> dict[str, str]:
    """The ``key=value`` fields of an auditd record (quotes removed; the pairs inside
    ``msg='…'`` of user-space records and the enriched upper-case fields included)."""
    out: dict[str, str] = {}
    for key, value in _AUDIT_PAIR.findall(message):
        if value[:1] in ("'", '"'):
            value = value[1:-1]
            if key == "msg" and "=" in value:
                out.update(audit_fields(value))
                continue
        out.setdefault(key, value)
    return out


def _audit_auth(message: str) -> dict[str, str | None] | None:
    """A user login or authentication record of auditd as authentication columns."""
    fields = audit_fields(message)
    if fields.get("type") not in _AUDIT_AUTH:
        return None
    status = "success" if fields.get("res") in ("success", "1") else "failure"
    address = fields.get("addr") or fields.get("hostname")
    user = fields.get("acct") or fields.get("id")
    return _cols(status, user, address if address not in ("?", "") else None, None,
                 fields.get("op"))  # fmt: skip


# -- classification ------------------------------------------------------------------------

_SSH_OK = re.compile(r"Accepted (\S+) for (\S+) from (\S+) port (\d+)")
_SSH_FAIL = re.compile(r"Failed (\S+) for (?:invalid user )?(\S*) from (\S+) port (\d+)")
_SSH_INVALID = re.compile(r"Invalid user (\S*) from (\S+)(?: port (\d+))?")
_SSH_MAX = re.compile(
    r"(?:maximum authentication attempts exceeded|Too many authentication failures) for "
    r"(?:invalid user )?(\S*) from (\S+) port (\d+)"
)
_PAM_FAIL = re.compile(
    r"pam_unix\(([^:)]+):auth\): authentication failure;.*?rhost=(\S*)(?:\s+user=(\S+))?"
)
_PAM_SESSION = re.compile(
    r"pam_unix\(([^:)]+):session\): session (opened|closed) for user ([^\s(]+)"
)
_SUDO = re.compile(
    r"\s*(\S+) : (?:(\d+ incorrect password attempts?|user NOT in sudoers|command not allowed)"
    r" ; )?(?:TTY=(\S+) ; )?PWD=(.*?) ; USER=(\S+) ;(?: [A-Z]+=\S* ;)* COMMAND=(.*)$"
)
_SU_FAIL = re.compile(r"FAILED (?:SU|su) (?:\(to (\S+)\) (\S+)|for (\S+) by (\S+))")
_SU_OK = re.compile(r"(?:Successful su for (\S+) by (\S+)|\(to (\S+)\) (\S+) on )")
_LOGIN_FAIL = re.compile(
    r"FAILED LOGIN \(?\d+\)? (?:[Oo][Nn] (\S+) )?FROM (\S+) FOR ([^\s,]+)"
)
_LOGIN_OK = re.compile(r"(?:ROOT LOGIN ON (\S+)|LOGIN ON (\S+) BY (\S+))")
AUTH_APPS = frozenset({"sshd", "sudo", "su", "login"})  # and sshd-session, sshd-auth (OpenSSH 9.8+)
_BACKGROUND = frozenset({"cron", "crond", "systemd-user", "atd"})  # PAM sessions of no logon


def _auth(app: str, msg: str) -> dict[str, str | None] | None:
    """The authentication columns of a message, None when it is no authentication."""
    if app == "sshd" or app.startswith("sshd-"):
        if m := _SSH_OK.search(msg):
            return _cols("success", m.group(2), m.group(3), m.group(4), m.group(1))
        if m := _SSH_FAIL.search(msg):
            return _cols("failure", m.group(2), m.group(3), m.group(4), m.group(1))
        if m := _SSH_MAX.search(msg):
            return _cols("failure", m.group(1), m.group(2), m.group(3), None)
        if m := _SSH_INVALID.search(msg):
            return _cols("failure", m.group(1), m.group(2), m.group(3), "invalid user")
    if app == "sudo" and (m := _SUDO.match(msg)):
        out = _cols("failure" if m.group(2) else "success", m.group(1), None, None, "sudo")
        out["process_cmd_line"] = m.group(6)
        out["process_name"] = m.group(6).split(" ", 1)[0] or None
        out["logon_type"] = f"sudo to {m.group(5)}"
        return out
    if app == "su":
        if m := _SU_FAIL.search(msg):
            return _cols("failure", m.group(2) or m.group(4), None, None, "su")
        if m := _SU_OK.search(msg):
            return _cols("success", m.group(2) or m.group(4), None, None, "su")
    if app == "login":
        if m := _LOGIN_FAIL.search(msg):
            return _cols("failure", m.group(3), m.group(2), None, "login")
        if m := _LOGIN_OK.search(msg):
            return _cols("success", m.group(3) or "root", None, None, "login")
    if "pam_unix(" in msg:
        if m := _PAM_FAIL.search(msg):
            return _cols("failure", m.group(3), m.group(2) or None, None, m.group(1))
        if (m := _PAM_SESSION.search(msg)) and m.group(1).lower() not in _BACKGROUND:
            status = "success" if m.group(2) == "opened" else "logoff"
            return _cols(status, m.group(3), None, None, m.group(1))
    return None


def _cols(
    status: str, user: str | None, src: str | None, port: str | None, method: str | None
) -> dict[str, str | None]:
    return {
        "status": status,
        "user_name": user or None,
        "src_ip": src if src and src != "UNKNOWN" else None,
        "src_port": port,
        "logon_type": method,
    }


_DETECTION_WORDS = re.compile(
    r"\b(?:ids|ips|intrusion|anti-?virus|av|malware|virus|threat|attack|exploit|trojan|"
    r"ransomware|botnet|spyware|worm|snort|suricata|edr|detection)\b",
    re.IGNORECASE,
)
_FIREWALL_ACTIONS = frozenset(
    {
        "allow", "allowed", "accept", "accepted", "permit", "permitted", "pass", "passed",
        "deny", "denied", "drop", "dropped", "block", "blocked", "reject", "rejected",
        "close", "closed", "reset",
    }
)  # fmt: skip
_FIREWALL_WORDS = re.compile(r"firewall|traffic|connection|\bfw\b|\bacl\b", re.IGNORECASE)


def cef_class(header: dict[str, Any]) -> OcsfClass:
    ext: dict[str, str] = header["extension"]
    category = ext.get("cat", "")
    if _DETECTION_WORDS.search(
        " ".join((category, header["product"], header["vendor"], header["name"]))
    ):
        return DETECTION
    action = (ext.get("act") or ext.get("outcome") or "").lower()
    if action in _FIREWALL_ACTIONS or _FIREWALL_WORDS.search(f"{category} {header['product']}"):
        return NETWORK
    return BASE


def _cef_columns(header: dict[str, Any], ocsf: OcsfClass) -> dict[str, str | None]:
    ext: dict[str, str] = header["extension"]

    def get(*names: str) -> str | None:
        for name in names:
            value = ext.get(name)
            if value:
                return value
        return None

    return {
        "src_ip": get("src", "sourceTranslatedAddress", "c6a2"),
        "src_port": get("spt"),
        "dst_ip": get("dst", "destinationTranslatedAddress", "c6a3"),
        "dst_port": get("dpt"),
        "user_name": get("suser", "duser"),
        "user_domain": get("sntdom", "dntdom"),
        "status": get("act", "outcome"),
        "process_name": get("sproc", "dproc"),
        "file_path": get("filePath", "fname", "request"),
        "dns_query": get("dhost", "requestClientApplication") if ocsf is not BASE else None,
        "threat_name": header["name"] or None if ocsf is DETECTION else None,
        "logon_type": get("proto", "app"),
    }


# -- rows ----------------------------------------------------------------------------------


def _small_int(value: object) -> int | None:
    if isinstance(value, str) and value.isdigit() and len(value) < 10:
        return int(value)
    return None


def to_row(record: Record, line: str) -> dict[str, object]:
    doc = record.doc
    header = doc.get("cef")
    columns: dict[str, str | None]
    if header is not None:
        ocsf = cef_class(header)
        columns = _cef_columns(header, ocsf)
        channel = CEF_CHANNEL
        provider = f"cef/{header['vendor']}/{header['product']}"
        event_id = _small_int(header["signature_id"])
        host = header["extension"].get("dvchost") or doc.get("host")
    else:
        app = str(doc.get("app") or "")
        message = str(doc.get("msg", ""))
        if app in AUDIT_APPS and "type=USER_" in message:
            auth = _audit_auth(message)
        elif app in AUTH_APPS or app.startswith("sshd-") or "pam_" in line:
            auth = _auth(app, message)
        else:
            auth = None
        ocsf = AUTHENTICATION if auth else BASE
        columns = auth or {}
        columns.setdefault("process_name", app or None)
        columns.setdefault("process_pid", doc.get("pid"))
        channel = CHANNEL
        provider = app or "syslog"
        event_id = None
        host = doc.get("host")
    stored = {"line": line, **doc}
    raw = orjson.dumps(stored)
    return row(
        uid_prefix=channel,
        raw=raw,
        key=line.encode("utf-8", "surrogatepass") + record.time.isoformat().encode(),
        time=record.time,
        host=host,
        channel=channel,
        provider=provider,
        ocsf=ocsf,
        event_id=event_id,
        columns=columns,
    )


# -- files ---------------------------------------------------------------------------------


def frames(handle: BinaryIO) -> Iterator[tuple[int, bytes] | Rejected]:
    """(line number, record bytes) per record: one a line, or RFC 6587 octet-counted frames
    (``LEN SP MSG``, several on a line or one across lines). Over 1 MiB is rejected."""
    number = 0
    offset = 0
    while True:
        try:
            line = handle.readline(MAX_RECORD_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            yield Rejected(number + 1, offset, f"damaged compressed data: {exc}", None)
            return
        if not line:
            return
        number += 1
        start_line, start_offset = number, offset
        offset += len(line)
        if len(line) > MAX_RECORD_BYTES:
            yield Rejected(number, start_offset, "record larger than 1 MiB", preview(line))
            try:
                while line and not line.endswith(b"\n"):
                    line = handle.readline(MAX_RECORD_BYTES)
                    offset += len(line)
            except (OSError, EOFError, zlib.error) as exc:
                yield Rejected(number, offset, f"damaged compressed data: {exc}", None)
                return
            continue
        while line:
            octets = _OCTET.match(line)
            if octets is None:
                text = line.rstrip(b"\r\n")
                if text.strip():
                    yield start_line, text
                break
            size = int(octets.group(1))
            body = line[octets.end() :]
            if size > MAX_RECORD_BYTES:
                yield Rejected(start_line, start_offset, "frame larger than 1 MiB", preview(line))
                break
            try:
                while len(body) < size:
                    more = handle.readline(MAX_RECORD_BYTES + 1)
                    if not more:
                        break
                    number += 1
                    offset += len(more)
                    body += more
            except (OSError, EOFError, zlib.error) as exc:
                yield Rejected(number, offset, f"damaged compressed data: {exc}", None)
                return
            if len(body) < size:
                yield Rejected(
                    start_line,
                    start_offset,
                    f"octet-counted frame of {size} bytes ends after {len(body)}",
                    preview(line),
                )
                return
            yield start_line, body[:size].rstrip(b"\r\n")
            line = body[size:]
            if not line.strip():
                break
            start_line = number


class SyslogConnector:
    """``carewarden ingest syslog``: syslog and CEF files into ``security_event``."""

    name: ClassVar[str] = "syslog"

    def __init__(
        self,
        fmt: Format = "auto",
        timezone: str = "UTC",
        reference: dt.datetime | None = None,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown syslog format {fmt!r}: use one of {', '.join(FORMATS)}")
        self.format: Format = fmt
        self.zone = ZoneInfo(timezone)
        self.reference = reference
        self.ignored: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()

    def set_timezone(self, timezone: str) -> None:
        """The zone of BSD times (an IANA name; ``ZoneInfoNotFoundError`` if unknown)."""
        self.zone = ZoneInfo(timezone)

    def discover(self, path: Path) -> list[Path]:
        if path.is_file():
            return [path]
        if not path.exists():
            raise FileNotFoundError(path)
        return sorted(p for p in path.rglob("*") if p.is_file() and _NAMES.search(p.name))

    def clock(self, path: Path) -> Clock:
        reference = self.reference
        if reference is None:
            try:
                reference = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
            except (OSError, OverflowError, ValueError):
                reference = dt.datetime.now(dt.UTC)
            reference = reference.replace(tzinfo=None)
        return Clock(self.zone, reference)

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        rows = EventRows()
        clock = self.clock(path)
        with open_binary(path) as handle:
            for item in frames(handle):
                if isinstance(item, Rejected):
                    yield item
                    continue
                number, data = item
                try:
                    line = data.decode("utf-8")
                except UnicodeDecodeError:
                    line = data.decode("utf-8", errors="replace")
                    self.notes["lines with invalid UTF-8 stored with the bad bytes replaced"] += 1
                if "\x00" in line:
                    yield Rejected(number, None, "binary data (NUL bytes) in a syslog line",
                                   preview(data))  # fmt: skip
                    continue
                try:
                    built = to_row(parse(line, clock, self.format), line)
                except NotSyslog as exc:
                    yield Rejected(number, None, str(exc), preview(data))
                    continue
                batch = rows.add_row(built)
                if batch is not None:
                    yield batch
        yield from drain(rows)


# -- Sigma ---------------------------------------------------------------------------------


def flat_fields(doc: dict[str, Any]) -> dict[str, str]:
    """The flat record Sigma rules read from a stored ``raw``: the syslog fields under their
    names (``msg`` also as ``message``), structured data as ``SDID.param``, the CEF header
    and extension pairs under their own names."""
    out: dict[str, str] = {}
    for key, value in doc.items():
        if isinstance(value, str):
            out[key] = value
    if "msg" in out:
        out["message"] = out["msg"]
        if doc.get("app") in AUDIT_APPS and "type=" in out["msg"]:
            for key, value in audit_fields(out["msg"]).items():
                out.setdefault(key, value)
    for sd_id, params in (doc.get("sd") or {}).items():
        if isinstance(params, dict):
            for name, value in params.items():
                out[f"{sd_id}.{name}"] = str(value)
    header = doc.get("cef")
    if isinstance(header, dict):
        for key, value in header.items():
            if isinstance(value, str):
                out[f"cef_{key}"] = value
        extension = header.get("extension")
        if isinstance(extension, dict):
            out.update({k: str(v) for k, v in extension.items()})
    return out
