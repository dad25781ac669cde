"""Fuzzing the syslog and osquery connectors: truncated, binary, oversized and wrongly
typed records never crash a read; each line is a row or is quarantined with its number."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carewarden.model import Batch, Rejected
from carewarden.telemetry.osquery import OsqueryConnector
from carewarden.telemetry.syslog import _OCTET, Clock, NotSyslog, SyslogConnector, parse

GOOD = [
    "Jan  1 00:00:03 ehr-db01 sshd[2301]: Accepted publickey for alice from 10.1.2.3 port 5 ssh2",
    "<86>Jan  1 00:01:00 h sudo:    alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id",
    '<165>1 2025-01-01T10:00:00Z pacs01 app 1 ID [a@1 k="v\\"x"][b k="y"] \ufeffmsg',
    "CEF:0|Acme|IDS|1|100|Attack \\| x|9|src=10.0.0.1 dst=10.0.0.2 act=blocked rt=1735725600000",
    "<134>Jan  1 09:00:00 fw CEF:0|V|Firewall|1|2|deny|3|src=1.2.3.4 act=deny msg=a\\=b c",
    "2025-01-01T01:00:00.5+01:00 h a[3]: pam_unix(sshd:auth): authentication failure; rhost=x",
    "Jan  1 00:06:00 h login[2]: FAILED LOGIN (1) on '/dev/tty1' FROM 10.9.9.9 FOR m, x",
    "node=h type=USER_AUTH msg=audit(1735722000.250:900): pid=1 msg='op=PAM acct=\"b\" res=failed'",
]
_fragments = st.sampled_from(GOOD).flatmap(
    lambda line: st.integers(0, len(line)).map(lambda n: line[:n])
)
_lines = st.one_of(
    _fragments,
    st.text(max_size=200),
    st.binary(max_size=200),
    st.tuples(_fragments, st.binary(max_size=20), _fragments).map(
        lambda t: t[0].encode() + t[1] + t[2].encode()
    ),
)


def _line_bytes(value: str | bytes) -> bytes:
    data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    data = data.replace(b"\n", b" ").replace(b"\r", b" ")
    return b"x" + data if _OCTET.match(data) else data


def _count(items: list[Batch | Rejected]) -> tuple[int, list[int | None]]:
    rows = sum(i.rows.num_rows for i in items if isinstance(i, Batch))
    return rows, [i.line for i in items if isinstance(i, Rejected)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_lines, max_size=30), st.sampled_from(["auto", "3164", "5424", "cef"]))
def test_fuzzed_syslog_lines(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str | bytes], fmt: Any
) -> None:
    """Any lines, any format: every non-blank line is one row or one quarantined record."""
    data = [_line_bytes(line) for line in lines]
    path = tmp_path_factory.mktemp("fuzz") / "x.log"
    path.write_bytes(b"\n".join(data))
    items = list(SyslogConnector(fmt).read(path))
    assert all(isinstance(i, Batch | Rejected) for i in items)
    rows, rejected = _count(items)
    expected = [n for n, line in enumerate(data, 1) if line.strip()]
    assert rows + len(rejected) == len(expected)
    assert set(rejected) <= set(expected)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parse_raises_only_not_syslog(text: str) -> None:
    clock = Clock(SyslogConnector().zone, dt.datetime(2025, 1, 2))
    try:
        record = parse(text, clock)
    except NotSyslog:
        return
    assert isinstance(record.time, dt.datetime)


def test_oversized_and_binary_lines_are_quarantined(tmp_path: Path) -> None:
    """A line over 1 MiB (also as an octet-counted frame) and NUL bytes are quarantined
    with their line numbers; the lines around them land."""
    good = GOOD[0].encode()
    data = b"\n".join(
        [good, b"Jan  1 00:00:00 h a: " + b"A" * (1 << 20) + b" end", good.replace(b"5", b"6"),
         b"2000000 <13>1 2025-01-01T00:00:00Z h a - - - big", b"\x00\x01\xff\xfe binary",
         good.replace(b"5", b"7")]
    )  # fmt: skip
    path = tmp_path / "big.log.gz"
    path.write_bytes(gzip.compress(data))
    items = list(SyslogConnector().read(path))
    rows, rejected = _count(items)
    assert rows == 3 and rejected == [2, 4, 5]
    errors = [i.error for i in items if isinstance(i, Rejected)]
    assert "larger than 1 MiB" in errors[0] and "larger than 1 MiB" in errors[1]
    assert "NUL" in errors[2]


def test_damaged_gzip_keeps_the_lines_before(tmp_path: Path) -> None:
    packed = gzip.compress(("\n".join(GOOD[:2]) + "\n").encode() * 200)
    path = tmp_path / "cut.log.gz"
    path.write_bytes(packed[: len(packed) - 20])
    items = list(SyslogConnector().read(path))
    rows, rejected = _count(items)
    assert rows > 0 and len(rejected) == 1
    assert "damaged compressed data" in next(i for i in items if isinstance(i, Rejected)).error


def _dumps(value: object) -> bytes:
    return json.dumps(value).encode()  # big integers and NaN too, unlike orjson


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)  # fmt: skip
_envelope = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.sampled_from(["processes", "pack_x_file_events", "last"]), _json),
        "hostIdentifier": st.one_of(st.just("h1"), _json),
        "unixTime": st.one_of(st.integers(-(10**12), 10**12), st.text(max_size=12), _json),
        "calendarTime": st.one_of(st.just("Wed Jan  1 10:00:00 2025 UTC"), _json),
        "action": st.one_of(st.sampled_from(["added", "removed"]), _json),
        "columns": st.one_of(st.dictionaries(st.text(max_size=8), _json, max_size=5), _json),
        "snapshot": st.one_of(st.lists(_json, max_size=4), _json),
        "diffResults": st.one_of(
            st.fixed_dictionaries({"added": st.lists(_json, max_size=3)}), _json
        ),
    },
)
_osquery_lines = st.one_of(
    _envelope.map(_dumps),
    _envelope.map(_dumps).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),
    st.binary(max_size=100),
    _json.map(_dumps),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_osquery_lines, max_size=20))
def test_fuzzed_osquery_results(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes]
) -> None:
    """Wrongly typed, truncated and binary records: only rows, rejects and ignored counts;
    each line that is neither rejected nor ignored gives at least one row."""
    data = [line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines]
    path = tmp_path_factory.mktemp("fuzz") / "osqueryd.results.log"
    path.write_bytes(b"\n".join(data))
    connector = OsqueryConnector()
    items = list(connector.read(path))
    assert all(isinstance(i, Batch | Rejected) for i in items)
    rows, rejected = _count(items)
    expected = {n for n, line in enumerate(data, 1) if line.strip()}
    assert set(rejected) <= expected
    accounted = len(set(rejected)) + sum(connector.ignored.values())
    assert rows >= len(expected) - accounted


def test_oversized_osquery_line(tmp_path: Path) -> None:
    good = orjson.dumps(
        {"name": "processes", "unixTime": 1735725600, "action": "added", "columns": {"pid": "1"}}
    )
    big = orjson.dumps({"name": "processes", "snapshot": [{"x": "A" * (1 << 20)}]})
    path = tmp_path / "r.log"
    path.write_bytes(b"\n".join([good, big, good.replace(b'"1"', b'"2"')]) + b"\n")
    rows, rejected = _count(list(OsqueryConnector().read(path)))
    assert rows == 2 and rejected == [2]
