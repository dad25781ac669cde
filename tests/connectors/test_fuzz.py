"""Fuzzing the parsers: whatever the bytes, nothing crashes, good records all land, and every
bad record is quarantined with its line number."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from carewarden.connectors.access_csv import AccessCsvConnector, AccessCsvMapping
from carewarden.connectors.base import RetryFile
from carewarden.connectors.fhir import FhirConnector
from carewarden.model import Batch, Rejected


def good_event(i: int) -> bytes:
    return json.dumps(
        {
            "resourceType": "AuditEvent",
            "id": f"good-{i}",
            "recorded": "2026-03-03T08:00:00Z",
            "agent": [{"who": {"reference": "Practitioner/u1"}, "requestor": True}],
            "entity": [{"what": {"reference": "Patient/p1"}}],
        }
    ).encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceType",
                    "id",
                    "recorded",
                    "agent",
                    "entity",
                    "who",
                    "reference",
                    "what",
                    "requestor",
                    "subtype",
                    "code",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=12,
)
garbage = (
    st.binary(max_size=200).filter(lambda b: b"\n" not in b)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.sampled_from(
        [
            b'{"resourceType":"AuditEvent"',
            b"\xff\xfe\xfd",
            b'{"resourceType":"Patient","id":5}',
            b'{"resourceType":"AuditEvent","id":"z","recorded":"2026-13-45T99:00:00Z"}',
            b'{"resourceType":"Encounter","id":"e","subject":"Patient/1"}',
            b"null",
            b"\x00",
        ]
    )
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.booleans(), garbage), min_size=1, max_size=25))
@example([(False, b'{"resourceType":"AuditEvent","id":"g","recorded":"x"}')])
def test_fhir_ndjson_survives_anything(tmp_path: Path, lines: list[tuple[bool, bytes]]) -> None:
    """Good AuditEvents mixed with arbitrary lines: all good ones are stored, and every line is
    either stored, ignored, blank or quarantined with its own line number."""
    content = []
    good_lines = set()
    for number, (is_good, junk) in enumerate(lines, start=1):
        if is_good:
            content.append(good_event(number))
            good_lines.add(number)
        else:
            content.append(junk)
    path = tmp_path / "fuzz.ndjson"
    path.write_bytes(b"\n".join(content) + b"\n")
    connector = FhirConnector()
    try:
        items = list(connector.read(path))
    except RetryFile:  # the whole-file path gave up: read line by line, as the ingest does
        items = list(connector.read(path))
    rows = [r for b in items if isinstance(b, Batch) for r in b.rows.to_pylist()]
    rejected = [i for i in items if isinstance(i, Rejected)]
    stored_ids = {r["event_id"] for r in rows if r.get("event_id", "").startswith("good-")}
    assert {f"good-{n}" for n in good_lines} <= stored_ids
    assert all(r.line not in good_lines for r in rejected)
    assert all(1 <= (r.line or 0) <= len(lines) for r in rejected)
    assert len({r.line for r in rejected}) == len(rejected)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.binary(max_size=80).filter(lambda b: b"\n" not in b), min_size=1, max_size=20))
@example([b"ab\rcd"])
@example([b'""\x00', b"\r"])
def test_access_csv_survives_anything(tmp_path: Path, junk: list[bytes]) -> None:
    """A good row, then arbitrary rows, then a good row: the file is read (leniently if the
    strict parser gives up), nothing raises, and the first good row lands."""
    header = b"event_id,access_time,user_id,patient_id,action,workstation,purpose,reason\n"
    good = b"g%d,2026-03-02 08:00:00,u1,p1,read,ws,TREAT,\n"
    body = good % 1 + b"".join(j + b"\n" for j in junk) + good % 2
    path = tmp_path / "fuzz.csv"
    path.write_bytes(header + body)
    mapping = AccessCsvMapping.load(Path("synthetic")).with_timezone("UTC")
    connector = AccessCsvConnector(mapping)
    try:
        items = list(connector.read(path))
    except RetryFile:
        items = list(connector.read(path))  # what the ingest service does
    rows = [r for b in items if isinstance(b, Batch) for r in b.rows.to_pylist()]
    ids = {r["event_id"] for r in rows}
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert all(isinstance(r.error, str) and r.error for r in rejected)
    # A junk line with an unbalanced quote may swallow what follows into one field; the first
    # good row always lands.
    assert "g1" in ids
