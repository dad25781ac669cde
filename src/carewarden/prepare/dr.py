"""Disaster-recovery readiness: can each critical system be recovered within its declared
RPO and RTO, from a copy that ransomware cannot reach, as a recent restore test showed?

Pure functions over :class:`BackupSet` records (the rows of one inventory snapshot) and an
assessment time ``at`` (naive UTC); ``services/dr.py`` reads the store and raises alerts.

Per backup set, at ``at``:

* **RPO met**: the last successful backup is at most ``rpo_hours`` old (the limit itself is
  met). No successful backup recorded: not met.
* **RTO met**: the last restore test succeeded and took at most ``rto_hours``. Unknown (None)
  when the set was never tested, the last test did not succeed (a failed test's duration says
  nothing about a recovery) or the test's duration is not recorded.
* **Restore test overdue**: never tested, the last test failed or was partial (it restored with
  errors: not a proof of recovery), or it is more than ``restore_test_interval_days`` old (the
  last day of the interval is still on time).
* **3-2-1-1-0**: at least 2 backup copies (3 copies with the production data), on 2 media
  (checked only where the inventory declares ``media``), 1 offsite, 1 immutable or offline,
  0 errors in the last restore test.
* **Ready**: RPO met, RTO met, restore test not overdue, and an immutable or offline copy. A
  successful test older than its interval no longer proves the RTO (data volumes and the
  environment change), so it counts against readiness. The other 3-2-1-1-0 gaps (copies,
  media, offsite) and a missing encryption are findings that do not decide readiness.

Per system: its sets are grouped by ``component`` (empty: the whole system). Sets of one
component are alternative ways to recover the same data (a nightly backup and a storage
snapshot): the component is ready when at least one of them is. Components are parts that
are all needed (a PACS database and its image archive): the system is ready when every
component is. Without components, a system is ready when at least one of its sets is.

Tiers: 1 mission-critical (patient care stops without it: EHR, PACS, directory, lab,
pharmacy), 2 business-critical, 3 business-support. A *critical system* is a tier-1 system.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

SYSTEM_KINDS = ("ehr", "pacs", "directory", "lab", "pharmacy", "erp", "email", "other")
TEST_RESULTS = ("success", "partial", "failed")
TIERS = (1, 2, 3)
CRITICAL_TIER = 1
DEFAULT_TEST_INTERVAL_DAYS = 90
# An inventory older than this at the assessment time may miss backups and tests since.
STALE_AFTER = dt.timedelta(hours=24)
SEVERITIES = ("info", "low", "medium", "high", "critical")

# Finding -> severity for tiers 1, 2, 3.
SEVERITY: dict[str, tuple[str, str, str]] = {
    "rpo_missed": ("high", "medium", "low"),
    "rto_exceeded": ("high", "medium", "low"),
    "rto_unknown": ("medium", "low", "low"),
    "restore_test_overdue": ("high", "medium", "low"),
    "no_immutable_copy": ("high", "medium", "low"),
    "too_few_copies": ("medium", "low", "low"),
    "no_offsite_copy": ("medium", "low", "low"),
    "single_medium": ("low", "low", "info"),
    "not_encrypted": ("medium", "low", "low"),
}
# Findings that make a set not ready (the others are advice).
BLOCKING = frozenset(
    {"rpo_missed", "rto_exceeded", "rto_unknown", "restore_test_overdue", "no_immutable_copy"}
)
# Findings that raise an alert in `carewarden detect`: finding -> alert rule id.
ALERT_RULES = {
    "restore_test_overdue": "dr.restore_test_overdue",
    "rpo_missed": "dr.rpo_missed",
    "rto_exceeded": "dr.rto_exceeded",
    "no_immutable_copy": "dr.no_immutable_copy",
}


@dataclass(frozen=True)
class BackupSet:
    """One backup set (job) of a system, as an inventory snapshot records it."""

    system: str
    system_kind: str
    name: str
    tier: int
    rpo_hours: float
    rto_hours: float
    last_successful_backup: dt.datetime | None
    last_restore_test: dt.datetime | None
    last_restore_test_result: str | None
    restore_duration_hours: float | None
    restore_test_interval_days: int
    immutable_copy: bool
    offline_copy: bool
    copies: int
    offsite: bool
    media: int | None = None
    encrypted: bool | None = None
    component: str = ""
    owner: str | None = None
    notes: str | None = None

    @property
    def key(self) -> str:
        return set_key(self.system, self.name)


def set_key(system: str, name: str) -> str:
    return f"{system} / {name}"


@dataclass(frozen=True)
class Finding:
    check: str  # a key of SEVERITY
    severity: str
    reason: str  # what is wrong and what to do, for the set's owner

    @property
    def blocking(self) -> bool:
        return self.check in BLOCKING

    @property
    def rule_id(self) -> str | None:
        return ALERT_RULES.get(self.check)


@dataclass(frozen=True)
class SetAssessment:
    backup_set: BackupSet
    at: dt.datetime
    backup_age_hours: float | None  # None: no successful backup recorded
    rpo_met: bool
    rto_met: bool | None  # None: unknown (see the module)
    restore_test_overdue: bool
    restore_test_age_days: float | None
    immutable_or_offline: bool
    rule_32110: dict[str, bool | None]  # copies, media, offsite, immutable_or_offline, errors
    findings: list[Finding]

    @property
    def ready(self) -> bool:
        return not any(f.blocking for f in self.findings)


@dataclass(frozen=True)
class SystemAssessment:
    system: str
    system_kind: str
    tier: int  # the most critical tier of its sets
    sets: list[SetAssessment]
    components: dict[str, bool]  # component ('' : the whole system) -> ready
    reasons: list[str] = field(default_factory=list)  # why not ready (empty when ready)

    @property
    def ready(self) -> bool:
        return all(self.components.values())

    @property
    def critical(self) -> bool:
        return self.tier == CRITICAL_TIER


def _utc(when: dt.datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M} UTC"


def span(hours: float) -> str:
    """A duration in hours, as people say it: '30 h', '3.2 days'."""
    if abs(hours) >= 48:
        return f"{hours / 24:.1f} days"
    return f"{hours:.1f} h" if hours != int(hours) else f"{int(hours)} h"


def _severity(check: str, tier: int, *, raise_by: int = 0) -> str:
    base = SEVERITY[check][min(max(tier, 1), 3) - 1]
    return SEVERITIES[min(SEVERITIES.index(base) + raise_by, len(SEVERITIES) - 1)]


def assess_set(
    backup_set: BackupSet, at: dt.datetime, taken_at: dt.datetime | None = None
) -> SetAssessment:
    """The readiness of one backup set at ``at`` (naive UTC); see the module for the rules.
    ``taken_at``, the inventory's time, lets a reason say when a gap may only be the
    inventory's age (a backup or test since is not in it)."""
    s = backup_set
    findings: list[Finding] = []
    stale = (
        ""
        if taken_at is None or at - taken_at <= STALE_AFTER
        else f"; the inventory is from {taken_at:%Y-%m-%d}, so one since would not show: "
        "import a newer one"
    )

    def add(check: str, reason: str, raise_by: int = 0) -> None:
        findings.append(Finding(check, _severity(check, s.tier, raise_by=raise_by), reason))

    # RPO: how much data a loss now would take with it.
    age: float | None = None
    if s.last_successful_backup is None:
        rpo_met = False
        add(
            "rpo_missed",
            "no successful backup is recorded: data lost now could not be restored; "
            "check the backup job and run it",
            raise_by=1,
        )
    else:
        age = (at - s.last_successful_backup).total_seconds() / 3600
        rpo_met = age <= s.rpo_hours
        if not rpo_met:
            add(
                "rpo_missed",
                f"the last successful backup ({_utc(s.last_successful_backup)}) is "
                f"{span(age)} old, beyond the {span(s.rpo_hours)} RPO: find why the backups "
                "since failed or did not run, and run one" + stale,
            )

    # Restore test: only a recent, clean restore proves the backups can be used.
    test_age: float | None = None
    overdue = True
    if s.last_restore_test is None:
        add(
            "restore_test_overdue",
            f"never restore-tested: schedule a restore test (every "
            f"{s.restore_test_interval_days} days) and record its duration",
        )
    else:
        test_age = (at - s.last_restore_test).total_seconds() / 86400
        tested = f"{s.last_restore_test:%Y-%m-%d}"
        if s.last_restore_test_result == "failed":
            add(
                "restore_test_overdue",
                f"the last restore test ({tested}) failed: fix the cause and test again",
                raise_by=1,
            )
        elif s.last_restore_test_result != "success":
            add(
                "restore_test_overdue",
                f"the last restore test ({tested}) was partial (it restored with errors): "
                "resolve the errors and test again",
            )
        elif test_age > s.restore_test_interval_days:
            late = test_age - s.restore_test_interval_days
            add(
                "restore_test_overdue",
                f"the last restore test ({tested}) is {test_age:.0f} days old, {late:.0f} "
                f"day(s) past the {s.restore_test_interval_days}-day interval: schedule a "
                "restore test" + stale,
            )
        else:
            overdue = False

    # RTO: how long a recovery takes, as the last clean test measured it.
    rto_met: bool | None = None
    if s.last_restore_test is not None and s.last_restore_test_result == "success":
        if s.restore_duration_hours is None:
            add(
                "rto_unknown",
                f"the last restore test ({s.last_restore_test:%Y-%m-%d}) has no recorded "
                f"duration: the {span(s.rto_hours)} RTO cannot be shown to be met; record "
                "how long the restore took",
            )
        else:
            rto_met = s.restore_duration_hours <= s.rto_hours
            if not rto_met:
                add(
                    "rto_exceeded",
                    f"the last restore test ({s.last_restore_test:%Y-%m-%d}) took "
                    f"{span(s.restore_duration_hours)}, beyond the {span(s.rto_hours)} RTO: "
                    "speed up recovery (instant recovery, more restore throughput) or agree "
                    "a longer RTO with the system's owners",
                )

    # 3-2-1-1-0.
    protected = s.immutable_copy or s.offline_copy
    if not protected:
        add(
            "no_immutable_copy",
            "no immutable or offline copy: ransomware that reaches the backup system can "
            "encrypt or delete every copy; add an immutable (object lock, hardened "
            "repository) or offline (tape, air-gapped) copy",
        )
    if s.copies < 2:
        add(
            "too_few_copies",
            f"{s.copies} backup cop{'y' if s.copies == 1 else 'ies'}: 3-2-1 asks for 3 copies "
            "of the data, the production data and 2 backups",
        )
    if s.media is not None and s.media < 2:
        add("single_medium", "all copies on one kind of storage: keep them on 2 different media")
    if not s.offsite:
        add(
            "no_offsite_copy",
            "no offsite copy: a site disaster (fire, flood, power) would take the backups "
            "with the system",
        )
    if s.encrypted is False:
        add(
            "not_encrypted",
            "the backups are not encrypted: a lost or stolen copy exposes ePHI; encrypt them "
            "(HIPAA 164.312(a)(2)(iv))",
        )
    zero_errors = None if s.last_restore_test is None else s.last_restore_test_result == "success"
    rule = {
        "copies": s.copies >= 2,
        "media": None if s.media is None else s.media >= 2,
        "offsite": s.offsite,
        "immutable_or_offline": protected,
        "zero_errors": zero_errors,
    }
    return SetAssessment(
        backup_set=s,
        at=at,
        backup_age_hours=age,
        rpo_met=rpo_met,
        rto_met=rto_met,
        restore_test_overdue=overdue,
        restore_test_age_days=test_age,
        immutable_or_offline=protected,
        rule_32110=rule,
        findings=findings,
    )


