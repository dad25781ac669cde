"""Ingestion health: each source kind's files, records and last arrival, the newest event,
and quarantined records (where and why, never their raw content: it may hold PHI)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from carewarden.store import Store


@dataclass
class SourceHealth:
    kind: str
    files: int
    records: int
    duplicates: int
    quarantined: int
    last_ingested: dt.datetime


@dataclass
class IngestionHealth:
    sources: list[SourceHealth]
    last_event: dt.datetime | None
    quarantine_total: int
    quarantine_by_error: list[tuple[str, int]]
    quarantine_recent: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.sources


def ingestion_health(store: Store, *, recent: int = 50) -> IngestionHealth:
    sources = [
        SourceHealth(str(k), int(f), int(r), int(d), int(q), t)
        for k, f, r, d, q, t in store.query(
            "SELECT kind, count(*), sum(records), sum(duplicates), sum(quarantined), "
            "max(ingested_at) FROM source_file GROUP BY kind ORDER BY kind"
        )
    ]
    by_error = [
        (str(e), int(n))
        for e, n in store.query(
            "SELECT regexp_replace(error, '[0-9]+', 'N', 'g') AS e, count(*) FROM quarantine "
            "GROUP BY e ORDER BY count(*) DESC, e LIMIT 20"
        )
    ]
    recent_rows = store.arrow(
        "SELECT quarantined_at, kind, path, line, error FROM quarantine "
        "ORDER BY quarantined_at DESC, path, line LIMIT ?",
        [recent],
    ).to_pylist()
    return IngestionHealth(
        sources=sources,
        last_event=store.query("SELECT max(time) FROM ehr_access")[0][0],
        quarantine_total=int(store.query("SELECT count(*) FROM quarantine")[0][0]),
        quarantine_by_error=by_error,
        quarantine_recent=recent_rows,
    )
