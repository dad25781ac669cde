"""Real SBOMs and advisories from ../shared/corpora/iomt: parsed, matched and explained.

The SBOMs that name Python, Java and C components are handwritten (tests/iomt/data: no real
device SBOM lists Python packages); every advisory, KEV entry and VEX statement here is real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carewarden.iomt import sbom
from carewarden.iomt.connectors import AdvisoryConnector, SbomConnector
from carewarden.services.ingest import ingest
from carewarden.services.vulns import findings, match
from carewarden.store import Store

DATA = Path(__file__).parent / "data"

PYPA = [
    "django/PYSEC-2021-98.yaml",
    "django/PYSEC-2022-19.yaml",
    "django/PYSEC-2024-47.yaml",
    "requests",
    "jinja2",
    "urllib3",
    "pillow/PYSEC-2021-137.yaml",
    "certifi",
]
GO = ["GO-2024-2687.json", "GO-2024-2937.json", "GO-2024-3333.json", "GO-2024-2963.json"]

# (product, component, component version, advisory id, CVE, method, matched range)
EXPECTED = [
    (
        "ABC",
        "log4j-core",
        "2.14.1",
        "GHSA-jfh8-c2jp-5v3q",
        "CVE-2021-44228",
        "purl",
        "vers:maven/>=2.13.0|<2.15.0|>=2.4|<2.12.2|>=2.0-beta9|<2.3.1",
    ),
    (
        "Welch Allyn Product Configuration Tool",
        "Apache Ant",
        "1.10.7",
        "CVE-2020-1945",
        "CVE-2020-1945",
        "cpe",
        "vers:generic/>=1.10.0|<=1.10.7",
    ),
    (
        "pacs-gateway",
        "Apache Ant",
        "1.9.14",
        "CVE-2020-1945",
        "CVE-2020-1945",
        "cpe",
        "vers:generic/>=1.1|<=1.9.14",
    ),
    (
        "Welch Allyn Product Configuration Tool",
        "Welch Allyn Product Configuration Tool",
        "1.9.4.1",
        "CVE-2024-5176",
        "CVE-2024-5176",
        "name",
        "vers:generic/<=1.9.4.1",
    ),
    (
        "Welch Allyn Product Configuration Tool",
        "golang.org/x/net",
        "v0.0.0-20200707034311-ab3426394381",
        "GO-2024-2687",
        "CVE-2023-45288",
        "purl",
        "vers:golang/<0.23.0",
    ),
    (
        "Welch Allyn Product Configuration Tool",
        "golang.org/x/net",
        "v0.0.0-20200707034311-ab3426394381",
        "GO-2024-3333",
        "CVE-2024-45338",
        "purl",
        "vers:golang/<0.33.0",
    ),
    (
        "github.com/ProtonMail/proton-bridge",
        "golang.org/x/image",
        "v0.0.0-20190802002840-cff245a6509b",
        "GO-2024-2937",
        "CVE-2024-24792",
        "purl",
        "vers:golang/<0.18.0",
    ),
    (
        "Welch Allyn Product Configuration Tool",
        "Django",
        "3.2.0",
        "PYSEC-2021-98",
        "CVE-2021-33203",
        "purl",
        "vers:pypi/<2.2.24|>=3.0|<3.1.12|>=3.2|<3.2.4",
    ),
    (
        "Welch Allyn Product Configuration Tool",
        "Django",
        "3.2.0",
        "PYSEC-2022-19",
        "CVE-2022-22818",
        "purl",
        "vers:pypi/>=2.2|<2.2.27|>=3.2|<3.2.12|>=4.0|<4.0.2",
    ),
    (
        "Welch Allyn Product Configuration Tool",
        "Django",
        "3.2.0",
        "PYSEC-2024-47",
        "CVE-2024-27351",
        "purl",
        "vers:pypi/>=3.2|<3.2.25|>=4.2|<4.2.11|>=5.0|<5.0.3",
    ),
    (
        "Welch Allyn Product Configuration Tool",
        "requests",
        "2.19.0",
        "PYSEC-2018-28",
        "CVE-2018-18074",
        "purl",
        "vers:pypi/<2.20.0",
    ),
    (
        "Welch Allyn Product Configuration Tool",
        "requests",
        "2.19.0",
        "PYSEC-2023-74",
        "CVE-2023-32681",
        "purl",
        "vers:pypi/>=2.3.0|<2.31.0",
    ),
    (
        "lab-portal",
        "Jinja2",
        "2.10",
        "PYSEC-2019-217",
        "CVE-2019-10906",
        "purl",
        "vers:pypi/<2.10.1",
    ),
    (
        "pacs-gateway",
        "urllib3",
        "1.24.1",
        "PYSEC-2019-132",
        "CVE-2019-11236",
        "purl",
        "vers:pypi/<1.24.3",
    ),
    (
        "lab-portal",
        "Pillow",
        "8.0.0",
        "PYSEC-2021-137",
        "CVE-2021-25287",
        "purl",
        "vers:pypi/<8.2.0",
    ),
]


@pytest.fixture(scope="module")
def matched(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with Store.open(tmp_path_factory.mktemp("corpus") / "store") as store:
        sboms = [
            DATA / n
            for n in (
                "device.cdx.json",
                "portal.spdx.json",
                "gateway.spdx",
                "abc.cdx.json",
                "def.cdx.json",
            )
        ]
        sboms += [
            corpus / "sbom/cyclonedx/SBOM/proton-bridge",
            corpus / "sbom/medical-device/narrow.sbom.json",
        ]
        loaded = ingest(store, SbomConnector(), sboms)
        # portal.spdx.json holds one nameless package on purpose
        assert not loaded.failed and loaded.total("quarantined") == 1
        feeds = [corpus / "osv/pypa/vulns" / p for p in PYPA]
        feeds += [corpus / "osv/go" / p for p in GO]
        feeds += [
            corpus / "nvd/nvd-api-2.0-CVE-2020-1945.json",
            corpus / "csaf/cisa-icsma/icsma-24-151-01.json",
            corpus / "kev/known_exploited_vulnerabilities.json",
            corpus / "sbom/cyclonedx/VEX/CISA-Use-Cases/Case-1/vex-not_affected.json",
            corpus / "csaf/oasis-examples/csaf_vex/2022-evd-uc-01-na-001.json",  # ABC 4.2
            corpus / "csaf/oasis-examples/csaf_vex/2022-evd-uc-01-a-001.json",  # DEF 1.0
            corpus / "csaf/oasis-examples/csaf_vex/2022-evd-uc-01-f-001.json",  # DEF 1.1
            DATA / "osv-log4j.json",  # GHSA-jfh8-c2jp-5v3q, written from the public record
        ]
        loaded = ingest(store, AdvisoryConnector(), feeds)
        assert not loaded.failed and loaded.total("quarantined") == 0
        match(store)
        yield store


def _rows(store: Store) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (r["product"], r["component"], r["vuln_id"]): r
        for r in findings(store, include_suppressed=True)
    }


@pytest.mark.parametrize("expected", EXPECTED, ids=[e[4] + "-" + e[1] for e in EXPECTED])
def test_real_cve_matches_are_pinned_and_explained(
    matched: Store, expected: tuple[str, ...]
) -> None:
    """Each real CVE matches the component it should, with the range, method and source."""
    product, component, version, advisory, cve, method, rng = expected
    row = _rows(matched)[(product, component, advisory)]
    assert row["component_version"] == version
    assert cve == advisory or cve in row["aliases"]
    assert (row["method"], row["matched_range"]) == (method, rng)
    assert row["source"] in ("osv", "nvd", "csaf") and row["advisory_id"].endswith(advisory)


def test_at_least_ten_distinct_real_cves(matched: Store) -> None:
    cves = {e[4] for e in EXPECTED}
    found = {
        cve
        for row in findings(matched, include_suppressed=True)
        for cve in [row["vuln_id"], *row["aliases"]]
    }
    assert len(cves) >= 10 and cves <= found


def test_fixed_versions_do_not_match(matched: Store) -> None:
    """certifi 2024.7.4 is past every PyPA certifi fix; Ant's CPE ranges stop at 1.10.7."""
    rows = findings(matched, include_suppressed=True)
    assert not [r for r in rows if r["component"] == "certifi"]
    assert all(
        r["component_version"] in ("1.10.7", "1.9.14")
        for r in rows
        if r["component"] == "Apache Ant"
    )


