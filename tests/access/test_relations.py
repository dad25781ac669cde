"""The decision point's relationship lookups agree with the audit's (one implementation)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pyarrow as pa

from carewarden.access.relations import RelationshipIndex, micros
from carewarden.detect.explain import explain_requests, explain_since, relationship_windows
from carewarden.store import Store


def _requests(store: Store, rng: random.Random, n: int) -> list[tuple[str, str, dt.datetime, str]]:
    """Requests near real accesses (mostly explained) and between random users and patients
    (mostly not), at varied times and purposes; one request per (user, patient)."""
    accesses = store.query("SELECT user_id, patient_id, time FROM ehr_access USING SAMPLE 400 ROWS")
    users = [u for (u,) in store.query("SELECT user_id FROM workforce ORDER BY 1")]
    patients = [p for (p,) in store.query("SELECT patient_id FROM patient ORDER BY 1")]
    start, end = store.query("SELECT min(time), max(time) FROM ehr_access")[0]
    span = int((end - start).total_seconds())
    out, seen = [], set()
    while len(out) < n:
        if rng.random() < 0.6:
            user, patient, when = rng.choice(accesses)
            when += dt.timedelta(hours=rng.choice((-30, -2, 0, 1, 5, 48, 24 * 9, 24 * 40)))
        else:
            user, patient = rng.choice(users), rng.choice(patients)
            when = start + dt.timedelta(seconds=rng.randrange(span))
        if (user, patient) in seen:
            continue
        seen.add((user, patient))
        out.append((user, patient, when, rng.choice(("TREAT", "TREAT", "ETREAT", "HPAYMT"))))
    return out


def test_fast_path_agrees_with_the_audit(synthetic_store: Path) -> None:
    """For 300 requests on a synthetic hospital, the in-memory index gives exactly the reason
    ``explain_requests`` (the audit's SQL) gives, relationships and repeats alike."""
    with Store.open(synthetic_store, read_only=True) as store:
        index = RelationshipIndex(relationship_windows(store))
        index.remember(explain_since(store))
        requests = _requests(store, random.Random(3), 300)
        expected = explain_requests(
            store,
            pa.table(
                {
                    "user_id": [r[0] for r in requests],
                    "patient_id": [r[1] for r in requests],
                    "time": pa.array([r[2] for r in requests], pa.timestamp("us")),
                    "purpose": [r[3] for r in requests],
                }
            ),
        )
    found = [index.explain(u, p, micros(t), purpose) for u, p, t, purpose in requests]
    assert found == expected
    # The sample exercises the relationships, not only their absence.
    kinds = {reason for reason in expected if reason}
    assert {"encounter", "department", "repeat"} <= kinds and None in expected
