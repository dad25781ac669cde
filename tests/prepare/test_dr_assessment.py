"""Disaster-recovery readiness rules, table-driven: one backup set, one assessment time."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from carewarden.prepare.dr import BLOCKING, SEVERITY, BackupSet, assess, assess_set

AT = dt.datetime(2026, 3, 9, 12, 0)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)

# A set that meets every rule at AT: the base every case changes one thing of.
READY = BackupSet(
    system="Epic EHR",
    system_kind="ehr",
    name="Chronicles nightly",
    tier=1,
    rpo_hours=24,
    rto_hours=8,
    last_successful_backup=AT - 6 * H,
    last_restore_test=AT - 30 * D,
    last_restore_test_result="success",
    restore_duration_hours=6,
    restore_test_interval_days=90,
    immutable_copy=True,
    offline_copy=False,
    copies=2,
    offsite=True,
    media=2,
    encrypted=True,
)

CASES: list[tuple[str, dict[str, Any], dict[str, Any], set[str]]] = [
    # (case, changes to READY, expected attributes, expected finding checks)
    ("ready", {}, {"ready": True, "rpo_met": True, "rto_met": True}, set()),
    (
        "RPO exactly at the limit is met",
        {"last_successful_backup": AT - 24 * H},
        {"rpo_met": True, "backup_age_hours": 24.0, "ready": True},
        set(),
    ),
    (
        "RPO a minute over the limit is missed",
        {"last_successful_backup": AT - 24 * H - dt.timedelta(minutes=1)},
        {"rpo_met": False, "ready": False},
        {"rpo_missed"},
    ),
    (
        "never backed up",
        {"last_successful_backup": None},
        {"rpo_met": False, "backup_age_hours": None, "ready": False},
        {"rpo_missed"},
    ),
    (
        "never restore-tested: RTO unknown, test overdue",
        {
            "last_restore_test": None,
            "last_restore_test_result": None,
            "restore_duration_hours": None,
        },
        {"rto_met": None, "restore_test_overdue": True, "ready": False},
        {"restore_test_overdue"},
    ),
    (
        "failed last test: overdue, RTO unknown even with a duration",
        {"last_restore_test_result": "failed", "restore_duration_hours": 2},
        {"rto_met": None, "restore_test_overdue": True, "ready": False},
        {"restore_test_overdue"},
    ),
    (
        "partial last test: errors, so overdue",
        {"last_restore_test_result": "partial"},
        {"rto_met": None, "restore_test_overdue": True, "ready": False},
        {"restore_test_overdue"},
    ),
    (
        "test exactly one interval old is on time",
        {"last_restore_test": AT - 90 * D},
        {"restore_test_overdue": False, "ready": True},
        set(),
    ),
    (
        "test overdue by one day",
        {"last_restore_test": AT - 91 * D},
        {"restore_test_overdue": True, "rto_met": True, "ready": False},
        {"restore_test_overdue"},
    ),
    (
        "RTO exactly at the limit is met",
        {"restore_duration_hours": 8},
        {"rto_met": True, "ready": True},
        set(),
    ),
    (
        "restore slower than the RTO",
        {"restore_duration_hours": 8.5},
        {"rto_met": False, "ready": False},
        {"rto_exceeded"},
    ),
    (
        "successful test without a duration: RTO unknown",
        {"restore_duration_hours": None},
        {"rto_met": None, "restore_test_overdue": False, "ready": False},
        {"rto_unknown"},
    ),
    (
        "no immutable copy but an offline one",
        {"immutable_copy": False, "offline_copy": True},
        {"immutable_or_offline": True, "ready": True},
        set(),
    ),
    (
        "neither immutable nor offline",
        {"immutable_copy": False, "offline_copy": False},
        {"immutable_or_offline": False, "ready": False},
        {"no_immutable_copy"},
    ),
    (
        "one backup copy: advice, still ready",
        {"copies": 1},
        {"ready": True},
        {"too_few_copies"},
    ),
    ("no offsite copy: advice", {"offsite": False}, {"ready": True}, {"no_offsite_copy"}),
    ("one medium: advice", {"media": 1}, {"ready": True}, {"single_medium"}),
    ("media not declared: not checked", {"media": None}, {"ready": True}, set()),
    ("not encrypted: advice", {"encrypted": False}, {"ready": True}, {"not_encrypted"}),
    ("encryption not declared: not checked", {"encrypted": None}, {"ready": True}, set()),
]


@pytest.mark.parametrize(
    ("changes", "expected", "checks"),
    [pytest.param(c, e, k, id=name) for name, c, e, k in CASES],
)
def test_backup_set_rules(
    changes: dict[str, Any], expected: dict[str, Any], checks: set[str]
) -> None:
    """Each rule decides its own flag and finding, and nothing else changes."""
    assessed = assess_set(replace(READY, **changes), AT)
    for name, value in expected.items():
        assert getattr(assessed, name) == value, name
    assert {f.check for f in assessed.findings} == checks
    assert assessed.ready == (not checks & BLOCKING)
    for finding in assessed.findings:
        assert len(finding.reason) > 20
        assert finding.severity in (SEVERITY[finding.check][0], "critical")


@pytest.mark.parametrize(
    ("changes", "severity", "words"),
    [
        ({"last_successful_backup": None}, "critical", "no successful backup"),
        ({"last_successful_backup": AT - 30 * H}, "high", "30 h old, beyond the 24 h RPO"),
        ({"last_restore_test_result": "failed"}, "critical", "failed: fix the cause"),
        ({"last_restore_test": AT - 91 * D}, "high", "1 day(s) past the 90-day interval"),
        ({"last_restore_test": None, "last_restore_test_result": None}, "high", "never"),
        ({"restore_duration_hours": 8.5}, "high", "took 8.5 h, beyond the 8 h RTO"),
        ({"immutable_copy": False}, "high", "no immutable or offline copy"),
        ({"tier": 3, "immutable_copy": False}, "low", "no immutable or offline copy"),
        ({"tier": 2, "last_successful_backup": None}, "high", "no successful backup"),
    ],
)
def test_findings_say_what_to_do_with_a_tiered_severity(
    changes: dict[str, Any], severity: str, words: str
) -> None:
    """A reason names the evidence and the action; severity follows the tier, one level up
    for a set never backed up or a failed restore test."""
    changes.setdefault("restore_duration_hours", READY.restore_duration_hours)
    if changes.get("last_restore_test", READY.last_restore_test) is None:
        changes["restore_duration_hours"] = None
    (finding,) = [f for f in assess_set(replace(READY, **changes), AT).findings if f.blocking]
    assert finding.severity == severity
    assert words in finding.reason


def test_rule_32110_flags() -> None:
    """The 3-2-1-1-0 flags: copies, media, offsite, immutable or offline, zero errors."""
    assert assess_set(READY, AT).rule_32110 == {
        "copies": True,
        "media": True,
        "offsite": True,
        "immutable_or_offline": True,
        "zero_errors": True,
    }
    gaps = replace(
        READY,
        copies=1,
        media=None,
        offsite=False,
        immutable_copy=False,
        last_restore_test_result="partial",
    )
    assert assess_set(gaps, AT).rule_32110 == {
        "copies": False,
        "media": None,
        "offsite": False,
        "immutable_or_offline": False,
        "zero_errors": False,
    }
    untested = replace(
        READY, last_restore_test=None, last_restore_test_result=None, restore_duration_hours=None
    )
    assert assess_set(untested, AT).rule_32110["zero_errors"] is None


def _set(system: str, name: str, component: str = "", tier: int = 1, **changes: Any) -> BackupSet:
    return replace(READY, system=system, name=name, component=component, tier=tier, **changes)


def test_system_is_ready_when_one_alternative_set_is() -> None:
    """Sets of one component are alternatives: one ready set makes the system ready."""
    (system,) = assess(
        [
            _set("Epic EHR", "snapshots", last_successful_backup=None),
            _set("Epic EHR", "tape", immutable_copy=False, offline_copy=True),
        ],
        AT,
    )
    assert system.ready and system.reasons == [] and system.components == {"": True}
    assert [a.ready for a in system.sets] == [False, True]  # sorted by name


def test_every_component_must_be_ready() -> None:
    """Components are all needed: a PACS with a ready database and an unprotected image
    archive is not ready, and the reason names the set."""
    (system,) = assess(
        [
            _set("PACS", "database backup", "database"),
            _set("PACS", "image replica", "images", immutable_copy=False),
        ],
        AT,
    )
    assert not system.ready
    assert system.components == {"database": True, "images": False}
    assert len(system.reasons) == 1
    assert system.reasons[0].startswith("image replica: no immutable or offline copy")


def test_systems_sorted_by_tier_and_critical_is_tier_one() -> None:
    """Most critical first; a system's tier is its most critical set's."""
    systems = assess(
        [
            _set("Email", "mailboxes", tier=3),
            _set("ERP", "db", tier=2),
            _set("Active Directory", "system state", tier=1, last_restore_test=AT - 200 * D),
            _set("ERP", "files", component="files", tier=1),
        ],
        AT,
    )
    assert [(s.system, s.tier) for s in systems] == [
        ("Active Directory", 1),
        ("ERP", 1),
        ("Email", 3),
    ]
    assert [s.critical for s in systems] == [True, True, False]
    assert not systems[0].ready and "200 days old" in systems[0].reasons[0]


def test_an_old_inventory_is_named_as_a_possible_cause() -> None:
    """Assessed days after the inventory was taken, an RPO miss or a test past its interval
    may only mean the inventory is old: the reason says so; a fresh inventory's does not."""
    later = AT + 70 * D
    stale = assess_set(READY, later, taken_at=AT)
    assert {f.check for f in stale.findings} == {"rpo_missed", "restore_test_overdue"}
    for finding in stale.findings:
        assert finding.reason.endswith(
            "; the inventory is from 2026-03-09, so one since would not show: import a newer one"
        )
    fresh = assess_set(READY, later, taken_at=later - 2 * H)
    assert not any("inventory" in f.reason for f in fresh.findings)
