"""Ingest and matching in the store: explained findings, VEX, KEV/EPSS, idempotence,
newer advisories replacing older ones, quarantine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from carewarden.iomt.connectors import AdvisoryConnector, SbomConnector
from carewarden.services.ingest import ingest
from carewarden.services.vulns import findings, match
from carewarden.store import Store


def _load(store: Store, data: Path, sboms: list[str], feeds: list[str]) -> None:
    ingest(store, SbomConnector(), [data / name for name in sboms])
    ingest(store, AdvisoryConnector(), [data / name for name in feeds])


def _by(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["product"], r["component"], r["vuln_id"]): r for r in rows}


def test_findings_are_explained_and_prioritised(store: Store, iomt_data: Path) -> None:
    """purl, CPE and versions-list matches each say what matched and why; KEV comes first."""
    _load(
        store,
        iomt_data,
        ["device.cdx.json", "portal.spdx.json"],
        ["osv-log4j.json", "nvd.json", "osv-list.json", "osv-listed.yaml", "kev.json", "epss.csv"],
    )
    summary = match(store)
    rows = findings(store)
    assert summary.findings == len(rows) == 3
    got = _by(rows)
    log4j = got[("Welch Allyn Product Configuration Tool", "log4j-core", "GHSA-jfh8-c2jp-5v3q")]
    assert log4j["method"] == "purl" and log4j["source"] == "osv"
    assert log4j["matched_key"] == "maven/org.apache.logging.log4j/log4j-core"
    assert log4j["matched_range"].startswith("vers:maven/")
    assert log4j["component_purl"] == "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
    assert log4j["kev"] is True and log4j["ransomware"] is True
    assert log4j["epss"] == 0.94358 and log4j["cvss"] == 10.0
    assert log4j["aliases"] == ["CVE-2021-44228"] and log4j["vex_status"] is None
    zlib = got[("Welch Allyn Product Configuration Tool", "zlib", "CVE-2018-25032")]
    assert (zlib["method"], zlib["matched_key"], zlib["matched_range"]) == (
        "cpe",
        "zlib:zlib",
        "vers:generic/<1.2.12",
    )
    assert zlib["source"] == "nvd" and zlib["epss"] == 0.00512 and zlib["kev"] is False
    listed = got[("lab-portal", "example_pkg", "TEST-2024-0002")]
    assert listed["matched_range"] == "versions [0.9.1]"
    # TEST-2024-0001 is fixed in 0.9.0: 0.9.1 is not affected.
    assert not any(r["vuln_id"] == "TEST-2024-0001" for r in rows)
    assert rows[0]["kev"] and [r["priority"] for r in rows] == sorted(
        (r["priority"] for r in rows), reverse=True
    )


def test_vex_not_affected_suppresses(store: Store, iomt_data: Path) -> None:
    """An embedded CycloneDX VEX and a CSAF known_not_affected each suppress their finding;
    --include-suppressed shows them with the status and justification."""
    _load(store, iomt_data, ["pump.cdx.xml", "abc.cdx.json"], ["osv-log4j.json", "csaf-vex.json"])
    summary = match(store)
    assert summary.suppressed == 1
    shown = _by(findings(store))
    assert ("ABC", "log4j-core", "GHSA-jfh8-c2jp-5v3q") in shown
    assert ("Infusion Pump X", "log4j-core", "GHSA-jfh8-c2jp-5v3q") not in shown
    hidden = _by(findings(store, include_suppressed=True))[
        ("Infusion Pump X", "log4j-core", "GHSA-jfh8-c2jp-5v3q")
    ]
    assert hidden["suppressed"] and hidden["vex_status"] == "not_affected"
    assert hidden["vex_justification"] in (
        "code_not_reachable",
        "vulnerable_code_not_in_execute_path",
    )


def test_csaf_statements_about_a_product_apply_by_version(store: Store, iomt_data: Path) -> None:
    """CSAF's not_affected for Infusion Pump X 2.0 alone suppresses, and its known_affected
    1.0 does not match version 2.0 by name; without the SBOM's own VEX the CSAF decides."""
    xml = (iomt_data / "pump.cdx.xml").read_text()
    start, end = xml.index("<vulnerabilities>"), xml.index("</vulnerabilities>")
    plain = store.path.parent / "pump-no-vex.cdx.xml"
    plain.write_text(xml[:start] + xml[end + len("</vulnerabilities>") :])
    ingest(store, SbomConnector(), [plain])
    ingest(store, AdvisoryConnector(), [iomt_data / "osv-log4j.json", iomt_data / "csaf-vex.json"])
    match(store)
    rows = findings(store, include_suppressed=True)
    [log4j] = [r for r in rows if r["component"] == "log4j-core"]
    assert log4j["vex_status"] == "not_affected"
    assert log4j["vex_justification"] == "vulnerable_code_not_in_execute_path"
    assert not any(r["source"] == "csaf" for r in rows)


