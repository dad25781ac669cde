"""Break the glass: every emergency-access request raises an alert and opens a review task.

The decision point runs beside ``carewarden ingest`` and ``detect``, which hold the store for
writing, so it never writes the store itself: it appends each break-the-glass decision as one
JSON line to ``<store>/queue/break_glass.jsonl`` (appended with O_APPEND and fsync'ed before
the decision is answered). The next ``carewarden detect`` drains the queue: it renames the
file, adds one alert (rule ``pdp.break_glass``) and one ``review_task`` per line in one
transaction, then deletes the file; a drain that fails leaves the renamed file for the next.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

from carewarden.detect.engine import Alert, alerts_table, user_descriptions
from carewarden.store import Store
from carewarden.store.store import utcnow

QUEUE_DIR = "queue"
QUEUE_FILE = "break_glass.jsonl"
RULE_ID = "pdp.break_glass"
REVIEW_DAYS = 3
MAPPING = ["HIPAA 164.312(a)(2)(ii)", "HIPAA 164.312(b)"]


def queue_path(store_path: Path) -> Path:
    return store_path / QUEUE_DIR / QUEUE_FILE


def enqueue(store_path: Path, event: dict[str, Any]) -> None:
    """Append one break-the-glass decision to the store's queue, durably."""
    path = queue_path(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = orjson.dumps(event) + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _alert(event: dict[str, Any], people: dict[str, tuple[str, str]]) -> Alert:
    user, patient = str(event["user_id"]), str(event["patient_id"])
    name, role = people.get(user, (user, "unknown role"))
    when = dt.datetime.fromisoformat(str(event["time"]))
    relationship = event.get("relationship")
    if not event.get("allowed"):
        severity, score, outcome = "low", 40, "was denied"
    elif relationship:
        severity, score, outcome = "medium", 50, f"was permitted (relationship: {relationship})"
    else:
        severity, score, outcome = "high", 70, "was permitted with no documented relationship"
    reason = event.get("reason") or ""
    stated = f'reason "{reason}"' if reason else "with no reason"
    text = (
        f"{name} ({role}) broke the glass to {event.get('action', 'read')} the chart of "
        f"patient {patient} at {when:%Y-%m-%d %H:%M} UTC, {stated}"
    )
    return Alert(
        alert_id=hashlib.sha256(f"{RULE_ID}|{event['decision_id']}".encode()).hexdigest()[:24],
        rule_id=RULE_ID,
        title="Break-the-glass access",
        severity=severity,
        score=score,
        user_id=user,
        patient_id=patient,
        first_seen=when,
        last_seen=when,
        event_ids=[str(event["decision_id"])],
        explanation=f"{text}; the request {outcome}. Review it.",
        mapping=MAPPING,
    )


def drain(store: Store) -> int:
    """Turn the queued break-the-glass decisions into alerts and review tasks; return how
    many were queued (an event already drained adds nothing)."""
    folder = store.path / QUEUE_DIR
    live = folder / QUEUE_FILE
    if live.exists():
        live.rename(folder / f"break_glass.{utcnow():%Y%m%dT%H%M%S%f}.draining")
    batches = sorted(folder.glob("break_glass.*.draining")) if folder.exists() else []
    events: list[dict[str, Any]] = []
    for batch in batches:
        for line in batch.read_bytes().splitlines():
            if line.strip():
                try:
                    events.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue  # a line cut short by a crash: nothing to recover
    if not events:
        for batch in batches:
            batch.unlink()
        return 0
    people = user_descriptions(store, sorted({str(e["user_id"]) for e in events}))
    alerts = [_alert(e, people) for e in events]
    now = utcnow()
    with store.transaction():
        store.add_alerts(alerts_table(alerts))
        for alert in alerts:
            store.query(
                "INSERT INTO review_task VALUES "
                "(?, ?, 'break_glass_review', ?, ?, ?, 'open', ?, ?) ON CONFLICT DO NOTHING",
                [
                    f"review:{alert.alert_id}",
                    alert.alert_id,
                    f"Review break-the-glass access to patient {alert.patient_id}",
                    alert.user_id,
                    alert.patient_id,
                    now + dt.timedelta(days=REVIEW_DAYS),
                    now,
                ],
            )
    for batch in batches:
        batch.unlink()
    return len(events)
