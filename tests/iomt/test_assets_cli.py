"""`carewarden assets list|show|discover` and the IoMT section of the report and demo."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from assetkit import HOUR, conn, dhcp, http, load
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.iomt.classify import CLASSES
from carewarden.report.html import render_report
from carewarden.services.demo import run_demo
from carewarden.services.detect import detect
from carewarden.services.overview import overview
from carewarden.store import Store
from carewarden.synth import SynthConfig

runner = CliRunner(env={"COLUMNS": "200"})
WIN10 = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    folder = tmp_path / "store"
    with Store.open(folder) as store:
        load(store, tmp_path / "zeek", [
            dhcp(0, "00:12:21:aa:00:01", "10.20.0.100", "PUMP-1W-001", "InfuStar 300"),
            dhcp(0, "00:14:22:bb:00:01", "10.40.0.100", "WS-1W-001", "MSFT 5.0"),
            http(HOUR, "10.40.0.100", "10.1.1.30", WIN10),
            *[conn(n, "10.40.0.100", "10.50.0.20", 9100) for n in range(3)],
        ])
        detect(store)  # the inventory is a phase of detection
    return folder


def test_list_jsonl_carries_the_documented_fields(inventory: Path) -> None:
    """Every JSONL object has id, class, confidence, vendor, model, macs, ips, hostnames and
    evidence, its class one of the documented names; --class filters."""
    result = runner.invoke(app, ["assets", "list", "--store", str(inventory), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 4
    for row in rows:
        assert {"id", "class", "confidence", "vendor", "model", "macs", "ips", "hostnames",
                "evidence"} <= set(row)
        assert row["class"] in CLASSES and 0 <= row["confidence"] <= 1
    pump = next(r for r in rows if r["class"] == "infusion_pump")
    assert pump["vendor"] == "B. Braun" and pump["model"] == "InfuStar 300"
    assert {"source", "observation", "class", "weight"} <= set(pump["evidence"][0])
    printers = runner.invoke(app, ["assets", "list", "--store", str(inventory), "--format",
                                   "jsonl", "--class", "printer"])
    assert [json.loads(x)["ips"] for x in printers.output.splitlines()] == [["10.50.0.20"]]
    table = runner.invoke(app, ["assets", "list", "--store", str(inventory)])
    assert "4 device(s)" in table.output and "infusion_pump" in table.output
    as_csv = runner.invoke(app, ["assets", "list", "--store", str(inventory), "--format", "csv"])
    parsed = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert len(parsed) == 4 and parsed[0]["id"].startswith("A-")
    bad = runner.invoke(app, ["assets", "list", "--store", str(inventory), "--class", "toaster"])
    assert bad.exit_code == 2


def test_show_by_id_mac_ip_and_name(inventory: Path) -> None:
    """`assets show` finds a device by id, MAC, address or host name and lists its evidence;
    an unknown one is a usage error."""
    listed = runner.invoke(app, ["assets", "list", "--store", str(inventory), "--format", "jsonl",
                                 "--class", "workstation"])
    ws = json.loads(listed.output)
    for key in (ws["id"], "00:14:22:bb:00:01", "10.40.0.100", "ws-1w-001"):
        shown = runner.invoke(app, ["assets", "show", key, "--store", str(inventory),
                                    "--format", "json"])
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["id"] == ws["id"]
    text = runner.invoke(app, ["assets", "show", ws["id"], "--store", str(inventory)])
    assert "desktop browser on Windows 10/11" in text.output and "evidence" in text.output
    missing = runner.invoke(app, ["assets", "show", "nothing-here", "--store", str(inventory)])
    assert missing.exit_code == 2 and "no device" in missing.output


def test_discover_command_records_site_network(tmp_path: Path, inventory: Path) -> None:
    """`assets discover --network FILE` records the site's ports; a bad file is refused."""
    network = tmp_path / "net.yaml"
    network.write_text("ports:\n  - {port: 9100, protocol: label printer, "
                       "server: {printer: 0.9}}\n", "utf-8")
    result = runner.invoke(app, ["assets", "discover", "--store", str(inventory), "--network",
                                 str(network)])
    assert result.exit_code == 0, result.output
    assert "4 devices" in result.output
    with Store.open(inventory, read_only=True) as store:
        assert "label printer" in (store.setting("assets.settings") or "")
    network.write_text("ports:\n  - {port: 9100, protocol: x, server: {toaster: 0.5}}\n")
    bad = runner.invoke(app, ["assets", "discover", "--store", str(inventory), "--network",
                              str(network)])
    assert bad.exit_code == 2 and "unknown class 'toaster'" in bad.output


def test_report_has_the_iomt_inventory(inventory: Path) -> None:
    """The report's IoMT section shows the inventory by class with confidence; an empty
    store says how to build one."""
    with Store.open(inventory, read_only=True) as store:
        figures = overview(store)
    # the web server is named by the Host header its client asked for (ehr.example)
    assert {c.cls for c in figures.assets_by_class} == {"infusion_pump", "workstation",
                                                        "printer", "server"}
    html = render_report(figures)
    assert 'id="iomt"' in html and "Inventory by class" in html
    assert "infusion pump" in html and "Mean confidence" in html
    with Store.open(inventory.parent / "empty") as empty:
        assert "No device inventory" in render_report(overview(empty))


def test_demo_ingests_the_fleet_and_reports_it(tmp_path: Path) -> None:
    """`carewarden demo` writes the fleet beside the hospital, ingests its telemetry, SBOMs
    and advisories, discovers the devices (timed as a detection phase), finds the KEV
    component and shows the inventory in the report."""
    result = run_demo(tmp_path, tmp_path / "store", SynthConfig(beds=10, days=1, seed=2))
    assert result.fleet is not None and (tmp_path / "network" / "devices_truth.jsonl").exists()
    assert not (tmp_path / "hospital" / "zeek").exists()
    assert all(s.total("quarantined") == 0 and not s.failed for s in result.network)
    assert result.detect.assets is not None and "assets" in result.detect.seconds
    assert result.detect.assets.devices >= result.fleet.devices * 0.95
    assert result.vulns is not None and result.vulns.findings >= 1
    assert sum(c.devices for c in result.overview.assets_by_class) == result.detect.assets.devices
    html = result.report.read_text("utf-8")
    assert "Inventory by class" in html and "infusion pump" in html