def test_reingest_is_a_no_op_and_newer_advisories_replace_older(
    store: Store, iomt_data: Path, tmp_path: Path
) -> None:
    """The same file twice adds nothing; a later 'modified' replaces the ranges, an older
    copy ingested afterwards is skipped."""
    _load(store, iomt_data, ["abc.cdx.json"], ["osv-log4j.json"])
    again = ingest(store, AdvisoryConnector(), [iomt_data / "osv-log4j.json"])
    assert [f.status for f in again.files] == ["already ingested"]
    assert len(findings(store)) == 0 and match(store).findings == 1
    original = (iomt_data / "osv-log4j.json").read_text()
    newer = tmp_path / "newer.json"
    newer.write_text(
        original.replace("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z")
        .replace(
            '{"introduced": "2.13.0"}, {"fixed": "2.15.0"}',
            '{"introduced": "2.15.0"}, {"fixed": "2.16.0"}',
        )
        .replace('{"introduced": "2.4"}, {"fixed": "2.12.2"},', "")
    )
    ingest(store, AdvisoryConnector(), [newer])
    assert match(store).findings == 0  # 2.14.1 is outside the corrected ranges
    older = tmp_path / "older.json"
    older.write_text(original.replace("2024-01-01T00:00:00Z", "2023-06-01T00:00:00Z"))
    outcome = ingest(store, AdvisoryConnector(), [older])
    assert outcome.files[0].duplicates == 1
    assert match(store).findings == 0
    assert store.query("SELECT count(*) FROM advisory")[0][0] == 1


def test_malformed_files_are_quarantined_and_good_records_kept(
    store: Store, iomt_data: Path, tmp_path: Path
) -> None:
    """Broken JSON, non-UTF-8 and huge fields are quarantined with their reason and file;
    good documents and the good records of a partly bad one still land."""
    (tmp_path / "broken.json").write_bytes(b'{"bomFormat": "CycloneDX", "components": [')
    (tmp_path / "latin1.json").write_bytes(
        (
            '{"bomFormat": "CycloneDX", "metadata": {"component": {"name": "Pompe à perfusion"}}}'
        ).encode("latin-1")
    )
    huge = "x" * 70_000
    (tmp_path / "huge.json").write_text(
        '{"bomFormat": "CycloneDX", "metadata": {"component": {"name": "Monitor"}}, '
        f'"components": [{{"name": "ok", "version": "1"}}, {{"name": "{huge}"}}]}}'
    )
    (tmp_path / "good.cdx.json").write_bytes((iomt_data / "abc.cdx.json").read_bytes())
    summary = ingest(store, SbomConnector(), [tmp_path])
    assert not summary.failed and summary.total("quarantined") == 3
    reasons = dict(
        store.query("SELECT regexp_extract(path, '[^/]+$'), error FROM quarantine ORDER BY 1")
    )
    assert reasons["broken.json"].startswith("invalid JSON")
    assert reasons["latin1.json"].startswith("not UTF-8 text (byte")
    assert "/components/1/name: field of 70,000 characters" in reasons["huge.json"]
    products = {r[0] for r in store.query("SELECT product FROM sbom")}
    assert products == {"ABC", "Monitor"}
    assert store.query("SELECT count(*) FROM sbom_component WHERE name = 'ok'") == [(1,)]
