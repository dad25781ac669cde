"""``carewarden patch-plan`` and ``patch-plan compliance``: formats, exit codes, snapshots."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import orjson
import pytest
from patchkit import device
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.iomt.connectors import AdvisoryConnector, SbomConnector
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.synth.fleet import HEARTBLEED_OSV, KEV_CSV, write_sboms

runner = CliRunner(env={"COLUMNS": "200"})
# zlib 1.3.1 of the VitaView MX5 SBOM, fixed in 1.3.2 (a made-up advisory with a range)
ZLIB_OSV = {
    "id": "CVE-2099-0001",
    "summary": "zlib example flaw",
    "modified": "2026-01-01T00:00:00Z",
    "published": "2026-01-01T00:00:00Z",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [{
        "package": {"purl": "pkg:generic/zlib"},
        "ranges": [{"type": "ECOSYSTEM",
                    "events": [{"introduced": "1.2.0"}, {"fixed": "1.3.2"}]}],
    }],
}


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    sboms = write_sboms(tmp_path / "sbom", 1, "2026-01-01T00:00:00Z")
    advisories = tmp_path / "advisories"
    advisories.mkdir()
    (advisories / "heartbleed.osv.json").write_bytes(orjson.dumps(HEARTBLEED_OSV))
    (advisories / "zlib.osv.json").write_bytes(orjson.dumps(ZLIB_OSV))
    (advisories / "kev.csv").write_text(KEV_CSV)
    folder = tmp_path / "store"
    with Store.open(folder) as store:
        ingest(store, SbomConnector(), sboms)
        ingest(store, AdvisoryConnector(), [advisories])
        for n in range(3):
            device(store, f"P-{n}", "infusion_pump", "InfuStar 300", vendor="B. Braun")
        device(store, "M-1", "patient_monitor", "VitaView MX5")
        device(store, "W-1", "workstation", None, os="Windows XP", os_unsupported=True)
    return folder


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["patch-plan", *args])
    return result.exit_code, result.stdout


def test_table_lists_the_plan_and_exits_0_when_nothing_is_overdue(store_dir: Path) -> None:
    code, out = _run("--store", str(store_dir))
    assert code == 0, out
    assert "InfuStar 300 x3" in out and "CVE-2014-0160 (KEV)" in out and "KEV: 14 days" in out
    assert "VitaView MX5 x1" in out and "CVE-2099-0001 (critical)" in out


def test_jsonl_carries_fix_actions_and_why(store_dir: Path) -> None:
    code, out = _run("--store", str(store_dir), "--format", "jsonl", "-q")
    assert code == 0
    items = [json.loads(line) for line in out.splitlines()]
    assert [i["priority"] for i in items] == [1, 2]
    by_id = {i["vuln_id"]: i for i in items}
    heartbleed = by_id["CVE-2014-0160"]
    assert heartbleed["devices"] == 3 and heartbleed["kev"] and heartbleed["sla_days"] == 14
    assert heartbleed["fix"] == [] and any("MDS2" in a for a in heartbleed["actions"])
    zlib = by_id["CVE-2099-0001"]
    assert zlib["fix"] == ["zlib 1.3.1 -> 1.3.2"] and zlib["sla_days"] == 30
    assert zlib["actions"][0].startswith("Update the 1 VitaView MX5 monitor(s): zlib 1.3.1")
    assert "in CISA KEV" in heartbleed["why"]


def test_csv_and_devices(store_dir: Path) -> None:
    code, out = _run("--store", str(store_dir), "--format", "csv", "-q", "--devices")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["asset_id"] for r in rows][:3] == ["P-0", "P-1", "P-2"]  # KEV pumps first
    workstation = next(r for r in rows if r["asset_id"] == "W-1")
    assert workstation["risk"] == "18" and "Windows XP past end of support" in workstation["why"]


def test_overdue_exits_1_and_compliance_counts_snapshots(store_dir: Path) -> None:
    """Recorded a day and 21 days after the findings were first detected (ingested): the
    second finds the KEV item overdue."""
    now = dt.datetime.now(dt.UTC)
    first, second = (f"{now + dt.timedelta(days=d):%Y-%m-%dT%H:%M:%S}Z" for d in (1, 21))
    code, _ = _run("--store", str(store_dir), "--record", "--at", first, "-q")
    assert code == 0
    code, out = _run("--store", str(store_dir), "--record", "--at", second,
                     "--format", "jsonl", "-q")
    assert code == 1
    overdue = [json.loads(line)["vuln_id"] for line in out.splitlines()
               if json.loads(line)["overdue"]]
    assert overdue == ["CVE-2014-0160"]
    result = runner.invoke(app, ["patch-plan", "compliance", "--store", str(store_dir),
                                 "--format", "json"])
    assert result.exit_code == 0, result.stdout
    rows = json.loads(result.stdout)
    assert [(r["open"], r["overdue"], r["new"]) for r in rows] == [(2, 0, 2), (2, 1, 0)]
    assert rows[1]["within_sla_pct"] == 50.0
    table = runner.invoke(app, ["patch-plan", "compliance", "--store", str(store_dir)])
    assert "2 snapshot(s)" in table.stdout


def test_usage_errors_exit_2(store_dir: Path, tmp_path: Path) -> None:
    assert _run("--store", str(store_dir), "--format", "xml")[0] == 2
    bad = tmp_path / "risk.yaml"
    bad.write_text("version: 1\nweights: {exploitability: 1}\n")
    result = runner.invoke(app, ["patch-plan", "--store", str(store_dir), "--config", str(bad)])
    assert result.exit_code == 2 and "add up to 100" in result.stderr
    assert _run("--store", str(store_dir), "--at", "yesterday")[0] == 2