def assess(
    sets: list[BackupSet], at: dt.datetime, taken_at: dt.datetime | None = None
) -> list[SystemAssessment]:
    """Every system's readiness at ``at``, most critical tier first, then by name."""
    by_system: dict[str, list[SetAssessment]] = {}
    for s in sets:
        by_system.setdefault(s.system, []).append(assess_set(s, at, taken_at))
    systems = []
    for system, assessed in by_system.items():
        assessed.sort(key=lambda a: (a.backup_set.component, a.backup_set.name))
        components: dict[str, bool] = {}
        for a in assessed:
            component = a.backup_set.component
            components[component] = components.get(component, False) or a.ready
        reasons = []
        several = len(assessed) > 1
        for a in assessed:
            if a.ready or components[a.backup_set.component]:
                continue  # another set of its component is ready
            for f in a.findings:
                if f.blocking:
                    reasons.append(f"{a.backup_set.name}: {f.reason}" if several else f.reason)
        first = assessed[0].backup_set
        systems.append(
            SystemAssessment(
                system=system,
                system_kind=first.system_kind,
                tier=min(a.backup_set.tier for a in assessed),
                sets=assessed,
                components=components,
                reasons=reasons,
            )
        )
    systems.sort(key=lambda s: (s.tier, s.system.lower()))
    return systems
