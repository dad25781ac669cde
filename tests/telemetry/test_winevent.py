"""Windows events in their three JSON shapes become one flat record; OCSF classes."""

from __future__ import annotations

import datetime as dt

import pytest

from carewarden.telemetry.ocsf import classify, normalise
from carewarden.telemetry.winevent import NotAnEvent, from_json

EVTX_JSON = {
    "Event": {
        "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
            "EventID": 1,
            "TimeCreated": {"#attributes": {"SystemTime": "2026-03-02T08:15:02.1234567Z"}},
            "EventRecordID": 42,
            "Execution": {"#attributes": {"ProcessID": 3544, "ThreadID": 4272}},
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Computer": "WS-ICU-01",
            "Security": {"#attributes": {"UserID": "S-1-5-18"}},
        },
        "EventData": {
            "Image": "C:\\Windows\\System32\\cmd.exe",
            "IsExecutable": True,
            "Hashes": None,
            "ProcessId": 4242,
        },
    }
}


def test_evtx_json_is_flattened_with_system_fields() -> None:
    """System values get stable names, EventData keeps its own, every value is text."""
    event = from_json(EVTX_JSON)
    assert event.fields["EventID"] == "1"
    assert event.fields["Provider_Name"] == "Microsoft-Windows-Sysmon"
    assert event.fields["Execution_ProcessID"] == "3544"
    assert event.fields["Security_UserID"] == "S-1-5-18"
    assert event.fields["IsExecutable"] == "true"
    assert event.fields["Hashes"] == ""
    assert event.fields["ProcessId"] == "4242"
    assert (event.host, event.channel, event.event_id, event.record_id) == (
        "WS-ICU-01",
        "Microsoft-Windows-Sysmon/Operational",
        1,
        42,
    )
    assert event.time == dt.datetime(2026, 3, 2, 8, 15, 2, 123456)


def test_userdata_and_unnamed_data_are_flattened() -> None:
    """UserData leaves keep their names; unnamed <Data> values are joined one a line."""
    doc = {
        "Event": {
            "System": {
                "EventID": {"#attributes": {"Qualifiers": 0}, "#text": 400},
                "Channel": "Windows PowerShell",
                "TimeCreated": {"#attributes": {"SystemTime": "2026-01-01T00:00:00Z"}},
            },
            "EventData": {"Data": {"#text": ["Available", "HostName=ConsoleHost"]}},
            "UserData": {"LogFileCleared": {"SubjectUserName": "admin"}},
        }
    }
    event = from_json(doc)
    assert event.event_id == 400
    assert event.fields["Data"] == "Available\nHostName=ConsoleHost"
    assert event.fields["SubjectUserName"] == "admin"


def test_winlogbeat_and_nxlog_shapes() -> None:
    """Winlogbeat's winlog.* and NXLog's flat names map to the same System names."""
    beat = from_json(
        {
            "@timestamp": "2026-03-02T08:16:00+01:00",
            "winlog": {
                "channel": "Security",
                "event_id": 4624,
                "computer_name": "WS1",
                "record_id": 7,
                "event_data": {"TargetUserName": "nurse1"},
            },
        }
    )
    assert (beat.channel, beat.event_id, beat.host, beat.record_id) == ("Security", 4624, "WS1", 7)
    assert beat.time == dt.datetime(2026, 3, 2, 7, 16)
    nx = from_json(
        {
            "EventTime": "2026-03-02 09:00:00",
            "Hostname": "SRV",
            "EventID": 4688,
            "Channel": "Security",
            "NewProcessName": "C:\\x.exe",
        }
    )
    assert (nx.host, nx.event_id, nx.fields["NewProcessName"]) == ("SRV", 4688, "C:\\x.exe")


@pytest.mark.parametrize(
    "doc",
    [
        [1, 2],
        {"message": "x"},
        {"Event": {"System": {"EventID": 1}}},
        {"winlog": {"event_id": 1}},
        {
            "Event": {
                "System": {
                    "EventID": "x",
                    "TimeCreated": {"#attributes": {"SystemTime": "2026-01-01T00:00:00Z"}},
                }
            }
        },
    ],
)
def test_what_is_not_an_event_is_refused(doc: object) -> None:
    """A value that is no Windows event raises NotAnEvent (the connector quarantines it)."""
    with pytest.raises(NotAnEvent):
        from_json(doc)


def test_ocsf_class_and_normalised_columns() -> None:
    """Sysmon 1 is process activity; its image and user fill the shared columns."""
    event = from_json(EVTX_JSON)
    assert classify(event).name == "process_activity"
    assert normalise(event)["process_name"] == "C:\\Windows\\System32\\cmd.exe"
    logon = from_json(
        {
            "@timestamp": "2026-03-02T08:16:00Z",
            "winlog": {
                "channel": "Security",
                "event_id": 4625,
                "event_data": {"TargetUserName": "bob", "IpAddress": "10.0.0.5"},
            },
        }
    )
    assert classify(logon).name == "authentication"
    assert normalise(logon)["user_name"] == "bob"
    assert normalise(logon)["src_ip"] == "10.0.0.5"
