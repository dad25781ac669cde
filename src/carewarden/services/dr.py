"""Disaster-recovery readiness over the store: import inventory snapshots, assess the current
one, show compliance over time, and raise alerts for what needs acting on.

Each import is a dated snapshot (``dr_snapshot``, its sets in ``dr_backup_set``): the state
at a time is the latest snapshot taken at or before it, so history stays and can be shown.
Importing the same file again for the same time adds nothing. A file whose every row is
refused is not imported at all: an empty snapshot would read as "no systems to recover".

The alerts (``carewarden detect``) have ids that hash the rule, the backup set and the event
that started the problem (the last backup for ``dr.rpo_missed``, the last restore test for
``dr.restore_test_overdue`` and ``dr.rto_exceeded``, the first snapshot of the current run
without an immutable or offline copy for ``dr.no_immutable_copy``): running detection again
updates an alert instead of repeating it, and a problem that comes back after it was fixed
is a new alert.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from carewarden.detect.engine import Alert, DetectContext
from carewarden.errors import RequestError, SourceError
from carewarden.model import Rejected
from carewarden.prepare.dr import (
    STALE_AFTER,
    BackupSet,
    SetAssessment,
    SystemAssessment,
    assess,
)
from carewarden.prepare.dr_inventory import InventoryCsvMapping, read_inventory
from carewarden.store import SourceFile, Store
from carewarden.store.store import utcnow
from carewarden.tables import SCHEMAS

KIND = "dr-inventory"
DETECTOR_ID = "dr.readiness"
SCORES = {"critical": 90, "high": 75, "medium": 50, "low": 30, "info": 10}
ALERT_TITLES = {
    "dr.restore_test_overdue": "Restore test overdue",
    "dr.rpo_missed": "Backup older than its RPO",
    "dr.rto_exceeded": "Restore slower than its RTO",
    "dr.no_immutable_copy": "No immutable or offline backup copy",
}
MAPPINGS: dict[str, list[str]] = {
    "dr.rpo_missed": ["HIPAA 164.308(a)(7)(ii)(A)", "NIST CSF PR.DS-11"],
    "dr.rto_exceeded": ["HIPAA 164.308(a)(7)(ii)(B)", "NIST CSF RC.RP-02"],
    "dr.restore_test_overdue": [
        "HIPAA 164.308(a)(7)(ii)(D)",
        "NIST CSF PR.DS-11",
        "NIST CSF RC.RP-03",
    ],
    "dr.no_immutable_copy": ["HIPAA 164.308(a)(7)(ii)(A)", "NIST CSF PR.DS-11"],
}


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    taken_at: dt.datetime
    format: str
    path: str
    sets: int
    quarantined: int
    imported_at: dt.datetime


@dataclass
class ImportResult:
    path: Path
    status: str  # imported | already imported
    snapshot: Snapshot
    rejected: list[Rejected] = field(default_factory=list)
    # Sets of the previous snapshot that this one lacks (a partial export, a renamed job).
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DrStatus:
    """The readiness of every system at ``at``, from the snapshot current then."""

    at: dt.datetime
    snapshot: Snapshot
    systems: list[SystemAssessment]

    @property
    def sets(self) -> list[SetAssessment]:
        return [a for s in self.systems for a in s.sets]

    @property
    def ready(self) -> list[SystemAssessment]:
        return [s for s in self.systems if s.ready]

    @property
    def critical_not_ready(self) -> list[SystemAssessment]:
        return [s for s in self.systems if s.critical and not s.ready]

    @property
    def stale(self) -> str | None:
        """A warning when the inventory is old at the assessment time, else None."""
        age = self.at - self.snapshot.taken_at
        if age <= STALE_AFTER:
            return None
        return (
            f"the inventory is from {self.snapshot.taken_at:%Y-%m-%d %H:%M} UTC, "
            f"{age.total_seconds() / 86400:.1f} days before the assessment: backups and "
            "restore tests since are not counted; import a newer one"
        )


@dataclass(frozen=True)
class HistoryPoint:
    """One snapshot assessed at its own time: compliance over time."""

    snapshot: Snapshot
    systems: int
    ready: int
    critical: int
    critical_ready: int
    not_ready: list[str]


def _naive_utc(when: dt.datetime | None) -> dt.datetime:
    if when is None:
        return utcnow()
    if when.tzinfo is not None:
        return when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


_SNAPSHOT_COLUMNS = "snapshot_id, taken_at, format, path, sets, quarantined, imported_at"


def _snapshots(
    store: Store, where: str = "true", params: list[object] | None = None
) -> list[Snapshot]:
    rows = store.query(
        f"SELECT {_SNAPSHOT_COLUMNS} FROM dr_snapshot WHERE {where} "
        "ORDER BY taken_at, imported_at, snapshot_id",
        params,
    )
    return [Snapshot(*r) for r in rows]


def snapshot_at(store: Store, at: dt.datetime | None = None) -> Snapshot | None:
    """The snapshot current at ``at`` (default now): the latest taken at or before it."""
    found = _snapshots(store, "taken_at <= ?", [_naive_utc(at)])
    return found[-1] if found else None


def backup_sets(store: Store, snapshot_id: str) -> list[BackupSet]:
    rows = store.arrow(
        "SELECT * EXCLUDE (snapshot_id, set_key, line, file_id, set_name), set_name AS name "
        "FROM dr_backup_set WHERE snapshot_id = ? ORDER BY line NULLS LAST, set_key",
        [snapshot_id],
    ).to_pylist()
    return [BackupSet(**row) for row in rows]


def import_inventory(
    store: Store,
    path: Path,
    *,
    format: str | None = None,
    at: dt.datetime | None = None,
    mapping: InventoryCsvMapping | None = None,
    interval_days: int | None = None,
) -> ImportResult:
    """Import one inventory file as a snapshot taken at ``at`` (default: the file's
    ``as_of``, else now), atomically: the snapshot, its quarantined rows and its
    ``source_file`` record land together or not at all."""
    inventory = read_inventory(
        path,
        format=format,
        at=_naive_utc(at) if at is not None else None,
        site_zone=store.setting("site_tz") or "UTC",
        mapping=mapping,
        interval_days=interval_days,
    )
    existing = _snapshots(store, "snapshot_id = ?", [inventory.snapshot_id])
    if existing:
        return ImportResult(path, "already imported", existing[0])
    if not inventory.sets:
        first = "; ".join(
            f"line {r.line}: {r.error}" if r.line is not None else r.error
            for r in inventory.rejected[:3]
        )
        raise SourceError(
            f"no valid backup set, nothing imported ({len(inventory.rejected)} row(s) refused"
            + (f"; {first}" if first else "")
            + ")",
            path=str(path),
        )
    previous = snapshot_at(store, inventory.taken_at)
    now = utcnow()
    snapshot = Snapshot(
        inventory.snapshot_id,
        inventory.taken_at,
        inventory.format,
        str(path),
        len(inventory.sets),
        len(inventory.rejected),
        now,
    )
    file_id = f"{KIND}:{uuid.uuid4().hex}"
    content = inventory.content
    digest = hashlib.sha256(content).hexdigest()
    rows = [
        {
            "snapshot_id": snapshot.snapshot_id,
            "set_key": s.key,
            "system": s.system,
            "system_kind": s.system_kind,
            "set_name": s.name,
            "component": s.component,
            "tier": s.tier,
            "rpo_hours": s.rpo_hours,
            "rto_hours": s.rto_hours,
            "last_successful_backup": s.last_successful_backup,
            "last_restore_test": s.last_restore_test,
            "last_restore_test_result": s.last_restore_test_result,
            "restore_duration_hours": s.restore_duration_hours,
            "restore_test_interval_days": s.restore_test_interval_days,
            "immutable_copy": s.immutable_copy,
            "offline_copy": s.offline_copy,
            "copies": s.copies,
            "media": s.media,
            "offsite": s.offsite,
            "encrypted": s.encrypted,
            "owner": s.owner,
            "notes": s.notes,
            "line": line,
        }
        for line, s in inventory.sets
    ]
    with store.transaction():
        store.write(
            "dr_snapshot",
            pa.Table.from_pylist(
                [
                    {
                        "snapshot_id": snapshot.snapshot_id,
                        "taken_at": snapshot.taken_at,
                        "format": snapshot.format,
                        "path": snapshot.path,
                        "sets": snapshot.sets,
                        "quarantined": snapshot.quarantined,
                        "imported_at": now,
                    }
                ],
                schema=SCHEMAS["dr_snapshot"],
            ),
            file_id,
        )
        store.write("dr_backup_set", pa.Table.from_pylist(rows, SCHEMAS["dr_backup_set"]), file_id)
        store.quarantine(file_id, KIND, str(path), inventory.rejected)
        store.record_file(
            SourceFile(
                file_id=file_id,
                kind=KIND,
                path=str(path),
                content_hash=digest,
                head_hash=hashlib.sha256(content[: 1 << 20]).hexdigest(),
                bytes=len(content),
                records=len(rows),
                duplicates=0,
                quarantined=len(inventory.rejected),
                ingested_at=now,
            )
        )
    missing: list[str] = []
    if previous is not None:
        kept = {s.key for _, s in inventory.sets}
        missing = sorted(
            s.key for s in backup_sets(store, previous.snapshot_id) if s.key not in kept
        )
    return ImportResult(path, "imported", snapshot, inventory.rejected, missing)


def dr_status(store: Store, at: dt.datetime | None = None) -> DrStatus | None:
    """Every system's readiness at ``at`` (default now); None when no snapshot is that old."""
    when = _naive_utc(at)
    snapshot = snapshot_at(store, when)
    if snapshot is None:
        return None
    sets = backup_sets(store, snapshot.snapshot_id)
    return DrStatus(when, snapshot, assess(sets, when, snapshot.taken_at))


