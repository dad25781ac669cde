"""``carewarden ingest sbom``, ``ingest advisories`` and ``vulns`` from the command line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from carewarden.cli.main import app

runner = CliRunner(env={"COLUMNS": "250"})


def _setup(tmp_path: Path, data: Path) -> str:
    store = str(tmp_path / "s")
    sboms = runner.invoke(
        app,
        [
            "ingest",
            "sbom",
            str(data / "device.cdx.json"),
            str(data / "pump.cdx.xml"),
            "--store",
            store,
        ],
    )
    assert sboms.exit_code == 1, sboms.output  # pump.cdx.xml has one nameless component
    assert "sbom_component" in sboms.output and "quarantined" in sboms.output
    feeds = runner.invoke(
        app,
        [
            "ingest",
            "advisories",
            str(data / "osv-log4j.json"),
            str(data / "nvd.json"),
            str(data / "kev.csv"),
            str(data / "csaf-vex.json"),
            "--store",
            store,
        ],
    )
    assert feeds.exit_code == 0, feeds.output
    return store


def test_vulns_jsonl_carries_the_documented_fields(tmp_path: Path, iomt_data: Path) -> None:
    """JSONL objects name product, purl with version, ids, source, KEV, EPSS, CVSS, VEX, range."""
    store = _setup(tmp_path, iomt_data)
    result = runner.invoke(app, ["vulns", "--store", store, "--format", "jsonl", "-q"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    required = {
        "product",
        "component_purl",
        "vuln_id",
        "aliases",
        "source",
        "kev",
        "epss",
        "cvss",
        "vex_status",
        "matched_range",
        "method",
    }
    assert rows and all(required <= set(r) for r in rows)
    assert rows[0]["kev"] is True and rows[0]["vuln_id"] == "GHSA-jfh8-c2jp-5v3q"
    assert {(r["product"], r["vuln_id"]) for r in rows} == {
        ("Welch Allyn Product Configuration Tool", "GHSA-jfh8-c2jp-5v3q"),
        ("Welch Allyn Product Configuration Tool", "CVE-2018-25032"),
        ("Infusion Pump X", "CVE-2018-25032"),
    }  # the pump's Log4j is not_affected (VEX): suppressed
    everything = runner.invoke(
        app, ["vulns", "--store", store, "--format", "jsonl", "--include-suppressed", "-q"]
    )
    suppressed = [json.loads(x) for x in everything.stdout.splitlines() if '"suppressed":true' in x]
    assert [(r["product"], r["vex_status"]) for r in suppressed] == [
        ("Infusion Pump X", "not_affected")
    ]


def test_vulns_filters_csv_and_table(tmp_path: Path, iomt_data: Path) -> None:
    store = _setup(tmp_path, iomt_data)
    kev = runner.invoke(app, ["vulns", "--store", store, "--format", "jsonl", "--kev-only", "-q"])
    assert [json.loads(x)["vuln_id"] for x in kev.stdout.splitlines()] == ["GHSA-jfh8-c2jp-5v3q"]
    pump = runner.invoke(
        app, ["vulns", "--store", store, "--format", "csv", "--product", "Infusion Pump X", "-q"]
    )
    rows = list(csv.DictReader(io.StringIO(pump.stdout)))
    assert [(r["component"], r["vuln_id"], r["method"]) for r in rows] == [
        ("zlib", "CVE-2018-25032", "cpe")
    ]
    table = runner.invoke(app, ["vulns", "--store", store])
    assert table.exit_code == 0 and "3 finding(s)" in table.stdout
    assert "vers:generic/<1.2.12" in table.stdout
    bad = runner.invoke(app, ["vulns", "--store", store, "--format", "xml"])
    assert bad.exit_code == 2


def test_ingest_advisories_reports_bad_files_and_goes_on(tmp_path: Path, iomt_data: Path) -> None:
    """A broken file is quarantined with its reason; the good files of the run still land."""
    (tmp_path / "broken.json").write_text('{"id": "X", "affected": [')
    store = str(tmp_path / "s")
    result = runner.invoke(
        app,
        [
            "ingest",
            "advisories",
            str(tmp_path / "broken.json"),
            str(iomt_data / "nvd.json"),
            "--store",
            store,
        ],
    )
    assert result.exit_code == 1
    assert "broken.json: invalid JSON" in result.output.replace("\n", "")
    status = runner.invoke(app, ["status", "--store", store])
    assert "advisory" in status.output