def test_kev_flags_log4shell_from_the_real_catalogue(matched: Store) -> None:
    row = _rows(matched)[
        ("Welch Allyn Product Configuration Tool", "log4j-core", "GHSA-jfh8-c2jp-5v3q")
    ]
    assert row["kev"] is True and row["ransomware"] is True
    assert findings(matched, kev_only=True)[0]["kev"]


def test_real_vex_statements_suppress_by_product_and_version(matched: Store) -> None:
    """CISA VEX use case 1 (CycloneDX) and the OASIS CSAF VEX example both say ABC 4.2 is
    not_affected by Log4Shell; the CSAF examples say DEF 1.0 is affected and DEF 1.1 fixed.
    The SBOM of DEF is version 1.1: fixed, so suppressed; the same component in other
    products is still listed."""
    rows = _rows(matched)
    abc = rows[("ABC", "log4j-core", "GHSA-jfh8-c2jp-5v3q")]
    assert abc["suppressed"] and abc["vex_status"] == "not_affected"
    assert abc["vex_justification"] in ("code_not_present", "component_not_present")
    defn = rows[("DEF", "log4j-core", "GHSA-jfh8-c2jp-5v3q")]
    assert defn["suppressed"] and defn["vex_status"] == "fixed"
    shown = {(r["product"], r["vuln_id"]) for r in findings(matched)}
    assert ("ABC", "GHSA-jfh8-c2jp-5v3q") not in shown
    assert ("DEF", "GHSA-jfh8-c2jp-5v3q") not in shown
    assert ("DEF", "CVE-2021-44228") not in shown  # CSAF's "DEF 1.0 affected" is not 1.1
    assert ("Welch Allyn Product Configuration Tool", "GHSA-jfh8-c2jp-5v3q") in shown