def require_status(store: Store, at: dt.datetime | None = None) -> DrStatus:
    status = dr_status(store, at)
    if status is None:
        if _snapshots(store):
            raise RequestError(
                f"no DR inventory snapshot at or before {_naive_utc(at):%Y-%m-%d %H:%M} UTC"
            )
        raise RequestError("no DR inventory imported yet (carewarden dr import FILE)")
    return status


def dr_history(store: Store) -> list[HistoryPoint]:
    """Each snapshot assessed at its own time, oldest first."""
    points = []
    for snapshot in _snapshots(store):
        systems = assess(backup_sets(store, snapshot.snapshot_id), snapshot.taken_at)
        critical = [s for s in systems if s.critical]
        points.append(
            HistoryPoint(
                snapshot=snapshot,
                systems=len(systems),
                ready=sum(s.ready for s in systems),
                critical=len(critical),
                critical_ready=sum(s.ready for s in critical),
                not_ready=[s.system for s in systems if not s.ready],
            )
        )
    return points


def _unprotected_since(store: Store, at: dt.datetime) -> dict[str, dt.datetime]:
    """set key -> the time of the first snapshot of its current run of snapshots without an
    immutable or offline copy (up to ``at``)."""
    since: dict[str, dt.datetime] = {}
    rows = store.query(
        "SELECT b.set_key, s.taken_at, b.immutable_copy OR b.offline_copy "
        "FROM dr_backup_set b JOIN dr_snapshot s USING (snapshot_id) WHERE s.taken_at <= ? "
        "ORDER BY b.set_key, s.taken_at, s.imported_at",
        [at],
    )
    for key, taken_at, protected in rows:
        if protected:
            since.pop(key, None)
        else:
            since.setdefault(key, taken_at)
    return since


