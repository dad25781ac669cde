"""Fuzzing the Suricata EVE and Zeek connectors: among good records, truncated, binary,
oversized and wrongly typed ones never crash a read; every good record lands, and every bad
one is quarantined with its line number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carewarden.errors import SourceError
from carewarden.model import Batch, Rejected
from carewarden.telemetry.suricata import SuricataConnector
from carewarden.telemetry.zeek import ZeekConnector

EVE_GOOD: list[dict[str, Any]] = [
    {
        "timestamp": "2024-03-01T10:00:00.123456+0100",
        "event_type": "alert",
        "src_ip": "10.1.2.3",
        "src_port": 49152,
        "dest_ip": "203.0.113.9",
        "dest_port": 443,
        "proto": "TCP",
        "alert": {"action": "allowed", "signature_id": 1, "signature": "ET TEST"},
    },
    {
        "timestamp": "2024-03-01T09:00:01.000000+0000",
        "event_type": "flow",
        "src_ip": "10.1.2.3",
        "dest_ip": "203.0.113.9",
        "dest_port": 443,
        "flow": {"state": "closed"},
    },
    {
        "timestamp": "2024-03-01T09:00:02Z",
        "event_type": "dns",
        "dns": {"type": "query", "rrname": "pacs.hospital.example"},
    },
    {
        "timestamp": "2024-03-01T09:00:04.000000-0500",
        "event_type": "http",
        "http": {"hostname": "updates.example.com", "url": "/a.exe", "status": 200},
    },
]
ZEEK_JSON_GOOD: list[dict[str, Any]] = [
    {"_path": "conn", "ts": 1709283600.5, "uid": "C1", "id.orig_h": "10.1.2.3",
     "id.orig_p": 49152, "id.resp_h": "203.0.113.9", "id.resp_p": 443, "proto": "tcp"},
    {"_path": "dns", "ts": "2024-03-01T09:00:01Z", "uid": "C2", "id.orig_h": "10.1.2.4",
     "id.resp_h": "10.0.0.53", "id.resp_p": 53, "query": "pacs.hospital.example"},
    {"_path": "http", "ts": 1709283602.0, "uid": "C3", "id.orig_h": "10.1.2.5",
     "id.resp_h": "198.51.100.7", "id.resp_p": 80, "host": "updates.example.com", "uri": "/"},
]  # fmt: skip
ZEEK_TSV_HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\n"
)
ZEEK_TSV_GOOD = [
    "1709283600.500000\tC1\t10.1.2.3\t49152\t203.0.113.9\t443\ttcp",
    "1709283601.000000\tC2\t10.1.2.4\t-\t203.0.113.10\t53\tudp",
]
OVERSIZED = 1_100_000  # past the 1 MiB a record may have


def _wrong_types(record: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The record with one field replaced by a value of another type."""
    junk = st.one_of(
        st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=20), st.booleans(),
        st.none(), st.lists(st.integers(0, 9), max_size=3), st.dictionaries(st.text(max_size=3),
                                                                           st.integers(0, 9)),
    )  # fmt: skip
    return st.tuples(st.sampled_from(sorted(record)), junk).map(
        lambda kv: {**record, kv[0]: kv[1]}
    )


def _bad_json_lines(good: list[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    text = [orjson.dumps(g) for g in good]
    return st.one_of(
        st.sampled_from(text).flatmap(  # truncated, never whole
            lambda line: st.integers(1, len(line) - 1).map(lambda n: line[:n])
        ),
        st.binary(min_size=1, max_size=200).map(lambda b: b"\xff" + b),
        st.sampled_from(good).flatmap(_wrong_types).map(orjson.dumps),
        st.just(b'{"pad": "' + b"x" * OVERSIZED + b'"}'),
    )


def _one_line(data: bytes) -> bytes:
    data = data.replace(b"\n", b" ").replace(b"\r", b" ")
    return data if data.strip() else b"x"


def _read(connector: Any, path: Path) -> tuple[int, list[Rejected]]:
    try:
        items = list(connector.read(path))
    except SourceError:  # the whole file refused, with a reason: allowed, never a crash
        return -1, []
    assert all(isinstance(i, Batch | Rejected) for i in items)
    rows = sum(i.rows.num_rows for i in items if isinstance(i, Batch))
    return rows, [i for i in items if isinstance(i, Rejected)]


def _check(rows: int, rejected: list[Rejected], good_lines: list[int], lines: int) -> None:
    assert rows >= len(good_lines), "a good record was lost"
    assert rows + len(rejected) <= lines
    numbers = [r.line for r in rejected]
    assert all(n is not None and 1 <= n <= lines for n in numbers)
    assert not set(numbers) & set(good_lines), "a good record was quarantined"


def _mixed(
    good: list[bytes], bad: st.SearchStrategy[bytes]
) -> st.SearchStrategy[list[tuple[bool, bytes]]]:
    item = st.one_of(
        st.sampled_from(good).map(lambda line: (True, line)),
        bad.map(lambda line: (False, _one_line(line))),
    )
    return st.lists(item, min_size=1, max_size=12)


FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example,
                           HealthCheck.data_too_large],
)  # fmt: skip


