"""DR inventory snapshots in the store, readiness over time, and the alerts of `detect`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from drkit import AS_OF, problems, row, write_inventory, z

from carewarden.errors import RequestError, SourceError
from carewarden.services.detect import detect
from carewarden.services.dr import (
    dr_history,
    dr_status,
    import_inventory,
    readiness_alerts,
    require_status,
)
from carewarden.store import Store

DAY = dt.timedelta(days=1)


def _dr_alerts(store: Store) -> list[tuple[str, str, str, list[str]]]:
    return [
        (str(r[0]), str(r[1]), str(r[2]), list(r[3]))
        for r in store.query(
            "SELECT rule_id, severity, explanation, mapping FROM alert "
            "WHERE rule_id LIKE 'dr.%' ORDER BY rule_id"
        )
    ]


def test_import_is_a_dated_snapshot_and_idempotent(store: Store, tmp_path: Path) -> None:
    """An import lands the snapshot, its sets and its source file; the same file for the
    same time adds nothing."""
    path = write_inventory(tmp_path / "inv.yaml", problems())
    first = import_inventory(store, path)
    assert first.status == "imported" and first.snapshot.taken_at == AS_OF
    assert first.snapshot.sets == 5 and not first.rejected
    again = import_inventory(store, path)
    assert again.status == "already imported"
    assert again.snapshot.snapshot_id == first.snapshot.snapshot_id
    assert store.query("SELECT count(*) FROM dr_snapshot") == [(1,)]
    assert store.query("SELECT count(*) FROM dr_backup_set") == [(5,)]
    assert store.query("SELECT kind, records FROM source_file") == [("dr-inventory", 5)]


def test_bad_rows_are_quarantined_with_file_and_line(store: Store, tmp_path: Path) -> None:
    """Refused rows land in the quarantine table with the file and line; the rest import."""
    path = write_inventory(tmp_path / "inv.yaml", [row("Epic EHR"), row("PACS", tier=7)])
    result = import_inventory(store, path)
    assert result.snapshot.sets == 1 and result.snapshot.quarantined == 1
    ((qpath, line, error),) = store.query("SELECT path, line, error FROM quarantine")
    assert qpath == str(path) and line == 18 and error.startswith("tier:")


def test_a_file_with_no_valid_row_imports_nothing(store: Store, tmp_path: Path) -> None:
    """An inventory whose every row is refused would read as "nothing to recover": it is
    refused whole, with the first reasons, and the store is unchanged."""
    path = write_inventory(tmp_path / "inv.yaml", [row("Epic EHR", copies=-1)])
    with pytest.raises(SourceError, match=r"no valid backup set.*line 3: copies"):
        import_inventory(store, path)
    for table in ("dr_snapshot", "dr_backup_set", "quarantine", "source_file"):
        assert store.query(f"SELECT count(*) FROM {table}") == [(0,)], table


def test_status_uses_the_snapshot_current_at_the_time(store: Store, tmp_path: Path) -> None:
    """History is kept: the state at a time is the latest snapshot taken by then; a later
    snapshot lacking a set says so; each snapshot is assessed at its own time over time."""
    old = write_inventory(
        tmp_path / "old.yaml",
        [
            row("Epic EHR", immutable_copy=False, at=AS_OF - 7 * DAY),
            row("PACS", at=AS_OF - 7 * DAY),
        ],
        as_of=AS_OF - 7 * DAY,
    )
    new = write_inventory(tmp_path / "new.yaml", [row("Epic EHR")])
    import_inventory(store, old)
    result = import_inventory(store, new)
    assert result.missing == ["PACS / nightly"]
    assert dr_status(store, AS_OF - 8 * DAY) is None
    earlier = require_status(store, AS_OF - 7 * DAY + dt.timedelta(hours=2))
    assert earlier.snapshot.path == str(old)
    assert [(s.system, s.ready) for s in earlier.systems] == [("Epic EHR", False), ("PACS", True)]
    current = require_status(store, AS_OF)
    assert [(s.system, s.ready) for s in current.systems] == [("Epic EHR", True)]
    assert current.stale is None
    assert "import a newer one" in str(require_status(store, AS_OF + 3 * DAY).stale)
    history = dr_history(store)
    assert [(p.ready, p.systems, p.not_ready) for p in history] == [
        (1, 2, ["Epic EHR"]),
        (1, 1, []),
    ]
    with pytest.raises(RequestError, match="no DR inventory snapshot at or before"):
        require_status(store, AS_OF - 30 * DAY)


def test_status_without_inventory_says_how_to_import(store: Store) -> None:
    with pytest.raises(RequestError, match=r"carewarden dr import FILE"):
        require_status(store)


def test_detect_raises_each_dr_alert_once(store: Store, tmp_path: Path) -> None:
    """`detect` raises one alert per alertable finding, with its HIPAA and NIST CSF mapping
    and an explanation naming the system, the set and the owner; a rerun adds nothing."""
    import_inventory(store, write_inventory(tmp_path / "inv.yaml", problems()))
    run = detect(store, dr_at=AS_OF)
    assert run.alerts.by_detector["dr.readiness"] == 4 and "dr" in run.seconds
    alerts = _dr_alerts(store)
    assert [(rule, severity) for rule, severity, _, _ in alerts] == [
        ("dr.no_immutable_copy", "high"),
        ("dr.restore_test_overdue", "high"),
        ("dr.rpo_missed", "high"),
        ("dr.rto_exceeded", "high"),
    ]
    mapping = {rule: m for rule, _, _, m in alerts}
    assert mapping["dr.restore_test_overdue"] == [
        "HIPAA 164.308(a)(7)(ii)(D)",
        "NIST CSF PR.DS-11",
        "NIST CSF RC.RP-03",
    ]
    assert mapping["dr.rpo_missed"] == ["HIPAA 164.308(a)(7)(ii)(A)", "NIST CSF PR.DS-11"]
    assert mapping["dr.rto_exceeded"] == ["HIPAA 164.308(a)(7)(ii)(B)", "NIST CSF RC.RP-02"]
    assert mapping["dr.no_immutable_copy"] == ["HIPAA 164.308(a)(7)(ii)(A)", "NIST CSF PR.DS-11"]
    explanation = {rule: e for rule, _, e, _ in alerts}["dr.restore_test_overdue"]
    assert explanation.startswith("Active Directory (tier 1), backup set system state:")
    assert "30 day(s) past the 90-day interval" in explanation
    assert explanation.endswith("Owner: Active Directory team.")
    again = detect(store, dr_at=AS_OF + dt.timedelta(hours=2))
    assert again.alerts.by_detector["dr.readiness"] == 0
    assert len(_dr_alerts(store)) == 4


def test_a_persisting_problem_keeps_its_alert_a_new_one_gets_one(
    store: Store, tmp_path: Path
) -> None:
    """A newer snapshot with the same problem updates the alert; a problem fixed and back
    again, or a new failed restore test, is a new alert."""
    pacs = {"system_kind": "pacs", "immutable_copy": False}
    snapshots = [
        (AS_OF, [row("PACS", **pacs), row("Lab", system_kind="lab")]),
        (AS_OF + DAY, [row("PACS", at=AS_OF + DAY, **pacs), row("Lab", at=AS_OF + DAY)]),
        (AS_OF + 2 * DAY, [row("PACS", at=AS_OF + 2 * DAY), row("Lab", at=AS_OF + 2 * DAY)]),
        (
            AS_OF + 3 * DAY,
            [
                row("PACS", at=AS_OF + 3 * DAY, **pacs),
                row(
                    "Lab",
                    at=AS_OF + 3 * DAY,
                    last_restore_test=z(AS_OF + 3 * DAY - dt.timedelta(hours=5)),
                    last_restore_test_result="failed",
                ),
            ],
        ),
    ]
    ids: list[set[str]] = []
    for i, (at, rows) in enumerate(snapshots):
        import_inventory(store, write_inventory(tmp_path / f"inv{i}.yaml", rows, as_of=at))
        detect(store, dr_at=at)
        ids.append({str(r[0]) for r in store.query("SELECT alert_id FROM alert")})
    assert len(ids[0]) == 1  # PACS without an immutable copy
    assert ids[1] == ids[0]  # still without: the same alert
    assert ids[2] == ids[1]  # fixed: nothing new (the old alert stays for triage)
    assert len(ids[3] - ids[2]) == 2  # unprotected again, and Lab's failed restore test
    rules = {str(r[0]) for r in store.query("SELECT rule_id FROM alert")}
    assert rules == {"dr.no_immutable_copy", "dr.restore_test_overdue"}


def test_alert_times_point_at_when_the_problem_began(store: Store, tmp_path: Path) -> None:
    """first_seen: when the RPO was breached, when the test fell due; last_seen: the
    assessment."""
    import_inventory(store, write_inventory(tmp_path / "inv.yaml", problems()))
    alerts = {a.rule_id: a for a in readiness_alerts(store, AS_OF)}
    assert alerts["dr.rpo_missed"].first_seen == AS_OF - dt.timedelta(hours=6)
    assert alerts["dr.restore_test_overdue"].first_seen == AS_OF - 30 * DAY
    assert {a.last_seen for a in alerts.values()} == {AS_OF}
    assert all(a.user_id is None and a.patient_id is None for a in alerts.values())


def test_detect_works_on_a_store_without_inventory(store: Store) -> None:
    """No inventory: the DR phase is skipped and detection runs as before."""
    run = detect(store)
    assert "dr.readiness" not in run.alerts.by_detector and "dr" not in run.seconds
    assert not run.alerts.failures
