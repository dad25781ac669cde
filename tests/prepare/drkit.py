"""Backup inventories written for the DR tests: one ready set per row, changed as asked."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

AS_OF = dt.datetime(2026, 3, 9, 12, 0)  # UTC


def z(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def row(
    system: str, name: str = "nightly", at: dt.datetime = AS_OF, **changes: Any
) -> dict[str, Any]:
    """A tier-1 set that is ready at ``at``, with ``changes`` (None removes a field)."""
    base: dict[str, Any] = {
        "system": system,
        "system_kind": "ehr",
        "set": name,
        "tier": 1,
        "rpo_hours": 24,
        "rto_hours": 8,
        "last_successful_backup": z(at - dt.timedelta(hours=6)),
        "last_restore_test": z(at - dt.timedelta(days=30)),
        "last_restore_test_result": "success",
        "restore_duration_hours": 6,
        "immutable_copy": True,
        "offline_copy": False,
        "copies": 2,
        "offsite": True,
        "owner": f"{system} team",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def write_inventory(
    path: Path, rows: list[dict[str, Any]], as_of: dt.datetime | None = AS_OF
) -> Path:
    document: dict[str, Any] = {"backup_sets": rows}
    if as_of is not None:
        document = {"as_of": z(as_of), **document}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def problems(at: dt.datetime = AS_OF) -> list[dict[str, Any]]:
    """Four tier-1 systems, each with one alertable problem, and one ready system."""
    return [
        row(
            "Active Directory",
            "system state",
            at,
            system_kind="directory",
            last_restore_test=z(at - dt.timedelta(days=120)),
        ),
        row("Epic EHR", "snapshots", at, last_successful_backup=z(at - dt.timedelta(hours=30))),
        row("Lab", "db", at, system_kind="lab", restore_duration_hours=9),
        row("PACS", "images", at, system_kind="pacs", immutable_copy=False),
        row("Pharmacy", "db", at, system_kind="pharmacy"),
    ]