@FUZZ
@given(_mixed([orjson.dumps(e) for e in EVE_GOOD], _bad_json_lines(EVE_GOOD)))
def test_fuzzed_suricata_eve(
    tmp_path_factory: pytest.TempPathFactory, lines: list[tuple[bool, bytes]]
) -> None:
    path = tmp_path_factory.mktemp("eve") / "eve.json"
    path.write_bytes(b"\n".join(line for _, line in lines) + b"\n")
    rows, rejected = _read(SuricataConnector(), path)
    assert rows >= 0, "a Suricata file with good records was refused whole"
    _check(rows, rejected, [n for n, (ok, _) in enumerate(lines, 1) if ok], len(lines))


@FUZZ
@given(_mixed([orjson.dumps(e) for e in ZEEK_JSON_GOOD], _bad_json_lines(ZEEK_JSON_GOOD)))
def test_fuzzed_zeek_json(
    tmp_path_factory: pytest.TempPathFactory, lines: list[tuple[bool, bytes]]
) -> None:
    path = tmp_path_factory.mktemp("zeekjson") / "conn.log"
    path.write_bytes(b"\n".join(line for _, line in lines) + b"\n")
    rows, rejected = _read(ZeekConnector(), path)
    if rows < 0:  # refused whole: only when the first line does not look like Zeek JSON
        assert not lines[0][0]
        return
    _check(rows, rejected, [n for n, (ok, _) in enumerate(lines, 1) if ok], len(lines))


_tsv_bad = st.one_of(
    st.sampled_from(ZEEK_TSV_GOOD).flatmap(  # truncated: fewer fields than #fields names
        lambda line: st.integers(1, line.rindex("\t")).map(lambda n: line[:n].encode())
    ),
    st.binary(min_size=1, max_size=100).map(lambda b: b"\xff" + b.replace(b"#", b"")),
    st.sampled_from(["nan", "yesterday", "-", "1e400", "12:00"]).map(  # a time that is not one
        lambda ts: (ts + ZEEK_TSV_GOOD[0][ZEEK_TSV_GOOD[0].index("\t"):]).encode()
    ),
    st.just(b"1709283600.5\tC9\t" + b"x" * OVERSIZED + b"\t1\t10.0.0.1\t2\ttcp"),
)


@FUZZ
@given(_mixed([line.encode() for line in ZEEK_TSV_GOOD], _tsv_bad))
def test_fuzzed_zeek_tsv(
    tmp_path_factory: pytest.TempPathFactory, lines: list[tuple[bool, bytes]]
) -> None:
    header = ZEEK_TSV_HEADER.encode()
    offset = header.count(b"\n")
    body = [b"#" + line if line.startswith(b"#") else line for _, line in lines]
    path = tmp_path_factory.mktemp("zeektsv") / "conn.log"
    path.write_bytes(header + b"\n".join(body) + b"\n")
    rows, rejected = _read(ZeekConnector(), path)
    assert rows >= 0, "a Zeek log with a valid header was refused whole"
    good = [offset + n for n, (ok, _) in enumerate(lines, 1) if ok]
    _check(rows, rejected, good, offset + len(lines))


EVTX_SAMPLE = (
    Path(__file__).resolve().parents[3] / "shared" / "corpora" / "evtx" / "EVTX-ATTACK-SAMPLES"
    / "Execution" / "exec_sysmon_1_lolbin_pcalua.evtx"
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_fuzzed_evtx_headers_never_crash(
    tmp_path_factory: pytest.TempPathFactory, blob: bytes
) -> None:
    """Bytes behind an EVTX file signature: batches and rejects, or the file refused whole."""
    from carewarden.telemetry.evtx import EvtxConnector

    path = tmp_path_factory.mktemp("evtx") / "x.evtx"
    path.write_bytes(b"ElfFile\x00" + blob)
    _read(EvtxConnector(), path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 2**31), st.integers(0, 255)), min_size=1, max_size=40))
def test_damaged_real_evtx_never_crashes(
    tmp_path_factory: pytest.TempPathFactory, flips: list[tuple[int, int]]
) -> None:
    """A real Sysmon EVTX with bytes overwritten: whatever survives is read, nothing crashes."""
    if not EVTX_SAMPLE.is_file():
        pytest.skip(f"the shared EVTX corpus is absent ({EVTX_SAMPLE})")
    from carewarden.telemetry.evtx import EvtxConnector

    data = bytearray(EVTX_SAMPLE.read_bytes())
    for where, value in flips:
        data[4096 + where % (len(data) - 4096)] = value  # past the file header: chunks only
    path = tmp_path_factory.mktemp("evtx") / "damaged.evtx"
    path.write_bytes(bytes(data))
    rows, rejected = _read(EvtxConnector(), path)
    assert rows >= 0, "chunk damage refused the whole file"
    assert all(r.error for r in rejected)
