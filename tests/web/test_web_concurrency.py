"""`carewarden serve` and `carewarden detect` at the same time on one store: the server holds
the store (DuckDB admits one writing process), and detect hands its run to it, while the
server keeps answering requests."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from carewarden.services import accounts
from carewarden.web.app import create_app
from carewarden.web.hub import StoreHub
from conftest import Web  # type: ignore[import-not-found]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_detect_runs_through_a_serving_server(web: Web) -> None:
    path = web.hub.path
    web.hub.close()  # the fixture's hub; a real server takes the store below
    hub = StoreHub(path)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(create_app(path, hub=hub), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        hub.announce(url)
        # Alerts deleted: the delegated detect must find them again.
        hub.write(lambda s: s.query("DELETE FROM alert"))
        token, _ = hub.write(lambda s: accounts.create_token(s, "analyst-user", ["alerts:read"]))
        auth = {"authorization": f"Bearer {token}"}
        detect = subprocess.Popen(
            [sys.executable, "-m", "carewarden.cli.main", "detect", "--store", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        served = 0
        with httpx.Client(base_url=url, headers=auth) as client:
            while detect.poll() is None:  # the server answers while detection runs
                assert client.get("/api/v1/alerts").status_code == 200
                served += 1
                time.sleep(0.05)
            output = detect.stdout.read() if detect.stdout else ""
            assert detect.returncode == 0, output
            assert "held by `carewarden serve`" in output and "new alerts" in output
            assert served > 0
            assert client.get("/api/v1/alerts").json()["total"] >= 3
    finally:
        server.should_exit = True
        thread.join(10)
        hub.close()
    assert not (path / "serve.json").exists()


def test_without_a_server_a_busy_store_says_so(tmp_path: Path) -> None:
    """Another process holding the store, with no server announced: a clear message."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys,time; c = duckdb.connect(sys.argv[1]); "
            "print('ok', flush=True); time.sleep(30)",
            str(tmp_path / "carewarden.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        result = subprocess.run(
            [sys.executable, "-m", "carewarden.cli.main", "detect", "--store", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert "held for writing by another Carewarden process" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        holder.kill()
        holder.wait()
