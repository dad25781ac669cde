"""One Windows event as a flat record: ``{field name: text}``.

Three shapes of the same event are read: the JSON the ``evtx`` parser emits (``Event.System``,
``Event.EventData``, ``Event.UserData``), Winlogbeat (``winlog.event_data`` …) and NXLog
(one flat object). Each becomes the same flat record: the ``System`` values under stable
names (``EventID``, ``Channel``, ``Provider_Name``, ``Computer``, ``EventRecordID``,
``TimeCreated`` …) and every ``EventData``/``UserData`` leaf under its own name, as
Sigma rules name them. Every value is text (JSON numbers and booleans as written, null as
an empty string), so that one matching function serves every field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Names of the System values that describe where an event comes from.
EVENT_ID = "EventID"
CHANNEL = "Channel"
PROVIDER = "Provider_Name"
COMPUTER = "Computer"
RECORD_ID = "EventRecordID"
TIME = "TimeCreated"


class NotAnEvent(ValueError):
    """The JSON value is not a Windows event in a shape this module reads."""


@dataclass(slots=True)
class WinEvent:
    """A flat event and where it came from. ``fields`` keeps the names' case. (Not frozen:
    a frozen dataclass costs ~0.5 µs more to build, once per event.)"""

    fields: dict[str, str]
    time: dt.datetime
    host: str
    channel: str
    event_id: int | None
    record_id: int | None


def text(value: Any) -> str:
    """A JSON scalar as the text Sigma compares (``true``/``false``, numbers as written)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(text(v) for v in value)
    return str(value)


def _leaves(node: Mapping[str, Any], out: dict[str, str]) -> None:
    for key, value in node.items():
        if type(value) is str:  # most values: the fast path (this runs per event field)
            if key != "xmlns":
                out[key] = value
        elif key == "#attributes":
            if isinstance(value, dict):
                for name, attribute in value.items():
                    if name != "xmlns":
                        out[name] = text(attribute)
        elif isinstance(value, dict):
            if "#text" in value:
                out[key] = text(value["#text"])
                if isinstance(value.get("#attributes"), dict):
                    _leaves({"#attributes": value["#attributes"]}, out)
            else:
                _leaves(value, out)
        elif key != "xmlns":
            out[key] = text(value)


def _attr(node: Any, name: str) -> Any:
    if isinstance(node, dict):
        attributes = node.get("#attributes")
        if isinstance(attributes, dict):
            return attributes.get(name)
    return None


def parse_time(value: str) -> dt.datetime:
    """An ISO-8601 time (``Z`` or an offset; none means UTC) as naive UTC."""
    if len(value) == 27 and value[26] == "Z" and value[19] == ".":  # EVTX's own form
        return dt.datetime.fromisoformat(value[:26])
    stamp = value.strip().replace(" ", "T", 1)
    if stamp.endswith("Z") and len(stamp) > 19 and stamp[19] == ".":
        # UTC with a fraction, as every EVTX record has it: no zone to convert. More than
        # microseconds (NXLog, .NET): keep six digits.
        return dt.datetime.fromisoformat(stamp[:26] if len(stamp) > 27 else stamp[:-1])
    parsed = dt.datetime.fromisoformat(stamp)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return None


def from_evtx_json(doc: Mapping[str, Any]) -> WinEvent:
    """The ``evtx`` parser's JSON (``{"Event": {"System": …, "EventData": …}}``).

    This runs once per event of every EVTX file, so the ``System`` object is read in one
    pass: its plain values by name, and the attributes of ``Provider``, ``Execution``,
    ``Security`` and ``TimeCreated`` where they are met."""
    event = doc.get("Event")
    if not isinstance(event, dict):
        raise NotAnEvent("no Event object")
    system = event.get("System")
    if not isinstance(system, dict):
        raise NotAnEvent("no Event.System object")
    fields: dict[str, str] = {}
    for section in ("EventData", "UserData"):
        data = event.get(section)
        if isinstance(data, dict):
            _leaves(data, fields)
        elif data is not None:
            fields[section] = text(data)
    created: Any = None
    event_id: Any = None
    for key, value in system.items():
        if type(value) is str:
            fields[key] = value
        elif type(value) is int:
            fields[key] = str(value)
            if key == "EventID":
                event_id = value
        elif isinstance(value, dict):
            attributes = value.get("#attributes")
            if key == "EventID":
                event_id = value.get("#text")
            elif not isinstance(attributes, dict):
                continue
            elif key == "Provider":
                if "Name" in attributes:
                    fields[PROVIDER] = text(attributes["Name"])
            elif key == "Execution":
                for name in ("ProcessID", "ThreadID"):
                    if name in attributes:
                        fields[f"Execution_{name}"] = text(attributes[name])
            elif key == "Security":
                if "UserID" in attributes:
                    fields["Security_UserID"] = text(attributes["UserID"])
            elif key == "TimeCreated":
                created = attributes.get("SystemTime")
        else:
            fields[key] = text(value)
            if key == "EventID":
                event_id = value
    fields[EVENT_ID] = text(event_id)
    if created is None:
        raise NotAnEvent("no Event.System.TimeCreated")
    fields[TIME] = stamp = text(created)
    if type(event_id) is not int or type(system.get(RECORD_ID)) is not int:
        return _finish(fields, parse_time(stamp))
    return WinEvent(
        fields,
        parse_time(stamp),
        fields.get(COMPUTER, ""),
        fields.get(CHANNEL, ""),
        event_id,
        system[RECORD_ID],
    )


