"""The fast path of the audit's relationships: which documented relationship explains a
user opening a patient's chart at a time, in microseconds instead of a query.

The windows come from :func:`carewarden.detect.explain.relationship_windows`, the SQL the audit
joins every access with; this module only holds them in columnar arrays per patient and
applies the same test (the user holds the window's key at the time, and the time is in the
window; the smallest code wins), then the audit's ``repeat``: an access the same user made
to the patient within the policy's repeat window that a relationship explained.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa

from carewarden.detect.explain import ENCOUNTER_BITS, RelationshipWindows

EPOCH = dt.datetime(1970, 1, 1)
MICROSECOND = dt.timedelta(microseconds=1)
REPEAT = "repeat"


def columns(table: pa.Table, *names: str) -> list[list[Any]]:
    """The named columns of ``table`` as Python lists."""
    return [table.column(name).to_pylist() for name in names]


def micros(when: dt.datetime) -> int:
    """Microseconds since the epoch of a naive UTC time."""
    return (when - EPOCH) // MICROSECOND


class RelationshipIndex:
    """Relationship windows by patient and keys by user, for one lookup per decision."""

    def __init__(self, windows: RelationshipWindows) -> None:
        self.reasons = windows.reasons
        self.repeat_us = round(windows.policy.relationships.repeat_days * 86_400 * 1_000_000)
        table = windows.patient_windows
        self._key_ids: dict[str, int] = {}
        self._offsets: dict[str, tuple[int, int]] = {}
        if table.num_rows:
            patients = table.column("patient_id").combine_chunks().dictionary_encode()
            keys = table.column("key").combine_chunks().dictionary_encode()
            self._key_ids = {k: i for i, k in enumerate(keys.dictionary.to_pylist())}
            positions = np.asarray(patients.indices)
            starts = np.concatenate(([0], np.flatnonzero(np.diff(positions)) + 1))
            ends = np.concatenate((starts[1:], [len(positions)]))
            names = patients.dictionary.to_pylist()
            self._offsets = {
                names[positions[s]]: (int(s), int(e))
                for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
            }
            self._key = np.asarray(keys.indices, dtype=np.int32)
        else:
            self._key = np.zeros(0, dtype=np.int32)
        self._code = _int64(table, "code")
        self._lo = _int64(table, "lo")
        self._hi = _int64(table, "hi")
        self._held: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
        for user, key, start, end in zip(
            *columns(windows.user_keys, "user_id", "key", "held_from", "held_until"), strict=True
        ):
            if key in self._key_ids:  # a key no patient window has explains nothing
                self._held[user].append((self._key_ids[key], start, end))
        self._explained: dict[tuple[str, str], list[int]] = {}

    @property
    def windows(self) -> int:
        return len(self._code)

    def direct(self, user: str, patient: str, at: int, purpose: str | None) -> str | None:
        """The preferred relationship explaining ``user`` opening ``patient`` at ``at``
        (microseconds) with ``purpose``, without ``repeat``; None when none does."""
        span = self._offsets.get(patient)
        if span is None:
            return None
        keys = {k for k, start, end in self._held.get(user, ()) if start <= at <= end}
        for own in (f"u:{user}", f"p:{purpose}"):
            if own in self._key_ids:
                keys.add(self._key_ids[own])
        if not keys:
            return None
        s, e = span
        # Windows are sorted by code within a patient: the first that holds is the preferred.
        for key, code, lo, hi in zip(
            self._key[s:e].tolist(), self._code[s:e].tolist(), self._lo[s:e].tolist(),
            self._hi[s:e].tolist(), strict=True,
        ):
            if key in keys and lo <= at <= hi:
                return self.reasons[(int(code) >> ENCOUNTER_BITS) - 1]
        return None

    def remember(self, accesses: pa.Table) -> None:
        """Record past accesses (``user_id, patient_id, time`` in microseconds, ``reason``)
        whose reason is a relationship (not ``repeat``): they make later ones a repeat."""
        explained: dict[tuple[str, str], list[int]] = defaultdict(list)
        for user, patient, at, reason in zip(
            *columns(accesses, "user_id", "patient_id", "time", "reason"), strict=True
        ):
            if reason is not None and reason != REPEAT:
                explained[(user, patient)].append(at)
        for times in explained.values():
            times.sort()
        self._explained = dict(explained)

    def repeat(self, user: str, patient: str, at: int) -> bool:
        """Whether an explained access of ``user`` to ``patient`` lies in the repeat window
        before ``at``."""
        times = self._explained.get((user, patient))
        if not times:
            return False
        before = bisect_right(times, at)
        return before > 0 and times[before - 1] >= at - self.repeat_us

    def explain(self, user: str, patient: str, at: int, purpose: str | None) -> str | None:
        """The audit's reason for this access (``repeat`` included), None when none."""
        found = self.direct(user, patient, at, purpose)
        if found is None and self.repeat(user, patient, at):
            return REPEAT
        return found


def _int64(table: pa.Table, column: str) -> np.ndarray:
    if not table.num_rows:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(table.column(column).combine_chunks().to_numpy(), dtype=np.int64)
