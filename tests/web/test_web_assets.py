"""The asset pages: the inventory by class, a class's devices, one device with its evidence."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from carewarden.services import accounts
from carewarden.services.assets import configure, list_assets, load_network, run_discovery
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.synth import SynthConfig
from carewarden.synth.fleet import generate_fleet
from carewarden.telemetry.zeek import ZeekConnector
from carewarden.web.app import create_app
from carewarden.web.hub import StoreHub
from conftest import PASSWORD


def test_the_inventory_pages_show_devices_and_their_evidence(tmp_path: Path) -> None:
    fleet = generate_fleet(tmp_path / "network", SynthConfig(beds=10, days=1, seed=3))
    store_path = tmp_path / "store"
    with Store.open(store_path) as store:
        ingest(store, ZeekConnector(), [fleet.out_dir / "zeek"])
        configure(store, load_network(fleet.network_path), None)
        run_discovery(store)
        devices = list_assets(store)
        accounts.add_user(store, "aud", "auditor", PASSWORD)
    assert devices
    hub = StoreHub(store_path)
    with TestClient(create_app(store_path, hub=hub), follow_redirects=False) as client:
        cookie, _ = hub.write(lambda s: accounts.create_session(s, "aud"))
        client.cookies.set("cw_session", cookie)
        overview = client.get("/assets")
        assert overview.status_code == 200
        classes = sorted({d["class"] for d in devices})
        for cls in classes:
            assert f'href="/assets?class={cls}"' in overview.text
        pumps = [d for d in devices if d["class"] == classes[0]]
        listing = client.get("/assets", params={"class": classes[0]})
        for device in pumps[:20]:
            assert f'href="/assets/{device["id"]}"' in listing.text
        one = client.get(f"/assets/{pumps[0]['id']}")
        assert one.status_code == 200
        for item in pumps[0]["evidence"][:3]:
            assert item["source"] in one.text
        assert client.get("/assets/no-such-device").status_code == 404
        assert client.get("/assets", params={"class": "toaster"}).status_code == 200
    hub.close()
