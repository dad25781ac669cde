"""SBOM and advisory parsers on handwritten documents, and on malformed input."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carewarden.iomt import advisories, sbom
from carewarden.iomt.documents import MAX_FIELD_CHARS, DocumentError


def test_cyclonedx_json_names_the_product_and_walks_nested_components(iomt_data: Path) -> None:
    """The metadata component is the product; nested components are kept."""
    bom = sbom.parse((iomt_data / "device.cdx.json").read_bytes(), "x")
    assert bom.format == "cyclonedx" and bom.spec_version == "1.5"
    assert bom.product == "Welch Allyn Product Configuration Tool"
    assert bom.product_version == "1.9.4.1" and bom.supplier == "Baxter"
    assert bom.sbom_id == "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79/1"
    names = [c.name for c in bom.components]
    assert names[0] == bom.product and bom.components[0].is_product
    assert "zlib" in names and "Embedded OS" in names  # nested under the OS
    zlib = next(c for c in bom.components if c.name == "zlib")
    assert zlib.cpe and zlib.cpe.startswith("cpe:2.3:a:zlib:zlib:1.2.11")
    assert not bom.rejects


def test_cyclonedx_xml_with_embedded_vex_and_a_bad_component(iomt_data: Path) -> None:
    """XML: components, an embedded VEX statement, and a nameless component rejected alone."""
    bom = sbom.parse((iomt_data / "pump.cdx.xml").read_bytes(), "x")
    assert bom.spec_version == "1.4" and bom.bom_version == 2
    assert bom.product == "Infusion Pump X" and bom.supplier == "Example Medical"
    assert [c.name for c in bom.components] == ["Infusion Pump X", "log4j-core", "zlib"]
    assert bom.rejects == ["/bom/components/component[3]/name: missing"]
    [vex] = bom.vex
    assert (vex.vuln_id, vex.status, vex.justification, vex.ref) == (
        "CVE-2021-44228",
        "not_affected",
        "code_not_reachable",
        "log4j",
    )


def test_spdx_json_and_tag_value(iomt_data: Path) -> None:
    """SPDX: the described package is the product; purl and CPE external refs are read."""
    portal = sbom.parse((iomt_data / "portal.spdx.json").read_bytes(), "x")
    assert (portal.format, portal.spec_version, portal.product) == (
        "spdx",
        "SPDX-2.3",
        "lab-portal",
    )
    assert portal.supplier == "Example Hospital IT"
    assert {c.name: c.purl for c in portal.components}["Pillow"] == "pkg:pypi/Pillow@8.0.0"
    assert portal.rejects == ["/packages/4/name: missing"]
    gateway = sbom.parse((iomt_data / "gateway.spdx").read_bytes(), "x")
    assert (gateway.product, gateway.product_version) == ("pacs-gateway", "3.1")
    assert gateway.sbom_id == "https://example.org/spdx/pacs-gateway-3.1"
    ant = next(c for c in gateway.components if c.name == "Apache Ant")
    assert ant.cpe == "cpe:2.3:a:apache:ant:1.9.14:*:*:*:*:*:*:*" and ant.version == "1.9.14"


def test_osv_json_list_yaml_and_nvd(iomt_data: Path) -> None:
    """OSV ranges and versions lists, a JSON list with one bad record, NVD CPE bounds."""
    log4j = advisories.parse((iomt_data / "osv-log4j.json").read_bytes(), "osv-log4j.json")
    [record] = log4j.advisories
    assert record.vuln_id == "GHSA-jfh8-c2jp-5v3q" and record.aliases == ["CVE-2021-44228"]
    assert record.cvss_score == 10.0
    [rng] = record.ranges
    assert rng.pkg_key == "maven/org.apache.logging.log4j/log4j-core" and rng.scheme == "maven"
    listed = advisories.parse((iomt_data / "osv-list.json").read_bytes(), "osv-list.json")
    assert [a.vuln_id for a in listed.advisories] == ["TEST-2024-0001"]
    assert listed.rejects == ["/1/affected: expected a list, got str"]
    yaml_doc = advisories.parse((iomt_data / "osv-listed.yaml").read_bytes(), "osv-listed.yaml")
    assert yaml_doc.advisories[0].ranges[0].versions == ("0.9.1",)
    nvd = advisories.parse((iomt_data / "nvd.json").read_bytes(), "nvd.json")
    assert nvd.kind == "nvd"
    [cve] = nvd.advisories
    assert (cve.vuln_id, cve.cvss_score) == ("CVE-2018-25032", 7.5)
    assert cve.ranges[0].method == "cpe" and cve.ranges[0].vers == "vers:generic/<1.2.12"


def test_csaf_product_tree_and_vex_status(iomt_data: Path) -> None:
    """CSAF: branches give product names and versions; product_status gives VEX statuses."""
    parsed = advisories.parse((iomt_data / "csaf-vex.json").read_bytes(), "csaf-vex.json")
    [record] = parsed.advisories
    assert record.advisory_id == "csaf:EXM-2024-001#CVE-2021-44228"
    assert {(r.pkg_key, r.vers, r.versions) for r in record.ranges} == {
        ("name:infusion_pump_x", None, ("1.0",)),
        ("name:patient_monitor_y", "vers:generic/<=3.4", ()),
    }
    [doc] = parsed.vex
    statuses = {(s.status, s.target.versions if s.target else None) for s in doc.statements}
    assert ("not_affected", ("2.0",)) in statuses and ("affected", ("1.0",)) in statuses
    not_affected = next(s for s in doc.statements if s.status == "not_affected")
    assert not_affected.justification == "vulnerable_code_not_in_execute_path"


def test_kev_json_csv_and_epss(iomt_data: Path) -> None:
    kev = advisories.parse((iomt_data / "kev.json").read_bytes(), "kev.json")
    assert [k.cve_id for k in kev.kev] == ["CVE-2021-44228"] and kev.kev[0].ransomware == "Known"
    assert kev.rejects == ["/vulnerabilities/1/cveID: not a CVE id: 'not-a-cve'"]
    kev_csv = advisories.parse((iomt_data / "kev.csv").read_bytes(), "kev.csv")
    assert kev_csv.kind == "kev" and kev_csv.kev[0].due_date is not None
    epss = advisories.parse((iomt_data / "epss.csv").read_bytes(), "epss.csv")
    assert epss.kind == "epss" and len(epss.epss) == 3
    assert epss.epss[0].model_version == "v2025.03.14" and epss.epss[0].epss == 0.94358
    assert epss.rejects == ["line 6: not a number: 'CVE-2099-0009,not-a-number,0.5'"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"bomFormat": "CycloneDX", "components": [', "invalid JSON"),
        (
            '{"bomFormat": "CycloneDX", "metadata": {"component": {"name": "Pump é"}}}'.encode(
                "latin-1"
            ),
            "not UTF-8",
        ),
        (b"<bom xmlns='http://cyclonedx.org/schema/bom/1.4'><components>", "invalid XML"),
        (b"hello", "not a CycloneDX or SPDX"),
        (b'{"spdxVersion": "SPDX-3.0"}', "SPDX 2.x only"),
    ],
)
def test_unreadable_sboms_fail_with_a_reason(content: bytes, reason: str) -> None:
    with pytest.raises(DocumentError, match=reason):
        sbom.parse(content, "x")


def test_a_huge_field_rejects_its_record_only() -> None:
    """A component with a field over the limit is refused; the others are kept."""
    huge = "x" * (MAX_FIELD_CHARS + 1)
    doc = (
        '{"bomFormat": "CycloneDX", "components": ['
        f'{{"name": "ok", "version": "1"}}, {{"name": "big", "version": "{huge}"}}]}}'
    ).encode()
    bom = sbom.parse(doc, "fallback")
    assert bom.product == "fallback"
    assert [c.name for c in bom.components] == ["ok"]
    assert bom.rejects and "characters (limit" in bom.rejects[0]


def test_xml_entity_expansion_is_refused() -> None:
    """defusedxml refuses entity tricks (billion laughs) instead of expanding them."""
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY a "aaaa">]>'
        b'<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components>'
        b"<component><name>&a;</name></component></components></bom>"
    )
    with pytest.raises(DocumentError, match="refused XML"):
        sbom.parse(bomb, "x")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_parsers_raise_only_document_errors(data: bytes) -> None:
    """Any bytes: a parsed document or a DocumentError, never another exception."""
    for parse in (sbom.parse, advisories.parse):
        with contextlib.suppress(DocumentError):
            parse(data, "fuzz.json")


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "bomFormat",
                        "components",
                        "name",
                        "version",
                        "purl",
                        "metadata",
                        "component",
                        "vulnerabilities",
                        "analysis",
                        "affects",
                        "id",
                        "affected",
                        "ranges",
                        "events",
                        "package",
                        "ecosystem",
                        "spdxVersion",
                        "packages",
                        "document",
                        "csaf_version",
                    ]
                ),
                inner,
                max_size=5,
            )
        ),
        max_leaves=20,
    )
)
def test_structured_garbage_raises_only_document_errors(doc: object) -> None:
    """JSON of the right shape with wrong types: DocumentError or a result, nothing else."""
    import orjson

    data = orjson.dumps(doc)
    for parse in (sbom.parse, advisories.parse):
        with contextlib.suppress(DocumentError):
            parse(data, "fuzz.json")
