"""The cases' history: one append-only, hash-chained log of every change to every case.

Each record's ``hash`` is SHA-256 over the previous record's hash and the record's canonical
JSON (seq, case, time, actor, kind, detail), and ``seq`` counts 1, 2, 3 … over all cases.
Editing a record breaks its hash, deleting or reordering one breaks the sequence or the link
to its predecessor. The head (last seq and hash) is also kept as a store setting, written in
the same transaction, so dropping the newest records shows too; ``carewarden cases verify``
prints the head so it can be kept outside the store (``--expect``) against someone who
rewrites the whole chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from carewarden.store import Store

HEAD_SETTING = "case_history_head"
GENESIS = ""

EVENT_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("case_id", pa.string()),
        ("recorded_at", pa.timestamp("us")),
        ("actor", pa.string()),
        ("kind", pa.string()),
        ("detail", pa.string()),
        ("prev_hash", pa.string()),
        ("hash", pa.string()),
    ]
)


@dataclass(frozen=True)
class Change:
    """A change to record: what happened to which case, when and by whom."""

    case_id: str
    at: dt.datetime
    actor: str
    kind: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class HistoryRecord:
    seq: int
    case_id: str
    at: dt.datetime
    actor: str
    kind: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


def _canonical(seq: int, change: Change) -> bytes:
    return orjson.dumps(
        {
            "seq": seq,
            "case_id": change.case_id,
            "at": change.at.isoformat(timespec="microseconds"),
            "actor": change.actor,
            "kind": change.kind,
            "detail": change.detail,
        },
        option=orjson.OPT_SORT_KEYS,
    )


def chain_hash(prev_hash: str, seq: int, change: Change) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + _canonical(seq, change)).hexdigest()


def head(store: Store) -> tuple[int, str]:
    """The last record's (seq, hash); (0, '') for an empty history."""
    found = store.query("SELECT seq, hash FROM case_event ORDER BY seq DESC LIMIT 1")
    return (int(found[0][0]), str(found[0][1])) if found else (0, GENESIS)


def append(store: Store, changes: Sequence[Change]) -> int:
    """Append ``changes`` in order, chained to the current head; returns the new head's seq.
    Call it inside the transaction that makes the changes."""
    if not changes:
        return head(store)[0]
    seq, prev = head(store)
    rows: dict[str, list[Any]] = {name: [] for name in EVENT_SCHEMA.names}
    for change in changes:
        seq += 1
        digest = chain_hash(prev, seq, change)
        for name, value in (
            ("seq", seq),
            ("case_id", change.case_id),
            ("recorded_at", change.at),
            ("actor", change.actor),
            ("kind", change.kind),
            ("detail", orjson.dumps(change.detail, option=orjson.OPT_SORT_KEYS).decode()),
            ("prev_hash", prev),
            ("hash", digest),
        ):
            rows[name].append(value)
        prev = digest
    store.append("case_event", pa.table(rows, schema=EVENT_SCHEMA))
    store.set_setting(HEAD_SETTING, f"{seq}:{prev}")
    return seq


def records(store: Store, case_id: str | None = None) -> list[HistoryRecord]:
    """Every record in order (of one case when ``case_id`` is given)."""
    where, params = ("WHERE case_id = ?", [case_id]) if case_id is not None else ("", [])
    rows = store.query(
        "SELECT seq, case_id, recorded_at, actor, kind, detail, prev_hash, hash FROM case_event "
        f"{where} ORDER BY seq",
        params,
    )
    return [
        HistoryRecord(int(s), c, at, actor, kind, orjson.loads(detail), prev, digest)
        for s, c, at, actor, kind, detail, prev, digest in rows
    ]


@dataclass(frozen=True)
class ChainCheck:
    records: int
    head: str  # "seq:hash" of the last record, "0:" when empty
    problems: list[str]


def verify_chain(store: Store, expect_head: str | None = None) -> ChainCheck:
    """Check every link of the chain, the head setting and, when given, an expected head.

    Each problem names the record (seq and case) where the chain breaks; checking continues
    from the stored hash, so one edited record is reported once, not for every later one."""
    problems: list[str] = []
    prev, expected_seq = GENESIS, 1
    found = records(store)
    for record in found:
        where = f"record {record.seq} (case {record.case_id}, {record.kind})"
        if record.seq != expected_seq:
            if record.seq > expected_seq:
                missing = f"{expected_seq}" + (
                    f"-{record.seq - 1}" if record.seq - 1 > expected_seq else ""
                )
                problems.append(f"record(s) {missing} missing before {where}: deleted")
            else:
                problems.append(f"{where} out of order after record {expected_seq - 1}")
        if record.prev_hash != prev:
            problems.append(
                f"{where} does not follow the record before it (deleted, inserted or reordered)"
            )
        change = Change(record.case_id, record.at, record.actor, record.kind, record.detail)
        if chain_hash(record.prev_hash, record.seq, change) != record.hash:
            problems.append(f"{where} does not match its hash: edited")
        prev, expected_seq = record.hash, record.seq + 1
    last = f"{found[-1].seq}:{found[-1].hash}" if found else f"0:{GENESIS}"
    recorded = store.setting(HEAD_SETTING)
    if recorded is not None and recorded != last:
        problems.append(
            f"the history ends at {last.split(':')[0]} but the store recorded its head at "
            f"{recorded.split(':')[0]} ({recorded}): records at the end deleted or replaced"
        )
    if recorded is None and found:
        problems.append("the store has no recorded head for a non-empty history")
    if expect_head is not None and expect_head != last:
        problems.append(f"the head is {last}, not the expected {expect_head}")
    return ChainCheck(len(found), last, problems)