def test_real_sboms_parse(corpus: Path) -> None:
    """The real device SBOM, CycloneDX JSON and XML of one app, SPDX tag-value."""
    device = sbom.parse((corpus / "sbom/medical-device/narrow.sbom.json").read_bytes(), "x")
    assert device.spec_version == "1.4" and len(device.components) == 56  # 55 + the device
    wolf = next(c for c in device.components if c.name == "WolfSSL")
    assert (wolf.version, wolf.cpe) == ("4.8.1", "cpe:2.3:a:wolfssl:wolfssl:4.8.1:*:*:*:*:*:*:*")
    laravel = corpus / "sbom/cyclonedx/SBOM/laravel-7.12.0"
    as_json = sbom.parse((laravel / "bom.1.4.json").read_bytes(), "x")
    as_xml = sbom.parse((laravel / "bom.1.4.xml").read_bytes(), "x")
    assert {c.purl for c in as_json.components} == {c.purl for c in as_xml.components}
    assert len(as_xml.components) == 63
    tag = sbom.parse(
        (corpus / "sbom/spdx/software/example6/spdx2.2/example6-lib.spdx").read_bytes(), "x"
    )
    assert (tag.product, tag.product_version) == ("go-1.15", "1.15.4")


def test_every_real_advisory_file_parses(corpus: Path) -> None:
    """All CSAF medical advisories and all PyPA records parse without a rejected record."""
    from carewarden.iomt import advisories

    csaf = sorted((corpus / "csaf/cisa-icsma").glob("*.json"))
    pypa = sorted((corpus / "osv/pypa/vulns").rglob("*.yaml"))
    assert len(csaf) == 144 and len(pypa) == 2661
    ranges = 0
    for path in [*csaf, *pypa]:
        parsed = advisories.parse(path.read_bytes(), path.name)
        assert not parsed.rejects, (path, parsed.rejects)
        ranges += sum(len(a.ranges) for a in parsed.advisories)
    assert ranges > 5000
