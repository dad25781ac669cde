"""The console's tamper-evident audit log: every view of patient data and every
administrative action, as hash-chained records.

Record *n* stores ``hash = SHA-256(prev_hash, seq, time, actor, action, target, detail)`` with
``prev_hash`` the hash of record *n - 1*; sequence numbers run 1, 2, 3 … without gaps, and the
head (last sequence number and hash) is also kept as a site setting. :func:`verify` recomputes
the chain, so an edited, deleted, inserted or reordered record (or a cut-off tail) is found.
An attacker who can rewrite the whole store can rewrite the whole chain: compare the head
that ``carewarden audit verify`` prints with one recorded elsewhere to rule that out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from carewarden.store import Store
from carewarden.store.store import utcnow

GENESIS = "0" * 64
HEAD_SETTING = "audit_head"


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    recorded_at: dt.datetime
    actor: str
    action: str
    target: str | None
    detail: str
    prev_hash: str
    hash: str


@dataclass
class AuditCheck:
    records: int
    head: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _digest(
    prev: str, seq: int, at: dt.datetime, actor: str, action: str, target: str | None, detail: str
) -> str:
    body = orjson.dumps(
        [prev, seq, at.isoformat(timespec="microseconds"), actor, action, target, detail]
    )
    return hashlib.sha256(body).hexdigest()


def canonical(detail: dict[str, Any] | None) -> str:
    return orjson.dumps(detail or {}, option=orjson.OPT_SORT_KEYS, default=str).decode()


def head(store: Store) -> tuple[int, str]:
    rows = store.query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS)


def record(
    store: Store,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append one record (inside the caller's transaction when there is one). Appends must
    be serialised by the writer: the web server holds its write lock around this call."""
    with store.transaction():
        last_seq, prev = head(store)
        seq = last_seq + 1
        at = utcnow()
        text = canonical(detail)
        digest = _digest(prev, seq, at, actor, action, target, text)
        store.query(
            "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [seq, at, actor, action, target, text, prev, digest],
        )
        store.set_setting(HEAD_SETTING, f"{seq}:{digest}")
    return AuditRecord(seq, at, actor, action, target, text, prev, digest)


def record_many(
    store: Store, entries: list[tuple[str, str, str | None, dict[str, Any] | None]]
) -> int:
    """Append several (actor, action, target, detail) records in one transaction (a server
    batches the records of concurrent requests: one commit instead of one each)."""
    if not entries:
        return 0
    with store.transaction():
        seq, prev = head(store)
        rows = []
        for actor, action, target, detail in entries:
            seq += 1
            at = utcnow()
            text = canonical(detail)
            digest = _digest(prev, seq, at, actor, action, target, text)
            rows.append(
                {
                    "seq": seq,
                    "recorded_at": at,
                    "actor": actor,
                    "action": action,
                    "target": target,
                    "detail": text,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
        store.query(
            "INSERT INTO audit_log SELECT unnest(?::STRUCT(seq BIGINT, recorded_at TIMESTAMP, "
            "actor VARCHAR, action VARCHAR, target VARCHAR, detail VARCHAR, prev_hash VARCHAR, "
            "hash VARCHAR)[], recursive := true)",
            [rows],
        )
        store.set_setting(HEAD_SETTING, f"{seq}:{prev}")
    return len(rows)


def records(store: Store, *, limit: int = 100, offset: int = 0) -> list[AuditRecord]:
    rows = store.query(
        "SELECT seq, recorded_at, actor, action, target, detail, prev_hash, hash FROM audit_log "
        "ORDER BY seq DESC LIMIT ? OFFSET ?",
        [limit, offset],
    )
    return [AuditRecord(*r) for r in rows]


def verify(store: Store) -> AuditCheck:
    """Recompute the chain from the first record; report every break."""
    problems: list[str] = []
    prev = GENESIS
    expected_seq = 1
    count = 0
    for batch in store.row_batches(
        "SELECT seq, recorded_at, actor, action, target, detail, prev_hash, hash FROM audit_log "
        "ORDER BY seq"
    ):
        for seq, at, actor, action, target, detail, prev_hash, digest in batch:
            count += 1
            if seq != expected_seq:
                problems.append(
                    f"record {seq}: expected sequence number {expected_seq} "
                    "(records deleted or inserted)"
                )
            if prev_hash != prev:
                problems.append(
                    f"record {seq}: does not follow the record before it "
                    "(deleted, inserted or reordered)"
                )
            if _digest(prev_hash, seq, at, actor, action, target, detail) != digest:
                problems.append(f"record {seq}: content does not match its hash (edited)")
            prev = digest
            expected_seq = seq + 1
    saved = store.setting(HEAD_SETTING)
    current = f"{expected_seq - 1}:{prev}" if count else None
    if saved != current:
        problems.append(
            f"the log's head is {current or 'empty'} but {saved or 'none'} was recorded "
            "(records removed from the end, or the log replaced)"
        )
    return AuditCheck(count, prev, problems)
