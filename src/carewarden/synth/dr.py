"""The synthetic hospital's backup inventory (``dr_inventory.yaml``), for DR readiness.

Seven systems a community hospital recovers first, as its backup administrator would list
them, dated the morning after the simulated period. All are ready but two, on purpose: the
directory's restore test (a forest recovery) is overdue, and the PACS image archive is only
replicated to a second site, with no immutable or offline copy. Its own random stream keeps
the other synthetic outputs unchanged.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from carewarden.synth.config import SynthConfig, sub_rng

FILE_NAME = "dr_inventory.yaml"

# system, kind, tier, owner, [(set, component, rpo h, rto h, interval days, immutable, offline,
# copies, media (0: not declared), offsite, encrypted, restore duration as a share of the RTO,
# test age range in days)]
_Set = tuple[str, str, float, float, int, bool, bool, int, int, bool, bool, float, tuple[int, int]]
SYSTEMS: tuple[tuple[str, str, int, str, tuple[_Set, ...]], ...] = (
    ("Epic EHR", "ehr", 1, "Epic technical team", (
        ("Chronicles storage snapshots (4-hourly)", "database", 4, 8, 90,
         True, False, 2, 2, True, True, 0.6, (15, 60)),
        ("Chronicles nightly backup to tape vault", "database", 24, 24, 90,
         False, True, 2, 2, True, True, 0.7, (20, 80)),
    )),
    ("PACS", "pacs", 1, "Imaging IT", (
        ("PACS database nightly backup", "database", 24, 8, 90,
         True, False, 2, 2, True, True, 0.5, (10, 70)),
        ("Image archive replication to second site", "images", 24, 72, 180,
         False, False, 1, 1, True, True, 0.8, (30, 150)),
    )),
    ("Active Directory", "directory", 1, "Infrastructure (identity)", (
        ("Domain controller system state", "", 24, 8, 180,
         True, True, 2, 2, True, True, 0.75, (200, 240)),
    )),
    ("Laboratory information system", "lab", 1, "Lab IT", (
        ("LIS database and interfaces", "", 12, 8, 90,
         True, False, 2, 2, True, True, 0.5, (10, 80)),
    )),
    ("Pharmacy information system", "pharmacy", 1, "Pharmacy IT", (
        ("Pharmacy database and dispensing cabinet server", "", 12, 8, 90,
         True, False, 2, 2, True, True, 0.5, (10, 80)),
    )),
    ("ERP (finance and supply chain)", "erp", 2, "ERP team", (
        ("ERP database nightly backup", "", 24, 48, 180,
         True, False, 2, 2, True, True, 0.4, (30, 170)),
    )),
    ("Email", "email", 3, "Messaging team", (
        ("Mailbox backup (cloud, object lock)", "", 24, 72, 365,
         True, False, 2, 0, True, True, 0.3, (30, 300)),
    )),
)


def _z(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def inventory(config: SynthConfig) -> dict[str, Any]:
    """The inventory document: deterministic for the config's seed and period."""
    rng = sub_rng(config.seed, "dr")
    end = config.start + dt.timedelta(days=config.days)
    as_of = dt.datetime.combine(end, dt.time(6, 0), tzinfo=ZoneInfo(config.site_tz))
    rows: list[dict[str, Any]] = []
    for system, kind, tier, owner, sets in SYSTEMS:
        for (name, component, rpo, rto, interval, immutable, offline, copies, media, offsite,
             encrypted, share, (low, high)) in sets:
            backup = as_of - dt.timedelta(minutes=rng.randrange(20, int(rpo * 60 * 0.8)))
            tested = as_of - dt.timedelta(days=rng.randrange(low, high), hours=rng.randrange(24))
            duration = round(rto * share * rng.uniform(0.8, 1.1), 1)
            row: dict[str, Any] = {
                "system": system, "system_kind": kind, "set": name,
            }
            if component:
                row["component"] = component
            row.update({
                "tier": tier, "rpo_hours": rpo, "rto_hours": rto,
                "last_successful_backup": _z(backup),
                "last_restore_test": _z(tested),
                "last_restore_test_result": "success",
                "restore_duration_hours": min(duration, rto),
                "restore_test_interval_days": interval,
                "immutable_copy": immutable, "offline_copy": offline,
                "copies": copies,
            })
            if media:
                row["media"] = media
            row.update({"offsite": offsite, "encrypted": encrypted, "owner": owner})
            rows.append(row)
    return {
        "as_of": _z(as_of),
        "timezone": config.site_tz,
        "defaults": {"restore_test_interval_days": 90},
        "backup_sets": rows,
    }


HEADER = """\
# Backup inventory of the critical systems (synthetic), read by `carewarden dr import`.
# One entry per backup set (job); times in UTC; see the README, "Disaster-recovery readiness".
"""


def write_inventory(out_dir: Path, config: SynthConfig) -> Path:
    path = out_dir / FILE_NAME
    text = yaml.safe_dump(inventory(config), sort_keys=False, allow_unicode=True, width=100)
    path.write_text(HEADER + text, encoding="utf-8")
    return path