def _alert_id(rule_id: str, key: str, anchor: str) -> str:
    return hashlib.sha256(f"{rule_id}|{key}|{anchor}".encode()).hexdigest()[:24]


def readiness_alerts(store: Store, at: dt.datetime | None = None) -> list[Alert]:
    """Alerts for the findings of the snapshot current at ``at`` (see the module)."""
    status = dr_status(store, at)
    if status is None:
        return []
    since = _unprotected_since(store, status.at)
    alerts = []
    for assessed in status.sets:
        s = assessed.backup_set
        for finding in assessed.findings:
            rule = finding.rule_id
            if rule is None:
                continue
            test = (
                f"{s.last_restore_test.isoformat()}|{s.last_restore_test_result}"
                if s.last_restore_test
                else "never"
            )
            first = status.snapshot.taken_at
            if finding.check == "rpo_missed":
                backup = s.last_successful_backup
                anchor = backup.isoformat() if backup else "never"
                if backup is not None:
                    first = backup + dt.timedelta(hours=s.rpo_hours)
            elif finding.check == "restore_test_overdue":
                anchor = test
                if s.last_restore_test is not None:
                    first = s.last_restore_test
                    if s.last_restore_test_result == "success":
                        first += dt.timedelta(days=s.restore_test_interval_days)
            elif finding.check == "rto_exceeded":
                anchor = test
                first = s.last_restore_test or first
            else:  # no_immutable_copy
                first = since.get(s.key, first)
                anchor = first.isoformat()
            owner = f" Owner: {s.owner}." if s.owner else ""
            alerts.append(
                Alert(
                    alert_id=_alert_id(rule, s.key, anchor),
                    rule_id=rule,
                    title=ALERT_TITLES[rule],
                    severity=finding.severity,
                    score=SCORES[finding.severity],
                    user_id=None,
                    patient_id=None,
                    first_seen=min(first, status.at),
                    last_seen=status.at,
                    event_ids=[f"dr:{status.snapshot.snapshot_id}:{s.key}"],
                    explanation=(
                        f"{s.system} (tier {s.tier}), backup set {s.name}: {finding.reason}."
                        + owner
                    ),
                    mapping=list(MAPPINGS[rule]),
                )
            )
    return alerts


@dataclass(frozen=True)
class ReadinessDetector:
    """The DR findings as a detector of ``carewarden detect`` (assessed at ``at``)."""

    at: dt.datetime | None = None

    @property
    def id(self) -> str:
        return DETECTOR_ID

    def run(self, store: Store, context: DetectContext) -> list[Alert]:
        return readiness_alerts(store, self.at)


def has_inventory(store: Store) -> bool:
    return bool(store.query("SELECT count(*) FROM dr_snapshot")[0][0])
