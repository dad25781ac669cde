"""Package keys and version ranges: names normalised per ecosystem, versions per univers."""

from __future__ import annotations

from carewarden.iomt.packages import name_key, osv_package_key, parse_cpe, parse_purl
from carewarden.iomt.versions import (
    VersionChecker,
    natural_key,
    range_key,
    vers_from_bounds,
    vers_from_events,
)


def test_pypi_names_are_normalised_per_pep_503() -> None:
    """Django, django and Example_Pkg / example.pkg meet on one key."""
    assert parse_purl("pkg:pypi/Django@3.2.0").key == "pypi/django"  # type: ignore[union-attr]
    assert parse_purl("pkg:pypi/Example_Pkg@1").key == "pypi/example-pkg"  # type: ignore[union-attr]
    assert osv_package_key("PyPI", "example.pkg").key == "pypi/example-pkg"  # type: ignore[union-attr]


def test_osv_maven_and_go_names_match_purls() -> None:
    """OSV's group:artifact and Go module paths give the purl's key."""
    maven = osv_package_key("Maven", "org.apache.logging.log4j:log4j-core")
    purl = parse_purl("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1")
    assert maven is not None and purl is not None
    assert maven.key == purl.key and purl.version == "2.14.1" and purl.scheme == "maven"
    go = osv_package_key("Go", "golang.org/x/net")
    assert go is not None and go.key == parse_purl("pkg:golang/golang.org/x/net@v0.1.0").key  # type: ignore[union-attr]
    assert osv_package_key("Debian:11", "openssl") is not None
    assert osv_package_key("NoSuchEcosystem", "x") is None
    assert parse_purl("not a purl") is None


def test_cpe_formats_parse() -> None:
    """CPE 2.3 strings and 2.2 URIs give vendor:product and a version (None for '*')."""
    cpe = parse_cpe("cpe:2.3:a:apache:ant:1.10.7:*:*:*:*:*:*:*")
    assert cpe is not None and cpe.key == "apache:ant" and cpe.version == "1.10.7"
    assert parse_cpe("cpe:2.3:a:zlib:zlib:*:*:*:*:*:*:*:*").version is None  # type: ignore[union-attr]
    assert parse_cpe("cpe:/a:chan:fatfs:r0.13").key == "chan:fatfs"  # type: ignore[union-attr]
    assert parse_cpe("wolfssl 4.8.1") is None


def test_osv_events_become_vers_ranges() -> None:
    """introduced/fixed/last_affected pairs become vers constraints; '0' is open below."""
    assert vers_from_events("pypi", [("introduced", "0"), ("fixed", "2.2.24")]) == (
        "vers:pypi/<2.2.24"
    )
    assert (
        vers_from_events("pypi", [("introduced", "3.0"), ("last_affected", "3.1")])
        == "vers:pypi/>=3.0|<=3.1"
    )
    assert vers_from_events("golang", [("introduced", "0")]) == "vers:golang/*"
    assert vers_from_events("npm", [("introduced", "1.0")]) == "vers:npm/>=1.0"
    assert vers_from_events("npm", []) is None
    assert vers_from_bounds("generic", "1.1", None, "1.9.14", None) == (
        "vers:generic/>=1.1|<=1.9.14"
    )


def test_versions_compare_by_ecosystem_rules() -> None:
    """PEP 440, Go pseudo-versions and NVD bounds are compared, not string-matched."""
    check = VersionChecker()
    pypi = "vers:pypi/<2.2.24|>=3.0|<3.1.12|>=3.2|<3.2.4"
    assert check.contains("k1", "pypi", pypi, None, "3.2.0")
    assert check.contains("k1", "pypi", pypi, None, "2.2.9")  # 2.2.9 < 2.2.24 numerically
    assert not check.contains("k1", "pypi", pypi, None, "3.2.4")
    assert not check.contains("k1", "pypi", pypi, None, "3.1.12")
    go = "vers:golang/<0.23.0"
    assert check.contains("k2", "golang", go, None, "v0.0.0-20200707034311-ab3426394381")
    assert not check.contains("k2", "golang", go, None, "v0.23.0")
    ant = "vers:generic/>=1.10.0|<=1.10.7"
    assert check.contains("k3", "generic", ant, None, "1.10.7")
    assert not check.contains("k3", "generic", ant, None, "1.10.8")
    assert not check.contains("k3", "generic", ant, None, "1.9.14")


def test_explicit_version_lists_are_honoured() -> None:
    """An OSV versions list matches its versions (PEP 440-equal spellings too) and no other."""
    check = VersionChecker()
    listed = ("0.9.1", "1.0")
    assert check.contains("k", "pypi", None, listed, "0.9.1")
    assert check.contains("k", "pypi", None, listed, "1.0.0")  # PEP 440: 1.0 == 1.0.0
    assert not check.contains("k", "pypi", None, listed, "0.9.2")
    assert check.contains("g", "golang", None, ("1.2.3",), "v1.2.3")


def test_unparseable_versions_fall_back_to_natural_order() -> None:
    """Firmware-style versions univers cannot parse are still ordered sensibly."""
    check = VersionChecker()
    assert check.contains("k", "generic", "vers:generic/<=r0.14", None, "r0.13")
    assert not check.contains("k", "generic", "vers:generic/<=r0.14", None, "r0.15")
    assert check.fallbacks >= 1
    assert natural_key("1.0rc1") < natural_key("1.0.1")


def test_every_version_range_needs_no_version() -> None:
    """'All versions' (CSAF vers:all/*) matches a product whose SBOM gives no version."""
    check = VersionChecker()
    assert check.contains("k", "generic", "vers:generic/*", None, "")
    assert not check.contains("k", "generic", "vers:generic/<2", None, "")


def test_range_keys_are_stable_and_distinct() -> None:
    assert range_key("pypi", "vers:pypi/<1", None) == range_key("pypi", "vers:pypi/<1", ())
    assert range_key("pypi", None, ["1"]) != range_key("pypi", None, ["1", "2"])
    assert name_key("BD Alaris  Guardrails Editor") == "name:bd_alaris_guardrails_editor"
    assert name_key("  ") is None
