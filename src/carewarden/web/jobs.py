"""Work other commands hand to the server while it holds the store: ``carewarden detect``
run inside the server process (a background thread on its own cursor, so requests keep
being served from their snapshots meanwhile)."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from carewarden.services.detect import detect
from carewarden.store.store import utcnow
from carewarden.web.hub import StoreHub


@dataclass
class Job:
    job_id: str
    kind: str
    state: Literal["running", "done", "failed"]
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class Jobs:
    def __init__(self, hub: StoreHub) -> None:
        self.hub = hub
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()  # one detection at a time

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def start_detect(self, *, site_tz: str | None = None, policy: Path | None = None) -> Job:
        job = Job(secrets.token_hex(8), "detect", "running", utcnow())
        self._jobs[job.job_id] = job
        self.hub.background(lambda: self._detect(job, site_tz, policy), f"detect-{job.job_id}")
        return job

    def _detect(self, job: Job, site_tz: str | None, policy: Path | None) -> None:
        try:
            with self._lock, self.hub.reader() as store:
                result = detect(store, policy=policy, site_tz=site_tz)
            job.summary = {
                "new_alerts": result.alerts.new_alerts,
                "total_alerts": result.alerts.total_alerts,
                "by_detector": dict(result.alerts.by_detector),
                "failures": {k: str(v) for k, v in result.alerts.failures.items()},
                "accesses": result.explained.accesses,
                "explained_share": result.explained.explained_share,
            }
            job.state = "done"
        except Exception as exc:  # reported to the command that asked, not raised here
            job.error = f"{type(exc).__name__}: {exc}"
            job.state = "failed"
        finally:
            job.finished_at = utcnow()
            self.hub.bump()
