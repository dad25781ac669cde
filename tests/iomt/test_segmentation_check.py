"""`carewarden segmentation check` on Zeek conn and Suricata flow records: allowed flows pass,
violations become alerts once, and `carewarden detect` runs the check when a policy is
saved in the store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.iomt.segmentation import (
    RULE_IOMT_INTERNET,
    RULE_NOT_ALLOWED,
    alerts,
    check,
    has_flows,
)
from carewarden.iomt.segmentation_policy import EXAMPLE_POLICY, SegmentationPolicy
from carewarden.services.detect import detect
from carewarden.services.ingest import ingest
from carewarden.services.segmentation import POLICY_FILE, run_check
from carewarden.store import Store
from carewarden.telemetry.suricata import SuricataConnector
from carewarden.telemetry.zeek import ZeekConnector

DATA = Path(__file__).parent / "data" / "segmentation"
TODAY = dt.date(2026, 11, 28)  # the example's vendor exception (to 2027-06-30) is in force
runner = CliRunner(env={"COLUMNS": "250"})


@pytest.fixture
def flows(store: Store) -> Store:
    ingest(store, ZeekConnector(), [DATA / "conn.log", DATA / "conn.json"])
    ingest(store, SuricataConnector(), [DATA / "eve.json"])
    return store


def tuples(store: Store, today: dt.date = TODAY) -> dict[tuple[str, str, str, int | None], str]:
    result = check(store, SegmentationPolicy.load(EXAMPLE_POLICY), today=today)
    return {(v.src_ip, v.dst_ip, v.protocol, v.port): v.rule_id for v in result.violations}


def test_allowed_flows_pass_and_violations_are_found(flows: Store) -> None:
    """Pump to pump server on 443/tcp, DNS to the resolvers, a monitor to its central
    station (any protocol), workstation browsing and the vendor exception pass; SSH to a
    workstation, the internet, ICMP, RDP and a monitor's SNMP to the EHR do not."""
    result = check(flows, SegmentationPolicy.load(EXAMPLE_POLICY), today=TODAY)
    assert result.events == 12
    assert result.flows == 10
    found = {(v.src_ip, v.dst_ip, v.protocol, v.port): v.rule_id for v in result.violations}
    assert found == {
        ("10.20.1.5", "10.40.0.7", "tcp", 22): RULE_NOT_ALLOWED,
        ("10.20.1.6", "93.184.216.34", "tcp", 443): RULE_IOMT_INTERNET,
        ("10.20.1.5", "10.30.0.10", "icmp", None): RULE_NOT_ALLOWED,
        ("10.20.1.7", "10.40.0.8", "tcp", 3389): RULE_NOT_ALLOWED,
        ("10.21.0.9", "10.31.0.5", "udp", 161): RULE_NOT_ALLOWED,  # from Zeek JSON
    }
    ssh = next(v for v in result.violations if v.port == 22)
    assert (ssh.src_zone, ssh.dst_zone, ssh.events) == (
        "infusion_pumps",
        "clinical_workstations",
        2,
    )
    assert ssh.bytes == 2100 + 3300 + 900 + 1300
    assert ssh.first_seen == dt.datetime(2025, 11, 28, 8, 55, 0, 200000)
    assert ssh.last_seen == dt.datetime(2025, 11, 28, 8, 56, 0, 200000)
    assert len(ssh.samples) == 2 and all(s.startswith("zeek:") for s in ssh.samples)
    rdp = next(v for v in result.violations if v.port == 3389)
    assert rdp.bytes == 4000 and rdp.samples[0].startswith("suricata:")
    assert rdp.severity == "critical"  # from a critical zone


def test_an_expired_exception_is_ignored(flows: Store) -> None:
    """After its expiry the vendor's connection from the CT scanner is an IoMT-to-internet
    violation."""
    later = tuples(flows, dt.date(2027, 7, 1))
    assert later[("10.22.0.9", "192.0.2.10", "tcp", 443)] == RULE_IOMT_INTERNET
    assert ("10.22.0.9", "192.0.2.10", "tcp", 443) not in tuples(flows)


def test_alerts_carry_the_evidence_and_mappings(flows: Store) -> None:
    policy = SegmentationPolicy.load(EXAMPLE_POLICY)
    made = alerts(check(flows, policy, today=TODAY), policy)
    assert len(made) == 5
    found = {(a.rule_id, a.host, "tcp/22" in a.explanation): a for a in made}
    internet = found[(RULE_IOMT_INTERNET, "10.20.1.6", False)]
    assert internet.severity == "critical"
    assert "T1071" in internet.mapping and "HIPAA 164.312(e)(1)" in internet.mapping
    assert "93.184.216.34 tcp/443" in internet.explanation
    ssh = found[(RULE_NOT_ALLOWED, "10.20.1.5", True)]
    assert "T1021" in ssh.mapping and "NIST CSF PR.IR-01" in ssh.mapping
    assert "HICP 6" in ssh.mapping
    assert "10.40.0.7 tcp/22 (2 connections)" in ssh.explanation
    assert "infusion_pumps, IoMT" in ssh.explanation
    assert len(ssh.event_ids) == 2
    # SSH to a workstation and ICMP to the pump server: two destination zones, two alerts.
    icmp = found[(RULE_NOT_ALLOWED, "10.20.1.5", False)]
    assert "10.30.0.10 icmp (1 connection)" in icmp.explanation and "T1021" not in icmp.mapping
    assert icmp.alert_id != ssh.alert_id


