"""The demo's patch plan and the report's IoMT risk block."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from patchkit import T0, device, finding

from carewarden.report.html import render_report
from carewarden.services.demo import run_demo
from carewarden.services.overview import overview
from carewarden.services.patch_plan import build_plan, compliance, record
from carewarden.store import Store
from carewarden.synth import SynthConfig


def test_demo_plans_the_infustar_heartbleed_item_as_kev(tmp_path: Path) -> None:
    """After the fleet is ingested and discovered, the plan's first item is Heartbleed on the
    InfuStar 300 pumps, KEV, due 14 days after first detection; detection recorded a
    compliance snapshot; the report shows the riskiest devices and the plan."""
    result = run_demo(tmp_path, tmp_path / "store", SynthConfig(beds=10, days=1, seed=2))
    assert "patch_plan" in result.detect.seconds
    plan = result.overview.patch_plan
    assert plan is not None and plan.kev_items >= 1
    item = plan.top_items[0]
    assert (item.target, item.vuln_id, item.kev, item.sla_days) == (
        "InfuStar 300", "CVE-2014-0160", True, 14)
    assert item.due - item.first_detected == dt.timedelta(days=14)
    assert item.devices >= 1 and item.cls == "infusion_pump"
    assert plan.top_devices[0].risk.score >= 65  # KEV 40 + pump 25
    with Store.open(tmp_path / "store", read_only=True) as store:
        history = compliance(store)
    assert len(history) == 1 and history[0].origin == "detect" and history[0].open >= 1
    html = result.report.read_text("utf-8")
    assert "Riskiest devices" in html and "Patch plan" in html
    assert "CVE-2014-0160" in html and "KEV: 14 days" in html
    assert f"{item.devices} x InfuStar 300" in html


def test_report_block_lists_devices_with_why_and_items_with_actions(tmp_path: Path) -> None:
    """The block shows each top device's factor contributions and each item's due date and
    actions, HTML-escaped; an overdue item is flagged."""
    with Store.open(tmp_path / "store") as store:
        device(store, "A-1", "infusion_pump", "Pump <X>")
        device(store, "A-2", "printer", None)
        finding(store, "Pump <X>", "CVE-2014-0160", kev=True, cvss=7.5)
        record(store, build_plan(store, at=T0), "patch-plan")  # first detected at T0
        figures = overview(store, now=T0 + dt.timedelta(days=30))
    html = render_report(figures)
    assert "Riskiest devices" in html
    assert "CVE-2014-0160 in openssl 1.0.1f is in CISA KEV (exploited)" in html
    assert "(+40.0)" in html and "class infusion_pump" in html
    assert "1 x Pump &lt;X&gt;" in html and "Pump <X>" not in html
    assert "overdue</span>" in html
    assert "Ask the manufacturer for an updated MDS2 form and a CSAF/VEX statement on " \
        "CVE-2014-0160" in html
    assert "1 open, 0 overdue" in html  # compliance at the last snapshot (T0)


def test_report_block_without_devices_says_so(tmp_path: Path) -> None:
    with Store.open(tmp_path / "store") as store:
        html = render_report(overview(store))
    assert "No device inventory to score" in html
