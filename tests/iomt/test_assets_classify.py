"""Classification rules: each family of evidence, combined, and the names of things."""

from __future__ import annotations

from pathlib import Path

import pytest

from carewarden.errors import ConfigError
from carewarden.iomt import classify as cl
from carewarden.iomt.oui import builtin_table, locally_administered, normalise_mac

WIN7 = "Mozilla/5.0 (Windows NT 6.1; Win64; x64; Trident/7.0; rv:11.0) like Gecko"


def _evidence(case: dict[str, object]) -> list[cl.Evidence]:
    out: list[cl.Evidence] = []
    if "vendor" in case:
        out += cl.vendor_evidence(str(case["vendor"]), "oui", "MAC vendor")
    if "host" in case:
        out += cl.name_evidence("host name", str(case["host"]), "dhcp")
    if "agent" in case:
        out += cl.agent_evidence(str(case["agent"]), "http")
    if "vendor_class" in case:
        out += cl.dhcp_evidence(str(case["vendor_class"]), None, "dhcp")
    rules = cl.port_rules()
    for port in case.get("serves", ()):  # type: ignore[attr-defined]
        out += [cl.Evidence("conn", f"serves {port}", c, w) for c, w in rules[(port, "tcp")].server]
    for port in case.get("uses", ()):  # type: ignore[attr-defined]
        out += [cl.Evidence("conn", f"uses {port}", c, w) for c, w in rules[(port, "tcp")].client]
    return out


RULES: list[tuple[dict[str, object], str]] = [
    ({"vendor": "B. Braun", "host": "PUMP-3W-001"}, "infusion_pump"),
    ({"host": "PCU-2W-014"}, "infusion_pump"),
    ({"vendor": "Philips", "host": "MON-4W-002"}, "patient_monitor"),
    ({"vendor": "GE Healthcare", "host": "CT01", "uses": [104]}, "imaging_modality"),
    ({"uses": [11112], "agent": "Microsoft-CryptoAPI/6.1"}, "imaging_modality"),
    ({"serves": [104]}, "pacs"),
    ({"vendor": "Sysmex", "uses": [2575]}, "lab_analyzer"),
    ({"vendor": "Rauland", "host": "NC-1W-003"}, "nurse_call"),
    ({"vendor": "Dell", "vendor_class": "MSFT 5.0", "agent": WIN7}, "workstation"),
    # a reading workstation that retrieves images over DICOM is still a workstation
    ({"vendor": "Dell", "host": "WS-RAD-02", "agent": WIN7, "uses": [104]}, "workstation"),
    ({"serves": [2575, 443]}, "server"),
    ({"vendor": "VMware", "serves": [1433]}, "server"),
    ({"serves": [9100]}, "printer"),
    ({"vendor": "Lexmark"}, "printer"),
    ({"host": "android-3fa2c9d1"}, "unknown"),  # hex digits that spell no keyword
    ({"vendor": "Cisco"}, "unknown"),
    ({}, "unknown"),
]


@pytest.mark.parametrize(("case", "expected"), RULES)
def test_rules_table(case: dict[str, object], expected: str) -> None:
    """Each documented rule family points the device at the expected class."""
    verdict = cl.decide(_evidence(case))
    assert verdict.cls == expected, verdict
    assert verdict.cls in cl.CLASSES
    if expected == "unknown":
        assert verdict.confidence == 0.0
    else:
        assert 0.3 <= verdict.confidence <= 1.0


def test_noisy_or_and_runner_up_penalty() -> None:
    """Two clues of 0.5 for one class make 0.75; a rival at 0.4 lowers the confidence by a
    fifth (best x (1 - second / 2))."""
    two = [cl.Evidence("a", "x", "printer", 0.5), cl.Evidence("b", "y", "printer", 0.5)]
    assert cl.decide(two).confidence == pytest.approx(0.75)
    rival = [*two, cl.Evidence("c", "z", "server", 0.4)]
    verdict = cl.decide(rival)
    assert verdict.cls == "printer" and verdict.confidence == pytest.approx(0.75 * 0.8)
    assert cl.decide([cl.Evidence("a", "x", "printer", 0.2)]).cls == "unknown"


def test_user_agents_give_os_support_and_products() -> None:
    """Windows versions come from the NT version (Windows 7 is unsupported); a device's own
    agent names its product; a browser is no product."""
    seven = cl.read_user_agent(WIN7)
    assert (seven.os, seven.unsupported, seven.browser) == ("Windows 7", True, True)
    assert cl.read_user_agent("Microsoft-CryptoAPI/6.1").os == "Windows 7"
    xp = cl.read_user_agent("Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1)")
    assert xp.os == "Windows XP" and xp.unsupported
    assert cl.read_user_agent("InfuStar300/4.2.1").product == "InfuStar300/4.2.1"
    assert cl.read_user_agent("curl/8.1.0").product is None


def test_class_names_from_other_tools() -> None:
    """CMDB words map to classes; unknown words map to none."""
    assert cl.class_from_text("Infusion Pump") == "infusion_pump"
    assert cl.class_from_text("patient_monitor") == "patient_monitor"
    assert cl.class_from_text("Lab Analyzer") == "lab_analyzer"
    assert cl.class_from_text("Coffee machine") is None


def test_mac_spellings_and_vendor_table(tmp_path: Path) -> None:
    """MACs in any common spelling normalise; OUIs name vendors; randomised MACs have none;
    an IEEE CSV file extends the table, and a file of another shape is refused."""
    for spelling in ("00:09:5C:12:34:56", "00-09-5c-12-34-56", "0009.5c12.3456", "00095C123456"):
        assert normalise_mac(spelling) == "00:09:5c:12:34:56"
    assert normalise_mac("00:09:5c:12:34") is None and normalise_mac("zz:09:5c:12:34:56") is None
    table = builtin_table()
    assert table.vendor("00:09:5c:12:34:56") == "Philips"
    assert table.vendor("00:12:21:00:00:01") == "B. Braun"
    assert locally_administered("da:11:22:33:44:55") and table.vendor("da:11:22:33:44:55") is None
    assert table.vendor("ac:de:48:00:00:01") is None
    ieee = tmp_path / "oui.csv"
    ieee.write_text(
        "Registry,Assignment,Organization Name,Organization Address\n"
        'MA-L,ACDE48,"Sample Infusion Systems Ltd",Somewhere\n',
        "utf-8",
    )
    assert table.extended(ieee).vendor("ac:de:48:00:00:01") == "Sample Infusion Systems Ltd"
    bad = tmp_path / "bad.csv"
    bad.write_text("prefix,name\nACDE48,x\n", "utf-8")
    with pytest.raises(ConfigError, match="not an IEEE OUI CSV"):
        table.extended(bad)
