"""Merging observations into devices: identity by MAC, addresses over time, static hosts."""

from __future__ import annotations

from pathlib import Path

from assetkit import HOUR, conn, dhcp, http, load, rediscover

from carewarden.iomt.inventory import Settings
from carewarden.store import Store

PUMP_A, PUMP_B = "00:12:21:aa:00:01", "00:12:21:aa:00:02"
WIN7 = "Mozilla/5.0 (Windows NT 6.1; Win64; x64; Trident/7.0; rv:11.0) like Gecko"


def test_same_ip_leased_to_two_macs_stays_two_devices(store: Store, tmp_path: Path) -> None:
    """10.20.0.100 is leased to pump A, then (after A left) to a workstation B: what each
    did on that address goes to the device that held it then, and nothing merges."""
    load(store, tmp_path, [
        dhcp(0, PUMP_A, "10.20.0.100", "PUMP-1W-001"),
        conn(1 * HOUR, "10.20.0.100", "10.1.1.20", 7100),
        dhcp(10 * HOUR, "00:14:22:bb:00:01", "10.20.0.100", "WS-1W-001", "MSFT 5.0"),
        http(11 * HOUR, "10.20.0.100", "10.1.1.30", WIN7),
    ])
    assets = {a["identity"]: a for a in rediscover(store)}
    assert set(assets) == {f"mac:{PUMP_A}", "mac:00:14:22:bb:00:01", "ip:10.1.1.20",
                           "ip:10.1.1.30"}
    pump, ws = assets[f"mac:{PUMP_A}"], assets["mac:00:14:22:bb:00:01"]
    assert pump["ips"] == ws["ips"] == ["10.20.0.100"]
    assert pump["class"] == "infusion_pump" and pump["vendor"] == "B. Braun"
    assert ws["class"] == "workstation" and ws["os"] == "Windows 7" and ws["os_unsupported"]
    assert pump["os"] is None
    evidence = store.query(
        "SELECT observation FROM asset_evidence WHERE asset_id = ?", [pump["asset_id"]]
    )
    assert not any("browser" in o for (o,) in evidence)  # the workstation's agent stayed there


def test_same_mac_three_addresses_is_one_device(store: Store, tmp_path: Path) -> None:
    """A pump that moves between wards gets three addresses over a day: one device with
    all three, its traffic on each attributed to it."""
    load(store, tmp_path, [
        dhcp(0, PUMP_B, "10.20.0.101"),
        conn(1 * HOUR, "10.20.0.101", "10.1.1.20", 7100),
        dhcp(5 * HOUR, PUMP_B, "10.20.1.150"),
        conn(6 * HOUR, "10.20.1.150", "10.1.1.20", 7100),
        dhcp(9 * HOUR, PUMP_B, "10.20.2.120", "PUMP-3W-009"),
        conn(10 * HOUR, "10.20.2.120", "10.1.1.20", 7100),
    ])
    assets = rediscover(store)
    pumps = [a for a in assets if PUMP_B in a["macs"]]
    assert len(pumps) == 1
    assert pumps[0]["ips"] == ["10.20.0.101", "10.20.1.150", "10.20.2.120"]
    assert pumps[0]["subnet"] == "10.20.2.0/24" and pumps[0]["hostnames"] == ["pump-3w-009"]
    assert {a["identity"] for a in assets} == {f"mac:{PUMP_B}", "ip:10.1.1.20"}


def test_static_server_seen_only_in_conn_logs_is_an_asset(store: Store, tmp_path: Path) -> None:
    """A statically addressed server answering LDAP and Kerberos to many workstations is a
    server asset; an address nobody answered from, and internet peers, are no assets."""
    records = []
    for n in range(6):
        records.append(conn(n * HOUR, f"10.40.0.{100 + n}", "10.1.1.11", 389))
        records.append(conn(n * HOUR + 1, f"10.40.0.{100 + n}", "10.1.1.11", 88))
    records.append(conn(7 * HOUR, "10.40.0.100", "10.99.0.1", 445, state="S0"))
    records.append(conn(7 * HOUR, "10.40.0.100", "142.250.190.78", 443))
    load(store, tmp_path, records)
    assets = {a["identity"]: a for a in rediscover(store)}
    server = assets["ip:10.1.1.11"]
    assert server["class"] == "server" and server["macs"] == []
    assert "serves LDAP tcp/389" in server["protocols"] and server["sources"] == ["zeek/conn"]
    assert "ip:10.99.0.1" not in assets and "ip:142.250.190.78" not in assets
    assert assets["ip:10.40.0.100"]["class"] == "workstation"  # uses the directory
    assert len(assets) == 7