# Winlogbeat keeps System values under winlog.*, with its own names.
_WINLOGBEAT_SYSTEM = {
    "event_id": EVENT_ID,
    "channel": CHANNEL,
    "provider_name": PROVIDER,
    "computer_name": COMPUTER,
    "record_id": RECORD_ID,
    "task": "Task",
    "opcode": "Opcode",
    "version": "Version",
    "keywords": "Keywords",
}
# NXLog writes System values at the top level, under its own names.
_NXLOG_SYSTEM = {
    "Hostname": COMPUTER,
    "SourceName": PROVIDER,
    "ProviderName": PROVIDER,
    "RecordNumber": RECORD_ID,
    "EventTime": TIME,
}
_NXLOG_DROP = {"EventReceivedTime", "SourceModuleName", "SourceModuleType", "EventType"}


def from_winlogbeat(doc: Mapping[str, Any]) -> WinEvent:
    winlog = doc.get("winlog")
    if not isinstance(winlog, dict):
        raise NotAnEvent("no winlog object")
    fields: dict[str, str] = {}
    for section in ("event_data", "user_data"):
        data = winlog.get(section)
        if isinstance(data, dict):
            _leaves(data, fields)
    for key, name in _WINLOGBEAT_SYSTEM.items():
        if key in winlog:
            fields[name] = text(winlog[key])
    if COMPUTER not in fields and isinstance(doc.get("host"), dict):
        fields[COMPUTER] = text(doc["host"].get("name"))
    if EVENT_ID not in fields and isinstance(doc.get("event"), dict):
        fields[EVENT_ID] = text(doc["event"].get("code"))
    stamp = doc.get("@timestamp")
    if not isinstance(stamp, str):
        raise NotAnEvent("no @timestamp")
    fields[TIME] = stamp
    return _finish(fields, parse_time(stamp))


def from_nxlog(doc: Mapping[str, Any]) -> WinEvent:
    fields: dict[str, str] = {}
    for key, value in doc.items():
        if key in _NXLOG_DROP or isinstance(value, dict):
            continue
        fields[_NXLOG_SYSTEM.get(key, key)] = text(value)
    stamp = fields.get(TIME)
    if not stamp:
        raise NotAnEvent("no EventTime")
    return _finish(fields, parse_time(stamp))


def from_json(doc: Any) -> WinEvent:
    """Any of the three shapes, recognised by its keys."""
    if not isinstance(doc, dict):
        raise NotAnEvent(f"a JSON {type(doc).__name__}, not an object")
    if "Event" in doc:
        return from_evtx_json(doc)
    if "winlog" in doc:
        return from_winlogbeat(doc)
    if "EventID" in doc and ("Channel" in doc or "SourceName" in doc):
        return from_nxlog(doc)
    raise NotAnEvent("not a Windows event (no Event, winlog or EventID/Channel keys)")


def _finish(fields: dict[str, str], time: dt.datetime) -> WinEvent:
    event_id = _int(fields.get(EVENT_ID))
    if EVENT_ID in fields and event_id is None:
        raise NotAnEvent(f"EventID {fields[EVENT_ID]!r} is not a number")
    return WinEvent(
        fields=fields,
        time=time,
        host=fields.get(COMPUTER, ""),
        channel=fields.get(CHANNEL, ""),
        event_id=event_id,
        record_id=_int(fields.get(RECORD_ID)),
    )
