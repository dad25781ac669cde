"""The report's disaster-recovery readiness, in its Preparedness section."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from carewarden.report.html import render_report
from carewarden.services.dr import import_inventory
from carewarden.services.overview import overview
from carewarden.store import Store

AS_OF = dt.datetime(2026, 3, 9, 12, 0)


def _row(system: str, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "system": system,
        "system_kind": "ehr",
        "set": "nightly",
        "tier": 1,
        "rpo_hours": 24,
        "rto_hours": 8,
        "last_successful_backup": "2026-03-09T06:00:00Z",
        "last_restore_test": "2026-02-20T06:00:00Z",
        "last_restore_test_result": "success",
        "restore_duration_hours": 5,
        "immutable_copy": True,
        "offline_copy": False,
        "copies": 2,
        "offsite": True,
    }
    row.update(changes)
    return row


def test_report_shows_each_system_ready_or_not_with_reasons(store: Store, tmp_path: Path) -> None:
    """Each system is listed ready or not ready; a not-ready one with its reasons, escaped;
    advice that does not decide readiness is listed apart."""
    path = tmp_path / "inv.yaml"
    document = {
        "as_of": "2026-03-09T12:00:00Z",
        "backup_sets": [
            _row("Epic EHR", copies=1),
            _row("PACS <images>", system_kind="pacs", immutable_copy=False),
            _row("Active Directory", system_kind="directory", last_restore_test_result="failed"),
        ],
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    import_inventory(store, path)
    html = render_report(overview(store, dr_at=AS_OF))
    section = html[html.index("<h2>Preparedness</h2>") : html.index("Highest-scoring alerts")]
    start = section.index("Disaster-recovery readiness")
    dr = section[start:]
    assert '1 / 3</div><div class="l">systems ready to recover' in dr
    assert "PACS &lt;images&gt;" in dr and "<images>" not in dr
    assert dr.count(">not ready</span>") == 2 and dr.count(">ready</span>") == 1
    assert "no immutable or offline copy: ransomware" in dr
    assert "the last restore test (2026-02-20) failed: fix the cause and test again" in dr
    assert "Also to act on" in dr and "1 backup copy: 3-2-1 asks for 3 copies" in dr
    assert "inventory of 2026-03-09 12:00 UTC (inv.yaml)" in dr
    stale = render_report(overview(store, dr_at=AS_OF + dt.timedelta(days=10)))
    assert "days before the assessment" in stale


def test_report_without_inventory_says_how_to_import(store: Store) -> None:
    html = render_report(overview(store))
    assert "Disaster-recovery readiness" in html
    assert "No backup inventory imported (<code>carewarden dr import FILE</code>)." in html
