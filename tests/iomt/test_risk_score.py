"""The device risk score, SLA days, fixed versions and compensating actions (iomt/risk.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from carewarden.errors import ConfigError
from carewarden.iomt import risk as r

CONFIG = r.load_config()
PUMP = r.Device("A-pump", "infusion_pump")
PRINTER = r.Device("A-prn", "printer")
KEV = r.Finding("CVE-2014-0160", kev=True, cvss=7.5, component="openssl 1.0.1f")


@pytest.mark.parametrize(
    ("device", "finding", "expected"),
    [
        # exploitability 40 x fraction, exposure 25 x, impact 25 x class weight, OS 10
        (PUMP, None, 25),  # a pump without findings: its clinical impact only
        (PUMP, KEV, 65),  # + KEV: the whole exploitability weight
        (PUMP, r.Finding("CVE-1", cvss=7.5), 46),  # 40 x 0.75 x 0.7 = 21
        (PUMP, r.Finding("CVE-1", cvss=7.5, epss=0.9), 61),  # EPSS wins: 40 x 0.9 = 36
        (PUMP, r.Finding("CVE-1", cvss=9.8, epss=0.01), 52),  # CVSS wins: 40 x 0.686
        (PRINTER, KEV, 43),  # the same KEV on a printer: 40 + 25 x 0.1, half up
        (r.Device("A", "workstation", "Windows XP", os_unsupported=True), None, 18),  # 7.5+10
        (r.Device("A", "patient_monitor", cleartext=("HL7 v2 MLLP tcp/2575",)), None, 33),
        (r.Device("A", "printer", internet="flows to 13.107.4.50"), None, 18),  # 15 + 2.5
        # exposure flags add up, capped at 1: 0.6 + 0.3 + 0.4 -> 1 -> 25
        (
            r.Device("A", "printer", internet="x", cleartext=("Telnet tcp/23",),
                     default_credentials=True),
            None,
            28,
        ),
        (r.Device("A", "no-such-class"), None, 8),  # an unlisted class weighs as unknown (0.3)
        (None, KEV, 40),  # a product no device is known to run: exploitability only
    ],
)
def test_score_table(device: r.Device | None, finding: r.Finding | None, expected: int) -> None:
    """Each factor adds its weight times its fraction; the total is rounded."""
    risk = r.score(device, finding, CONFIG)
    assert risk.score == expected
    assert abs(risk.score - sum(c.points for c in risk.contributions)) <= 0.5


def test_kev_outranks_a_higher_cvss_and_says_why() -> None:
    """A KEV finding is worse than an unexploited 9.8; the why names it first."""
    critical = r.Finding("CVE-2", cvss=9.8)
    assert r.worst([critical, KEV], CONFIG) == KEV
    risk = r.score(PUMP, KEV, CONFIG)
    assert risk.why().startswith("CVE-2014-0160 in openssl 1.0.1f is in CISA KEV")
    factors = risk.as_dict()["factors"]
    assert isinstance(factors, dict)
    assert factors["exploitability"]["points"] == 40
    assert factors["clinical_impact"]["points"] == 25
    assert r.worst([], CONFIG) is None


def test_class_weights_order_pumps_and_monitors_first() -> None:
    """The shipped clinical impact puts pumps and monitors above imaging, servers, printers."""
    impact = [r.clinical_impact(c, CONFIG) for c in (
        "infusion_pump", "patient_monitor", "imaging_modality", "server", "printer")]
    assert impact[0] == impact[1] == 1.0
    assert impact == sorted(impact, reverse=True) and impact[2] > impact[3] > impact[4]


@pytest.mark.parametrize(
    ("finding", "days", "rule"),
    [
        (KEV, 14, "KEV"),
        (r.Finding("C", cvss=9.8), 30, "critical"),
        (r.Finding("C", cvss=9.0), 30, "critical"),
        (r.Finding("C", cvss=8.9), 60, "high"),
        (r.Finding("C", cvss=5.0), 90, "medium"),
        (r.Finding("C", cvss=2.0), 180, "low"),
        (r.Finding("C"), 180, "no CVSS"),
    ],
)
def test_sla_days(finding: r.Finding, days: int, rule: str) -> None:
    assert r.sla_days(finding, CONFIG)[0] == days
    assert r.sla_days(finding, CONFIG)[1].startswith(rule)


@pytest.mark.parametrize(
    ("matched", "version", "fix"),
    [
        ("vers:generic/>=1.0.1|<1.0.1g", "1.0.1f", "1.0.1g"),
        ("vers:pypi/>=1.0|<1.2.3|>=2.0|<2.0.4", "2.0.1", "2.0.4"),
        ("vers:pypi/>=1.0|<1.2.3|>=2.0|<2.0.4", "1.1", "1.2.3"),
        ("vers:npm/<=2.0.0", "1.0.0", None),  # last affected: no fix named
        ("vers:generic/*", "1.0", None),
        ("versions [1.0.1, 1.0.1a]", "1.0.1", None),
        (None, "1.0", None),
    ],
)
def test_fixed_version_from_the_range(matched: str | None, version: str, fix: str | None) -> None:
    assert r.fixed_version(matched, version) == fix


def test_compensating_actions_by_class_with_placeholders() -> None:
    """A pump gets the pump actions, a class without its own list the default ones."""
    context = {"devices": 3, "model": "InfuStar 300", "vendor": "B. Braun",
               "component": "openssl 1.0.1f", "vuln": "CVE-2014-0160",
               "zone": "zone infusion_pumps"}
    pump = r.compensating("infusion_pump", context, CONFIG)
    assert any("3 InfuStar 300 pump(s) in zone infusion_pumps" in a for a in pump)
    assert any("MDS2" in a and "B. Braun" in a and "CVE-2014-0160" in a for a in pump)
    printer = r.compensating("printer", {"devices": 1}, CONFIG)
    assert printer == [a.format_map({"devices": "1", "model": "?", "vendor": "?",
                                     "component": "?", "vuln": "?", "zone": "?"})
                       for a in CONFIG.compensating["default"]]


def test_normal_names() -> None:
    assert r.normal("InfuStar300") == r.normal("InfuStar 300") == r.normal("infustar-300")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\nweights: {exploitability: 50}\n", "add up to 100"),
        ("version: 1\nclinical_impact: {toaster: 0.5}\n", "unknown class 'toaster'"),
        ("version: 1\ncompensating: {default: ['call {nobody}']}\n", "unknown placeholder"),
        ("version: 1\nsurprise: 1\n", "surprise"),
        ("version: 2\n", "version"),
        ("version: 1\nsla: {bands: [{name: a, min_cvss: 4, days: 9}, "
         "{name: b, min_cvss: 9, days: 3}]}\n", "highest min_cvss"),
    ],
)
def test_bad_config_names_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "risk.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        r.load_config(path)
    assert str(path) in str(caught.value)


def test_override_changes_the_score(tmp_path: Path) -> None:
    """A site's file replaces the weights: all on exploitability, a KEV is 100."""
    path = tmp_path / "risk.yaml"
    path.write_text("version: 1\nweights: {exploitability: 100, exposure: 0, "
                    "clinical_impact: 0, unsupported_os: 0}\n")
    assert r.score(PRINTER, KEV, r.load_config(path)).score == 100
