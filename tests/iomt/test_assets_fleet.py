"""The synthetic device fleet and the inventory's accuracy on it, on two seeds."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.iomt.classify import CLASSES
from carewarden.iomt.connectors import AdvisoryConnector, SbomConnector
from carewarden.services.assets import (
    configure,
    evaluate_assets,
    load_network,
    read_truth,
    run_discovery,
)
from carewarden.services.ingest import ingest
from carewarden.services.vulns import findings, match
from carewarden.store import Store
from carewarden.synth import SynthConfig
from carewarden.synth.fleet import FleetResult, generate_fleet
from carewarden.telemetry.zeek import ZeekConnector

runner = CliRunner(env={"COLUMNS": "200"})
DEMO_SEED = 1  # the seed `carewarden demo` uses
HELD_OUT_SEED = 29


@dataclass
class Run:
    fleet: FleetResult
    store: Path


def _run(root: Path, seed: int) -> Run:
    fleet = generate_fleet(root / "network", SynthConfig(beds=20, days=2, seed=seed))
    with Store.open(root / "store") as store:
        for connector, folder in ((ZeekConnector(), "zeek"), (SbomConnector(), "sbom"),
                                  (AdvisoryConnector(), "advisories")):
            summary = ingest(store, connector, [fleet.out_dir / folder])
            assert summary.total("quarantined") == 0 and not summary.failed
        configure(store, load_network(fleet.network_path), None)
        run_discovery(store)
    return Run(fleet, root / "store")


@pytest.fixture(scope="module", params=[DEMO_SEED, HELD_OUT_SEED], ids=["demo-seed", "held-out"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(tmp_path_factory.mktemp(f"fleet{request.param}"), request.param)


def test_classification_accuracy_and_no_merges(run: Run) -> None:
    """At least 95% of the devices in the right class, overall and for every class with ten
    or more devices; no asset holds two true devices and none is split."""
    truth = read_truth(run.fleet.truth_path)
    with Store.open(run.store, read_only=True) as store:
        result = evaluate_assets(store, truth)
    assert result.devices == len(truth) == run.fleet.devices
    assert result.accuracy >= 0.95, result.as_dict()["by_class"]
    assert result.merged == [] and result.split == [] and result.missed == []
    for name, score in result.by_class.items():
        if score.devices >= 10:
            assert score.accuracy >= 0.9, (name, score)


def test_fleet_size_classes_and_findings(run: Run) -> None:
    """About 10-15 devices per bed in the documented classes, a share of workstations on
    unsupported Windows, static servers, and both injected findings recorded."""
    truth = read_truth(run.fleet.truth_path)
    assert 10 <= len(truth) / 20 <= 15
    assert {d["class"] for d in truth} <= set(CLASSES)
    assert {"infusion_pump", "patient_monitor", "server", "pacs", "workstation"} <= {
        d["class"] for d in truth
    }
    assert any(d["static"] and d["class"] == "server" for d in truth)
    findings_rows = [json.loads(x) for x in run.fleet.findings_path.read_text().splitlines()]
    rogue = next(f for f in findings_rows if f["kind"] == "pump_outside_zone")
    conn = (run.fleet.out_dir / "zeek" / "conn.log").read_text()
    assert f"\t{rogue['src_ip']}\t" in conn and f"\t{rogue['dst_ip']}\t445\t" in conn
    with Store.open(run.store, read_only=True) as store:
        unsupported = store.query(
            "SELECT count(*) FROM asset WHERE class = 'workstation' AND os_unsupported"
        )[0][0]
        assert unsupported >= 1


def test_kev_component_found_in_a_device_sbom(run: Run) -> None:
    """The InfuStar 300 SBOM's OpenSSL 1.0.1f matches the advisory, flagged KEV."""
    with Store.open(run.store) as store:
        match(store)
        kev = findings(store, kev_only=True)
    assert [(f["product"], f["component"], f["vuln_id"]) for f in kev] == [
        ("InfuStar 300", "openssl", "CVE-2014-0160")
    ]


def test_evaluate_command_json(run: Run) -> None:
    """`carewarden assets evaluate --truth … --format json` prints the same figures."""
    result = runner.invoke(app, ["assets", "evaluate", "--truth", str(run.fleet.truth_path),
                                 "--store", str(run.store), "--format", "json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["accuracy"] >= 0.95 and figures["merged"] == []
    assert set(figures["by_class"]) <= set(CLASSES)


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_fleet_is_deterministic_and_writes_only_its_folder(tmp_path: Path) -> None:
    """The same seed writes byte-identical files, another seed other ones; nothing is
    written outside the fleet's folder."""
    config = SynthConfig(beds=10, days=1, seed=3)
    a = generate_fleet(tmp_path / "a" / "net", config)
    b = generate_fleet(tmp_path / "b" / "net", config)
    c = generate_fleet(tmp_path / "c" / "net", SynthConfig(beds=10, days=1, seed=4))
    assert _digests(a.out_dir) == _digests(b.out_dir)
    assert _digests(a.out_dir)["zeek/conn.log"] != _digests(c.out_dir)["zeek/conn.log"]
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["net"]
    expected = {"zeek/dhcp.log", "zeek/conn.log", "zeek/http.log", "zeek/ssl.log",
                "zeek/x509.log", "devices_truth.jsonl", "findings.jsonl", "site_network.yaml"}
    assert expected <= set(_digests(a.out_dir))
