"""The patch plan: devices linked to SBOMs, grouping by model, SLA dates, fixes, compensating
actions, exposure facts and compliance over snapshots (services/patch_plan.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from patchkit import T0, device, finding, flow

from carewarden.errors import ConfigError
from carewarden.iomt import risk as rk
from carewarden.services import patch_plan as pp
from carewarden.store import Store

DAY = dt.timedelta(days=1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "store") as opened:
        yield opened


def test_devices_of_one_model_make_one_item(store: Store) -> None:
    """Models written three ways link to the one SBOM product: one item, three pumps."""
    for n, model in enumerate(("InfuStar 300", "InfuStar300", "infustar-300")):
        device(store, f"A-{n}", "infusion_pump", model)
    device(store, "A-other", "infusion_pump", "VoluGuard 2")
    finding(store, "InfuStar 300", "CVE-2014-0160", kev=True, cvss=7.5)
    plan = pp.build_plan(store, at=T0)
    assert len(plan.items) == 1
    item = plan.items[0]
    assert (item.target, item.devices, item.device_ids) == (
        "InfuStar 300", 3, ["A-0", "A-1", "A-2"])
    assert item.cls == "infusion_pump" and item.kev and item.severity == "KEV"
    assert any("keep the 3 InfuStar 300 pump(s)" in a for a in item.actions)
    assert plan.linked == {"A-0": "InfuStar 300", "A-1": "InfuStar 300", "A-2": "InfuStar 300"}
    # the pumps rank above the pump with no SBOM, which is still scored (its class)
    risks = {d.asset_id: d.risk.score for d in plan.devices}
    assert risks["A-0"] == 65 and risks["A-other"] == 25


def test_sla_dates_and_overdue(store: Store) -> None:
    """KEV is due 14 days after first detection, a 9.8 after 30; past due is overdue."""
    device(store, "A-1", "infusion_pump", "Pump")
    finding(store, "Pump", "CVE-KEV", kev=True, cvss=7.5)
    finding(store, "Pump", "CVE-CRIT", cvss=9.8, component="busybox", version="1.22.1")
    first = pp.build_plan(store, at=T0)
    due = {i.vuln_id: (i.sla_days, i.due, i.overdue) for i in first.items}
    assert due == {"CVE-KEV": (14, T0 + 14 * DAY, False), "CVE-CRIT": (30, T0 + 30 * DAY, False)}
    pp.record(store, first, "patch-plan")
    # 20 days on, first detection is still the first snapshot's: the KEV item is overdue
    later = pp.build_plan(store, at=T0 + 20 * DAY)
    state = {i.vuln_id: (i.first_detected, i.overdue, i.days_left) for i in later.items}
    assert state == {"CVE-KEV": (T0, True, -6), "CVE-CRIT": (T0, False, 10)}
    assert later.overdue == 1
    assert [i.vuln_id for i in later.items] == ["CVE-KEV", "CVE-CRIT"]  # by risk


def test_fix_from_the_range_and_no_fix_compensating(store: Store) -> None:
    """An upper bound <X names the fix; a version list names none: compensating actions."""
    device(store, "M-1", "patient_monitor", "VitaView MX5", vendor="Philips")
    finding(store, "VitaView MX5", "CVE-FIX", cvss=8.1, component="zlib", version="1.2.11",
            matched_range="vers:generic/>=1.2.0|<1.2.12")
    finding(store, "VitaView MX5", "CVE-NOFIX", cvss=5.0)
    items = {i.vuln_id: i for i in pp.build_plan(store, at=T0).items}
    fixed = items["CVE-FIX"]
    assert fixed.fix == ["zlib 1.2.11 -> 1.2.12"]
    assert fixed.actions == ["Update the 1 VitaView MX5 monitor(s): zlib 1.2.11 -> 1.2.12 or "
                             "later (the manufacturer's validated update)"]
    unfixed = items["CVE-NOFIX"]
    assert unfixed.fix == []
    expected = rk.compensating(
        "patient_monitor",
        {"devices": 1, "model": "VitaView MX5", "vendor": "Philips",
         "component": "openssl 1.0.1f", "vuln": "CVE-NOFIX", "zone": "a zone of their own"},
        rk.load_config(),
    )
    assert unfixed.actions == expected
    assert any("central station" in a for a in unfixed.actions)  # the monitor's own list


def test_suppressed_findings_and_products_without_devices(store: Store) -> None:
    """A VEX-suppressed finding makes no item; a product no device runs gets one, to confirm."""
    device(store, "A-1", "infusion_pump", "Pump")
    finding(store, "Pump", "CVE-VEX", cvss=9.8, suppressed=True)
    finding(store, "Orphan", "CVE-O", cvss=9.8)
    plan = pp.build_plan(store, at=T0)
    assert [(i.target, i.devices, i.vuln_id) for i in plan.items] == [("Orphan", 0, "CVE-O")]
    assert "no device of it is in the inventory" in plan.items[0].actions[-1]
    assert plan.items[0].risk == 27  # exploitability only: 40 x 0.98 x 0.7


def test_exposure_from_flows_and_the_default_credentials_list(store: Store) -> None:
    """Telnet served, HTTP used and a public peer are seen in the flows; a listed MAC-less
    device id carries the default-credentials flag."""
    device(store, "P-1", "printer", ips=("10.70.0.5",))
    device(store, "P-2", "printer", ips=("10.70.0.6",))
    flow(store, "10.40.0.9", "10.70.0.5", 23)  # someone uses the printer's Telnet
    flow(store, "10.70.0.5", "10.1.1.20", 80)  # the printer uses HTTP
    flow(store, "10.70.0.5", "203.0.113.7", 443)  # and reaches a public address
    flow(store, "10.70.0.6", "10.1.1.20", 443)  # the other one: TLS, internal only
    flow(store, "10.70.0.6", "192.168.3.3", 9100)
    config = rk.RiskConfig.model_validate(
        {**rk.load_config().model_dump(), "default_credentials": ["P-2"]})
    devices = {d.asset_id: d for d in pp.build_plan(store, config, at=T0).devices}
    why = devices["P-1"].risk.why()
    assert "internet: flows with public address 203.0.113.7" in why
    assert "serves Telnet tcp/23" in why and "uses HTTP tcp/80" in why
    assert devices["P-1"].risk.score == 25  # exposure 25 x (0.6 + 0.3), impact 25 x 0.1
    assert devices["P-2"].risk.why().startswith("default credentials")
    assert devices["P-2"].risk.score == 10 + 3


def test_models_file_links_by_id_and_by_model(store: Store, tmp_path: Path) -> None:
    """A models file links a model with another name, and one device by its id."""
    device(store, "A-1", "infusion_pump", "IS-300 rev B")
    device(store, "A-2", "infusion_pump", None)
    device(store, "A-3", "infusion_pump", "Unrelated")
    finding(store, "InfuStar 300", "CVE-2014-0160", kev=True)
    path = tmp_path / "models.yaml"
    path.write_text("IS-300 rev B: InfuStar 300\nA-2: infustar 300\n")
    plan = pp.build_plan(store, models=pp.load_models(path), at=T0)
    assert plan.items[0].device_ids == ["A-1", "A-2"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml"):
        pp.load_models(bad)


def test_compliance_across_two_snapshots(store: Store) -> None:
    """One item fixed before its due date, one after, one new: each is counted so."""
    device(store, "A-1", "infusion_pump", "Pump")
    finding(store, "Pump", "CVE-KEV", kev=True)  # due T0 + 14
    finding(store, "Pump", "CVE-CRIT", cvss=9.8, component="busybox")  # due T0 + 30
    finding(store, "Pump", "CVE-LOW", cvss=2.0, component="zlib")  # due T0 + 180, stays open
    pp.record(store, pp.build_plan(store, at=T0), "patch-plan")
    # 20 days later both the KEV and the critical one are fixed, and a new one appears
    store.query("DELETE FROM vuln_finding WHERE vuln_id IN ('CVE-KEV', 'CVE-CRIT')")
    finding(store, "Pump", "CVE-NEW", cvss=7.0, component="curl")
    pp.record(store, pp.build_plan(store, at=T0 + 20 * DAY), "detect")
    first, second = pp.compliance(store)
    assert (first.open, first.new, first.remediated_on_time, first.remediated_late) == (
        3, 3, 0, 0)
    assert first.within_sla == 100.0
    assert second.origin == "detect"
    assert (second.open, second.overdue, second.new) == (2, 0, 1)
    assert (second.remediated_on_time, second.remediated_late) == (1, 1)  # CRIT, KEV
    assert second.within_sla == 75.0  # 2 open in time + 1 on time of 4
    # recording the same time again replaces that snapshot
    pp.record(store, pp.build_plan(store, at=T0 + 20 * DAY), "patch-plan")
    assert len(pp.compliance(store)) == 2


def test_saved_settings_are_used_by_later_plans(store: Store, tmp_path: Path) -> None:
    """--config with --record is kept in the store for `carewarden detect`."""
    path = tmp_path / "risk.yaml"
    path.write_text("version: 1\nsla: {kev_days: 7, bands: []}\n")
    config, _ = pp.settings(store, path, None, save=True)
    assert config.sla.kev_days == 7
    again, models = pp.settings(store, None, None)
    assert again.sla.kev_days == 7 and models == {}


def test_summary_is_none_without_devices(store: Store) -> None:
    assert pp.summary(store) is None
    device(store, "A-1", "infusion_pump", "Pump")
    finding(store, "Pump", "CVE-KEV", kev=True)
    brief = pp.summary(store, at=T0)
    assert brief is not None
    assert (brief.devices, brief.items, brief.kev_items, brief.scored) == (1, 1, 1, 1)
