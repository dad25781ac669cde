"""`carewarden serve --watch`: the live watcher runs inside the server that holds the store.
Lines appended to a tailed file and syslog sent over UDP land while the console answers."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from fastapi.testclient import TestClient

from carewarden.services import accounts
from carewarden.services.watch import BatchSpec, FileSpec, SyslogSpec, WatchConfig
from carewarden.store import Store
from carewarden.web.app import create_app
from carewarden.web.hub import StoreHub
from conftest import PASSWORD


def _line(n: int) -> str:
    return (
        f"Nov 28 11:00:{n % 60:02d} ehr-app01 sshd[7]: Failed password for u{n} "
        f"from 10.0.0.{n % 250} port 22 ssh2\n"
    )


def _events(hub: StoreHub) -> int:
    with hub.reader() as store:
        return int(store.query("SELECT count(*) FROM security_event")[0][0])


def _wait_for(hub: StoreHub, count: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while (found := _events(hub)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def test_the_server_hosts_the_live_watcher(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("".join(_line(n) for n in range(50)))
    store_path = tmp_path / "store"
    with Store.open(store_path) as store:
        accounts.add_user(store, "ana", "analyst", PASSWORD)
    config = WatchConfig(
        files=[FileSpec(path=str(log), kind="syslog")],
        syslog=SyslogSpec(udp=0),
        batch=BatchSpec(max_records=100, max_seconds=0.2),
        detect_every_seconds=0,
    )
    hub = StoreHub(store_path)
    with TestClient(create_app(store_path, hub=hub, watch=config)) as client:
        hosted = client.app.state.watch  # type: ignore[attr-defined]
        assert _wait_for(hub, 50) == 50
        with log.open("a") as out:
            out.write("".join(_line(n) for n in range(50, 80)))
        udp = dict(hosted.bound)["udp"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for n in range(80, 90):
                sock.sendto(_line(n).encode(), ("127.0.0.1", udp))
        assert _wait_for(hub, 90) == 90
        cookie, _ = hub.write(lambda s: accounts.create_session(s, "ana"))
        client.cookies.set("cw_session", cookie)
        assert client.get("/ingestion").status_code == 200  # the console answers meanwhile
    # stopped with the server: the offsets were committed, so a restart adds nothing
    with log.open("a") as out:
        out.write(_line(90))
    with TestClient(create_app(store_path, hub=hub, watch=config)):
        assert _wait_for(hub, 91) == 91
        time.sleep(0.5)
        assert _events(hub) == 91
    hub.close()


def test_serve_refuses_a_bad_watch_config(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from carewarden.cli.main import app

    bad = tmp_path / "watch.yaml"
    bad.write_text("files:\n  - path: a.log\n    kind: carrier-pigeon\n")
    result = CliRunner().invoke(
        app, ["serve", "--store", str(tmp_path / "store"), "--watch", str(bad)]
    )
    assert result.exit_code == 2
    assert "watch.yaml" in result.output and "Traceback" not in result.output