def test_alerts_are_written_once(flows: Store) -> None:
    """A second check adds no alert; the alerts stay those of the first."""
    first = run_check(flows, EXAMPLE_POLICY, today=TODAY)
    assert first.new_alerts == 5
    second = run_check(flows, EXAMPLE_POLICY, today=TODAY)
    assert second.new_alerts == 0
    rows = flows.query(
        "SELECT rule_id, host, count(*) FROM alert WHERE rule_id LIKE 'segmentation.%' "
        "GROUP BY ALL ORDER BY ALL"
    )
    assert rows == [
        (RULE_NOT_ALLOWED, "10.20.1.5", 2),
        (RULE_NOT_ALLOWED, "10.20.1.7", 1),
        (RULE_NOT_ALLOWED, "10.21.0.9", 1),
        (RULE_IOMT_INTERNET, "10.20.1.6", 1),
    ]


def test_since_limits_the_connections(flows: Store) -> None:
    policy = SegmentationPolicy.load(EXAMPLE_POLICY)
    late = check(flows, policy, today=TODAY, since=dt.datetime(2025, 11, 28, 9, 0))
    assert late.events == 2
    assert sorted(v.port or 0 for v in late.violations) == [161, 3389]


def test_no_network_telemetry_costs_one_query(store: Store) -> None:
    assert not has_flows(store)
    result = check(store, SegmentationPolicy.load(EXAMPLE_POLICY), today=TODAY)
    assert (result.flows, result.violations, result.seconds) == (0, [], {})


def test_detect_checks_the_policy_saved_in_the_store(flows: Store) -> None:
    """Without a saved policy detect adds no segmentation alerts; with one it does."""
    run = detect(flows)
    assert "segmentation" not in run.seconds
    assert flows.query("SELECT count(*) FROM alert WHERE rule_id LIKE 'segmentation.%'") == [(0,)]
    (flows.path / POLICY_FILE).write_bytes(EXAMPLE_POLICY.read_bytes())
    run = detect(flows)
    # Today's date decides the exceptions; the vendor's is in force until mid-2027, so
    # at least the five alerts of the fixture remain whatever the test day.
    assert run.alerts.by_detector["segmentation"] >= 5
    again = detect(flows)
    assert again.alerts.by_detector["segmentation"] == 0


def test_a_broken_saved_policy_fails_only_its_phase(flows: Store) -> None:
    (flows.path / POLICY_FILE).write_text("zones: []\n", encoding="utf-8")
    run = detect(flows)
    assert "segmentation" in run.alerts.failures
    assert POLICY_FILE in run.alerts.failures["segmentation"]


def test_cli_check_exits_1_and_saves_the_policy(flows: Store, tmp_path: Path) -> None:
    store = str(flows.path)
    flows.close()
    result = runner.invoke(
        app,
        [
            "segmentation",
            "check",
            "--policy",
            str(EXAMPLE_POLICY),
            "--store",
            store,
            "--format",
            "jsonl",
            "--today",
            "2026-11-28",
            "--save-policy",
        ],
    )
    assert result.exit_code == 1, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert {(r["src_ip"], r["port"]) for r in lines} == {
        ("10.20.1.5", 22),
        ("10.20.1.6", 443),
        ("10.20.1.5", None),
        ("10.20.1.7", 3389),
        ("10.21.0.9", 161),
    }
    assert (Path(store) / POLICY_FILE).is_file()
    table = runner.invoke(app, ["segmentation", "check", "--store", store, "--today", "2026-11-28"])
    assert table.exit_code == 1
    assert (
        "flow_not_allowed" in table.stdout and "10.40.0.7 (clinical_workstations)" in table.stdout
    )


def test_cli_check_without_violations_exits_0(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with Store.open(store) as opened:
        ingest(opened, ZeekConnector(), [DATA / "conn.log"])
    policy = tmp_path / "open.yaml"
    policy.write_text(
        "zones:\n  - {name: all, cidrs: [0.0.0.0/0], egress: allow, ingress: allow}\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["segmentation", "check", "--policy", str(policy), "--store", str(store)]
    )
    assert result.exit_code == 0, result.output


def test_cli_check_bad_policy_is_a_usage_error(tmp_path: Path) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("zones:\n  - {name: Pumps, cidrs: [10.0.0.0/8]}\n", encoding="utf-8")
    result = runner.invoke(
        app, ["segmentation", "check", "--policy", str(policy), "--store", str(tmp_path / "s")]
    )
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "zones.0.name" in result.output
    missing = runner.invoke(app, ["segmentation", "check", "--store", str(tmp_path / "s")])
    assert missing.exit_code == 2 and "no segmentation policy" in missing.output


def test_the_report_shows_segmentation_violations(flows: Store) -> None:
    """The IoMT part of the HTML report counts the violations and explains the worst."""
    from carewarden.report.html import render_report
    from carewarden.services.overview import overview

    empty = render_report(overview(flows))
    assert "No segmentation policy checked" in empty
    (flows.path / POLICY_FILE).write_bytes(EXAMPLE_POLICY.read_bytes())
    run_check(flows, None, today=TODAY)
    figures = overview(flows)
    assert figures.segmentation is not None
    assert figures.segmentation.violations == 5
    assert figures.segmentation.policy == "Example General Hospital"
    html = render_report(figures)
    assert "segmentation violations" in html
    assert "IoMT zones reaching the internet" in html
    assert "93.184.216.34 tcp/443" in html