def test_site_ports_and_internal_networks(store: Store, tmp_path: Path) -> None:
    """A site's port rule (the pump server) classifies its clients; networks added as
    internal make devices of addresses outside RFC 1918."""
    load(store, tmp_path, [conn(0, "100.100.0.5", "100.100.0.9", 7100)])
    from carewarden.iomt.classify import PortRule

    assert {a["identity"] for a in rediscover(store)} == {"ip:100.100.0.5", "ip:100.100.0.9"}
    rule = PortRule(7100, "pump server", (("server", 0.6),), (("infusion_pump", 0.7),))
    assets = {a["identity"]: a for a in rediscover(store, Settings(ports=(rule,)))}
    assert assets["ip:100.100.0.5"]["class"] == "infusion_pump"
    assert assets["ip:100.100.0.9"]["class"] == "server"
    narrow = Settings(internal=("10.0.0.0/8",))
    assert rediscover(store, narrow) == []


def test_empty_store_discovers_nothing_quickly(store: Store) -> None:
    """Without telemetry or imports discovery writes an empty inventory."""
    assert rediscover(store) == []
    assert store.query("SELECT count(*) FROM asset_evidence") == [(0,)]


def test_suricata_dhcp_flow_http_and_tls(store: Store, tmp_path: Path) -> None:
    """Suricata EVE gives the same observations: DHCP (client MAC, address, host name),
    flows, HTTP user agents and TLS subjects."""
    import orjson

    from carewarden.services.ingest import ingest
    from carewarden.telemetry.suricata import SuricataConnector

    def eve(t: int, kind: str, **fields: object) -> bytes:
        base = {"timestamp": f"2026-03-02T0{t}:00:00.000000+0000", "event_type": kind,
                "proto": "TCP", **fields}
        return orjson.dumps(base) + b"\n"

    lines = [
        eve(1, "dhcp", src_ip="10.1.1.2", dest_ip="10.40.0.100", dhcp={
            "type": "reply", "dhcp_type": "ack", "client_mac": "00:14:22:bb:00:09",
            "assigned_ip": "10.40.0.100", "hostname": "WS-2W-009"}),
        eve(2, "http", src_ip="10.40.0.100", dest_ip="10.1.1.40", dest_port=80,
            http={"hostname": "intranet", "url": "/", "http_user_agent": WIN7}),
        eve(3, "tls", src_ip="10.40.0.100", dest_ip="10.1.2.30", dest_port=443,
            tls={"sni": "pacs02.example", "subject": "CN=pacs02.example, O=Example"}),
        *[eve(4, "flow", src_ip=f"10.50.0.{n}", dest_ip="10.1.2.30", dest_port=104,
              flow={"state": "closed"}) for n in (10, 11, 12)],
    ]
    path = tmp_path / "eve.json"
    path.write_bytes(b"".join(lines))
    assert ingest(store, SuricataConnector(), [path]).total("quarantined") == 0
    assets = {a["identity"]: a for a in rediscover(store)}
    ws = assets["mac:00:14:22:bb:00:09"]
    assert ws["class"] == "workstation" and ws["os"] == "Windows 7"
    assert ws["hostnames"] == ["ws-2w-009"] and ws["ips"] == ["10.40.0.100"]
    pacs = assets["ip:10.1.2.30"]
    assert pacs["class"] == "pacs" and "pacs02.example" in pacs["hostnames"]
    assert assets["ip:10.50.0.10"]["class"] == "imaging_modality"


def test_rediscovery_keeps_asset_ids(store: Store, tmp_path: Path) -> None:
    """Asset ids derive from the device's identity: running discovery again (or after more
    telemetry) keeps them, so references to a device stay valid."""
    load(store, tmp_path, [dhcp(0, PUMP_A, "10.20.0.100"), conn(60, "10.20.0.100", "10.1.1.9", 80)])
    first = {a["identity"]: a["asset_id"] for a in rediscover(store)}
    load(store, tmp_path, [conn(2 * HOUR, "10.20.0.100", "10.1.1.9", 443)], name="later")
    assert {a["identity"]: a["asset_id"] for a in rediscover(store)} == first
