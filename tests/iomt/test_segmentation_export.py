"""`carewarden segmentation export`: the nftables ruleset and its JSON form enforce what the
check reports (same zones, same order of decisions), and `nft -c` accepts the script."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.iomt.segmentation import nftables, rules_json
from carewarden.iomt.segmentation_policy import EXAMPLE_POLICY, SegmentationPolicy

TODAY = dt.date(2026, 11, 28)
runner = CliRunner(env={"COLUMNS": "250"})


@pytest.fixture(scope="module")
def script() -> str:
    return nftables(SegmentationPolicy.load(EXAMPLE_POLICY), TODAY)


def rule_lines(text: str) -> list[str]:
    chain = text.split("chain forward {", 1)[1]
    return [line.strip() for line in chain.splitlines() if "counter" in line]


def test_the_table_replaces_itself_and_hooks_forward(script: str) -> None:
    assert "table inet carewarden_seg\ndelete table inet carewarden_seg\n" in script
    assert "type filter hook forward priority filter; policy accept;" in script
    rules = rule_lines(script)
    assert rules[0].startswith("ct state established,related counter accept")
    assert rules[1].startswith("ct state invalid counter drop")


def test_zone_sets_hold_the_most_specific_cidrs(script: str) -> None:
    sets = dict(re.findall(r"set (\w+) \{.*?elements = \{ ([^}]*) \}", script, re.S))
    assert sets["z_infusion_pumps_v4"] == "10.20.0.0/16"
    assert sets["z_pump_server_v4"] == "10.30.0.10/32"
    servers = sets["z_clinical_servers_v4"].split(", ")
    assert "10.30.0.10/32" not in servers and "10.30.0.11/32" in servers
    assert "10.20.0.0/16" not in sets["z_internet_v4"].split(", ")
    assert sets["z_internet_v6"] == "::/0"


def test_each_allowed_flow_is_an_accept_before_the_zone_denials(script: str) -> None:
    rules = rule_lines(script)
    pumps = (
        "ip saddr @z_infusion_pumps_v4 ip daddr @z_pump_server_v4 tcp dport 443 counter "
        'accept comment "flow: pumps to pump server"'
    )
    assert pumps in rules
    assert any("tcp dport { 104, 11112 }" in r and "modalities to pacs" in r for r in rules)
    assert any("tcp dport { 443, 6661-6670 }" in r for r in rules)
    vendor = next(r for r in rules if "ct vendor remote service" in r)
    assert "ip daddr 192.0.2.10 tcp dport 443" in vendor and "expires 2027-06-30" in vendor
    deny = rules.index(
        'ip saddr @z_infusion_pumps_v4 counter drop comment "infusion_pumps: egress default deny"'
    )
    assert rules.index(pumps) < deny
    assert all(" accept " not in r for r in rules[deny:])
    policy = SegmentationPolicy.load(EXAMPLE_POLICY)
    accepts = [r for r in rules if 'comment "flow:' in r or 'comment "exception:' in r]
    assert len(accepts) == len(policy.flows) + len(policy.exceptions)


def test_an_expired_exception_is_left_out() -> None:
    later = nftables(SegmentationPolicy.load(EXAMPLE_POLICY), dt.date(2027, 7, 1))
    assert "# Expired exception left out: ct vendor remote service" in later
    assert "192.0.2.10" not in later.split("table inet carewarden_seg {", 1)[1]


def test_without_an_internet_zone_a_deny_default_drops_unzoned(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "zones:\n"
        "  - {name: pumps, cidrs: [10.20.0.0/16, 'fd00:20::/64'], iomt: true}\n"
        "  - {name: office, cidrs: [10.40.0.0/16], egress: allow, ingress: allow}\n"
        "flows:\n"
        "  - {name: ping, from: office, to: pumps, protocol: icmp}\n",
        encoding="utf-8",
    )
    text = nftables(SegmentationPolicy.load(policy), TODAY)
    assert "policy drop;" in text
    rules = rule_lines(text)
    assert (
        "ip saddr @z_office_v4 ip daddr @z_pumps_v4 meta l4proto icmp counter accept"
        in " ".join(rules)
    )
    assert any(r.startswith("ip6 saddr @z_pumps_v6 counter drop") for r in rules)
    assert any(r.startswith("ip saddr @zoned_v4 ip daddr @zoned_v4 counter accept") for r in rules)


def test_json_lists_the_same_rules(script: str) -> None:
    data = rules_json(SegmentationPolicy.load(EXAMPLE_POLICY), TODAY)
    assert data["default"] == "accept"
    assert data["zones"]["pump_server"] == ["10.30.0.10/32"]
    first = data["rules"][0]
    assert first == {
        "action": "accept",
        "kind": "flow",
        "name": "pumps to pump server",
        "family": "ipv4",
        "source": ["10.20.0.0/16"],
        "destination": ["10.30.0.10/32"],
        "protocol": "tcp",
        "ports": [[443, 443]],
        "expires": None,
    }
    assert len(data["rules"]) == len(rule_lines(script)) - 2  # less the two ct state rules


def test_cli_export_writes_both_formats(tmp_path: Path) -> None:
    out = tmp_path / "seg.nft"
    result = runner.invoke(
        app,
        [
            "segmentation",
            "export",
            "--policy",
            str(EXAMPLE_POLICY),
            "--format",
            "nftables",
            "--out",
            str(out),
            "--today",
            "2026-11-28",
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("#!/usr/sbin/nft -f")
    shown = runner.invoke(
        app, ["segmentation", "export", "--policy", str(EXAMPLE_POLICY), "--format", "json"]
    )
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["policy"] == "Example General Hospital"
    bad = runner.invoke(
        app, ["segmentation", "export", "--policy", str(EXAMPLE_POLICY), "--format", "pf"]
    )
    assert bad.exit_code == 2


def _nft_check_works(tmp_path: Path) -> str | None:
    """Why `nft -c` cannot be used here, or None when it can."""
    nft = shutil.which("nft")
    if nft is None:
        return "nft is not installed (apt-get install nftables)"
    probe = tmp_path / "probe.nft"
    probe.write_text("table inet carewarden_probe {\n}\n", encoding="utf-8")
    try:
        done = subprocess.run(
            [nft, "-c", "-f", str(probe)], capture_output=True, text=True, timeout=30
        )
    except OSError as exc:
        return f"nft cannot run: {exc}"
    if done.returncode != 0:
        return f"nft -c cannot run here (needs CAP_NET_ADMIN/netlink): {done.stderr.strip()}"
    return None


def test_nft_accepts_the_ruleset(tmp_path: Path, script: str) -> None:
    """`nft -c -f` parses and checks the exported script (and refuses a broken one, so the
    check is real)."""
    reason = _nft_check_works(tmp_path)
    if reason:
        pytest.skip(reason)
    path = tmp_path / "seg.nft"
    path.write_text(script, encoding="utf-8")
    done = subprocess.run(["nft", "-c", "-f", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    broken = tmp_path / "broken.nft"
    broken.write_text(script.replace("tcp dport 443", "tcp dport 70000", 1), encoding="utf-8")
    refused = subprocess.run(["nft", "-c", "-f", str(broken)], capture_output=True, text=True)
    assert refused.returncode != 0


def test_cli_prints_the_example_policy(tmp_path: Path) -> None:
    shown = runner.invoke(app, ["segmentation", "example"])
    assert shown.exit_code == 0
    copy = tmp_path / "policy.yaml"
    copy.write_text(shown.stdout, encoding="utf-8")
    assert SegmentationPolicy.load(copy) == SegmentationPolicy.load(EXAMPLE_POLICY)
