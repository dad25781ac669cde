"""The segmentation policy: validation names the file and entry; zones resolve by the most
specific CIDR; flows, exceptions and zone defaults decide each observed flow."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from carewarden.errors import ConfigError
from carewarden.iomt.segmentation_policy import (
    EXAMPLE_POLICY,
    Evaluator,
    SegmentationPolicy,
    ZoneMap,
    parse_ports,
)

TODAY = dt.date(2026, 11, 28)


def base() -> dict[str, Any]:
    return {
        "name": "test",
        "zones": [
            {"name": "pumps", "cidrs": ["10.20.0.0/16"], "iomt": True, "criticality": "critical"},
            {"name": "servers", "cidrs": ["10.30.0.0/24"]},
            {"name": "pump_server", "cidrs": ["10.30.0.10"]},
            {"name": "campus", "cidrs": ["10.0.0.0/8"], "egress": "allow", "ingress": "allow"},
            {"name": "internet", "internet": True, "ingress": "allow"},
        ],
        "flows": [
            {"name": "pumps to server", "from": "pumps", "to": "pump_server", "ports": [443]},
        ],
    }


def write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def load(tmp_path: Path, doc: dict[str, Any]) -> SegmentationPolicy:
    return SegmentationPolicy.load(write(tmp_path, doc))


def test_the_shipped_example_loads_and_names_every_iomt_zone() -> None:
    """The example policy is valid and marks the medical-device zones."""
    policy = SegmentationPolicy.load(EXAMPLE_POLICY)
    iomt = {z.name for z in policy.zones if z.iomt}
    assert iomt == {"infusion_pumps", "patient_monitors", "imaging_modalities", "lab_analyzers"}
    assert [z.name for z in policy.zones if z.internet] == ["internet"]


def test_a_bad_cidr_is_refused_naming_the_file_and_zone(tmp_path: Path) -> None:
    doc = base()
    doc["zones"][1]["cidrs"] = ["10.30.0.0/33"]
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, doc)
    message = str(caught.value)
    assert str(tmp_path / "policy.yaml") in message
    assert "zones.1.cidrs" in message and "10.30.0.0/33" in message


def test_host_bits_in_a_cidr_are_refused(tmp_path: Path) -> None:
    doc = base()
    doc["zones"][0]["cidrs"] = ["10.20.1.5/16"]
    with pytest.raises(ConfigError, match="host bits set"):
        load(tmp_path, doc)


def test_an_unknown_zone_in_a_flow_names_the_entry(tmp_path: Path) -> None:
    doc = base()
    doc["flows"].append({"name": "typo", "from": "pumps", "to": "pump_srv", "ports": [22]})
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, doc)
    assert "flows[1] (typo): to: unknown zone 'pump_srv'" in str(caught.value)


@pytest.mark.parametrize("ports", [[0], [65536], ["9000-8000"], ["http"]])
def test_a_port_out_of_range_is_refused(tmp_path: Path, ports: list[Any]) -> None:
    doc = base()
    doc["flows"][0]["ports"] = ports
    with pytest.raises(ConfigError, match="pumps to server"):
        load(tmp_path, doc)


def test_ports_with_icmp_and_unknown_fields_are_refused(tmp_path: Path) -> None:
    doc = base()
    doc["flows"][0]["protocol"] = "icmp"
    with pytest.raises(ConfigError, match="ports only go with tcp or udp"):
        load(tmp_path, doc)
    doc = base()
    doc["flows"][0]["port"] = 443
    with pytest.raises(ConfigError, match=r"flows\.0\.port"):
        load(tmp_path, doc)


def test_the_same_cidr_in_two_zones_is_ambiguous(tmp_path: Path) -> None:
    doc = base()
    doc["zones"][2]["cidrs"] = ["10.30.0.0/24"]
    with pytest.raises(ConfigError, match="is in both 'servers' and 'pump_server'"):
        load(tmp_path, doc)


def test_an_exception_needs_a_justification_and_an_expiry(tmp_path: Path) -> None:
    doc = base()
    doc["exceptions"] = [{"name": "vendor", "from": "pumps", "to": "8.8.8.8", "ports": [22]}]
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, doc)
    assert "exceptions.0.expires" in str(caught.value)
    assert "exceptions.0.justification" in str(caught.value)


def test_port_ranges_merge() -> None:
    assert parse_ports([443, "8000-8010", "8005-8020", 444]) == ((443, 444), (8000, 8020))


def test_the_most_specific_cidr_decides_the_zone(tmp_path: Path) -> None:
    """10.30.0.10 is the pump server, though servers (/24) and campus (/8) hold it too."""
    zones = ZoneMap.build(load(tmp_path, base()))
    assert zones.zone_of("10.30.0.10") == "pump_server"
    assert zones.zone_of("10.30.0.11") == "servers"
    assert zones.zone_of("10.30.0.9") == "servers"
    assert zones.zone_of("10.20.255.255") == "pumps"
    assert zones.zone_of("10.99.1.1") == "campus"
    assert zones.zone_of("11.0.0.1") == "internet"
    assert zones.zone_of("2001:db8::1") == "internet"
    assert zones.zone_of("::ffff:10.20.0.1") == "pumps"
    assert zones.zone_of("not an address") is None
    assert "10.30.0.10/32" not in {str(n) for n in zones.effective["servers"]}


def test_without_an_internet_zone_outside_addresses_are_unzoned(tmp_path: Path) -> None:
    doc = base()
    doc["zones"].pop()
    zones = ZoneMap.build(load(tmp_path, doc))
    assert zones.zone_of("11.0.0.1") is None


def test_device_classes_add_inventory_hosts_to_a_zone(tmp_path: Path) -> None:
    doc = base()
    doc["zones"].insert(0, {"name": "monitors", "device_classes": ["patient_monitor"]})
    policy = load(tmp_path, doc)
    zones = ZoneMap.build(policy, {"patient_monitor": ["10.99.0.5", "bogus"]})
    assert zones.zone_of("10.99.0.5") == "monitors"
    assert zones.zone_of("10.99.0.6") == "campus"
    assert ZoneMap.build(policy).zone_of("10.99.0.5") == "campus"


def test_flows_exceptions_and_defaults_decide(tmp_path: Path) -> None:
    doc = base()
    doc["exceptions"] = [
        {
            "name": "vendor now",
            "from": "pumps",
            "to": "192.0.2.10",
            "ports": [22],
            "expires": "2026-12-31",
            "justification": "vendor support",
        },
        {
            "name": "vendor before",
            "from": "pumps",
            "to": "192.0.2.11",
            "ports": [22],
            "expires": dt.date(2026, 1, 31),
            "justification": "vendor support",
        },
    ]
    policy = load(tmp_path, doc)
    decide = Evaluator(policy, TODAY).decide
    assert decide("10.20.1.5", "10.30.0.10", "tcp", 443).flow == "pumps to server"
    denied = decide("10.20.1.5", "10.30.0.10", "tcp", 22)
    assert not denied.allowed and "pumps denies egress" in denied.reason
    assert not decide("10.20.1.5", "10.30.0.10", "udp", 443).allowed
    assert not decide("10.20.1.5", "8.8.8.8", "tcp", 443).allowed
    assert decide("10.99.0.1", "8.8.8.8", "tcp", 443).allowed  # campus egress allow
    into = decide("10.99.0.1", "10.20.0.9", "tcp", 22)  # campus to pumps: ingress deny
    assert not into.allowed and "pumps denies ingress" in into.reason
    assert decide("10.20.1.5", "192.0.2.10", "tcp", 22).flow == "vendor now"
    assert not decide("10.20.1.5", "192.0.2.11", "tcp", 22).allowed  # expired: ignored
    assert [e.name for e in policy.expired_exceptions(TODAY)] == ["vendor before"]
    later = Evaluator(policy, dt.date(2027, 1, 1)).decide
    assert not later("10.20.1.5", "192.0.2.10", "tcp", 22).allowed


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-70000, 70000) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
_zone_keys = st.sampled_from(["name", "cidrs", "iomt", "internet", "egress", "criticality"])
_flow_keys = st.sampled_from(["name", "from", "to", "protocol", "ports", "expires"])


@settings(max_examples=100, deadline=None)
@given(
    zones=st.lists(st.dictionaries(_zone_keys, _values, max_size=6), max_size=3),
    flows=st.lists(st.dictionaries(_flow_keys, _values, max_size=6), max_size=3),
    top=st.dictionaries(st.sampled_from(["default", "version", "name"]), _values, max_size=2),
)
def test_a_malformed_policy_is_a_config_error(
    tmp_path_factory: pytest.TempPathFactory,
    zones: list[dict[str, Any]],
    flows: list[dict[str, Any]],
    top: dict[str, Any],
) -> None:
    """Whatever the YAML holds, loading gives a policy or a ConfigError naming the file."""
    path = tmp_path_factory.mktemp("fuzz") / "policy.yaml"
    path.write_text(yaml.safe_dump({**top, "zones": zones, "flows": flows}), encoding="utf-8")
    try:
        policy = SegmentationPolicy.load(path)
    except ConfigError as exc:
        assert str(path) in str(exc)
        return
    Evaluator(policy, TODAY).decide("10.0.0.1", "2001:db8::1", "tcp", 443)


@settings(max_examples=150, deadline=None)
@given(
    src=st.ip_addresses().map(str) | st.text(max_size=12),
    dst=st.ip_addresses().map(str) | st.text(max_size=12),
    protocol=st.sampled_from(["tcp", "udp", "icmp", "sctp", "unknown"]),
    port=st.none() | st.integers(0, 70000),
)
def test_any_observed_tuple_is_decided(src: str, dst: str, protocol: str, port: int | None) -> None:
    """Odd addresses, protocols and ports are decided (a violation at worst), never crash."""
    verdict = EXAMPLE_EVALUATOR.decide(src, dst, protocol, port)
    assert verdict.allowed in (True, False) and verdict.reason


EXAMPLE_EVALUATOR = Evaluator(SegmentationPolicy.load(EXAMPLE_POLICY), TODAY)
