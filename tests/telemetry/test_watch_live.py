"""`carewarden watch` live: syslog over UDP and TCP (both RFC 6587 framings) on loopback,
backpressure with a tiny queue, and kill -9 mid-stream then restart: every generated event
stored exactly once."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from carewarden.services.watch import (
    BatchReport,
    BatchSpec,
    SyslogSpec,
    WatchConfig,
    Watcher,
    run_live,
)
from carewarden.store import Store

SEQ = re.compile(r"seq=(\d+)")


def message(n: int, tag: str = "app") -> bytes:
    return f"<13>Nov 28 11:{n // 60 % 60:02d}:{n % 60:02d} host2 {tag}: live seq={n}".encode()


def seqs(store: Store) -> list[int]:
    rows = store.query("SELECT raw FROM security_event")
    return sorted(int(m.group(1)) for (raw,) in rows if (m := SEQ.search(raw)))


class Live:
    """``run_live`` on an event loop in this process; counts what was committed."""

    def __init__(self, store: Store, config: WatchConfig) -> None:
        self.watcher = Watcher(store, config)
        self.reports: list[BatchReport] = []
        self.ports: dict[str, int] = {}

    def run(self, client: Callable[[Live], object], expected: int, timeout: float = 20) -> None:
        async def main() -> None:
            stop = asyncio.Event()
            ready = asyncio.Event()

            def bound(ports: list[tuple[str, int]]) -> None:
                self.ports.update(ports)
                ready.set()

            task = asyncio.create_task(
                run_live(self.watcher, stop, status=self.reports.append, ready=bound)
            )
            await ready.wait()
            if asyncio.iscoroutinefunction(client):
                await client(self)
            else:  # a blocking client: in a thread, as another process would be
                await asyncio.to_thread(client, self)
            deadline = time.monotonic() + timeout
            while self.stored() + self.watcher.dropped_udp < expected:
                assert time.monotonic() < deadline, f"only {self.stored()} of {expected}"
                await asyncio.sleep(0.05)
            stop.set()
            await task

        asyncio.run(main())

    def stored(self) -> int:
        return sum(r.stored for r in self.reports)


def config(**syslog: int) -> WatchConfig:
    return WatchConfig(
        syslog=SyslogSpec(**syslog),
        batch=BatchSpec(max_records=200, max_seconds=0.1),
        detect_every_seconds=0,
    )


def test_udp_messages_are_stored(store: Store) -> None:
    live = Live(store, config(udp=0))

    def send(live: Live) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for n in range(300):
                sock.sendto(message(n), ("127.0.0.1", live.ports["udp"]))
                if n % 50 == 49:
                    time.sleep(0.01)

    live.run(send, 300)
    assert live.watcher.dropped_udp == 0
    assert seqs(store) == list(range(300))


def test_tcp_octet_counting_and_newline_framing(store: Store) -> None:
    live = Live(store, config(tcp=0))

    async def send(live: Live) -> None:
        port = live.ports["tcp"]
        _, octets = await asyncio.open_connection("127.0.0.1", port)
        for n in range(0, 500):
            body = message(n) + (b"\nsecond line" if n == 7 else b"")  # LF inside a frame
            octets.write(b"%d %s" % (len(body), body))
        await octets.drain()
        octets.close()
        _, lines = await asyncio.open_connection("127.0.0.1", port)
        lines.write(b"".join(message(n) + b"\n" for n in range(500, 1000)))
        lines.write(message(1000))  # the last line unterminated: the close ends it
        await lines.drain()
        lines.close()

    live.run(send, 1001)
    assert seqs(store) == list(range(1001))
    rows = store.query("SELECT raw FROM security_event WHERE raw LIKE '%second line%'")
    assert len(rows) == 1 and "seq=7" in rows[0][0]  # one event, the LF kept inside


def test_tcp_backpressure_bounds_the_queue_and_loses_nothing(store: Store) -> None:
    small = WatchConfig(
        syslog=SyslogSpec(tcp=0),
        batch=BatchSpec(max_records=50, max_seconds=0.05),
        queue_max_records=20,
        detect_every_seconds=0,
    )
    live = Live(store, small)

    async def send(live: Live) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", live.ports["tcp"])
        for n in range(1500):
            writer.write(message(n, "x" * 200) + b"\n")
            await writer.drain()
        writer.close()

    live.run(send, 1500, timeout=40)
    assert seqs(store) == list(range(1500))
    assert max(r.queued for r in live.reports) <= 20
    assert max(r.messages for r in live.reports) <= 50
    assert len(live.reports) >= 1500 // 50  # many small batches, as the queue allowed


def test_udp_without_backpressure_drops_and_counts(store: Store) -> None:
    small = WatchConfig(
        syslog=SyslogSpec(udp=0),
        batch=BatchSpec(max_records=5, max_seconds=0.5),
        queue_max_records=5,
        detect_every_seconds=0,
    )
    live = Live(store, small)
    sent = 400

    async def send(live: Live) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("127.0.0.1", live.ports["udp"])
        )
        for n in range(sent):
            transport.sendto(message(n))
            if n % 20 == 19:
                await asyncio.sleep(0)  # let the server receive: its queue overflows
        transport.close()

    live.run(send, sent)
    stored = seqs(store)
    assert live.watcher.dropped_udp > 0
    assert len(stored) + live.watcher.dropped_udp == sent
    assert len(set(stored)) == len(stored)


# -- kill -9 --------------------------------------------------------------------------------

TOTAL = 20_000


def line(n: int) -> str:
    return f"<38>Nov 28 12:{n // 60 % 60:02d}:{n % 60:02d} host3 gen[1]: load seq={n}\n"


def generate(path: Path, done: threading.Event) -> None:
    for start in range(0, TOTAL, 400):
        with path.open("a") as handle:
            handle.write("".join(line(n) for n in range(start, start + 400)))
        if start == TOTAL // 2:
            path.rename(path.with_name("load.log.1"))  # rotated mid-stream too
        time.sleep(0.04)
    done.set()


def start_watch(config: Path, store: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-c", "from carewarden.cli.main import app; app()",
         "watch", "--config", str(config), "--store", str(store), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )  # fmt: skip


def test_kill_9_then_restart_stores_every_event_once(tmp_path: Path) -> None:
    log = tmp_path / "load.log"
    log.touch()
    config = tmp_path / "watch.yaml"
    config.write_text(
        "files:\n  - {path: load.log, kind: syslog}\n"
        "batch: {max_records: 700, max_seconds: 0.05}\ndetect_every_seconds: 0\n"
    )
    store = tmp_path / "store"
    done = threading.Event()
    generator = threading.Thread(target=generate, args=(log, done))
    proc = start_watch(config, store)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("watching")
    generator.start()
    batches = 0
    while batches < 4:
        out = proc.stdout.readline()
        assert out, "watch exited early"
        batches += "batch:" in out
    assert not done.is_set(), "the load ended before the kill: nothing was tested"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    with Store.open(store, read_only=True) as opened:
        before = seqs(opened)
    assert 0 < len(before) < TOTAL
    assert before == list(range(len(before)))  # a prefix, in order

    # restarted: live while the load goes on, then SIGTERM commits the rest and exits 0
    proc = start_watch(config, store)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("watching")
    generator.join(30)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    with Store.open(store, read_only=True) as opened:
        assert seqs(opened) == list(range(TOTAL))
        assert opened.query("SELECT count(*) FROM security_event")[0][0] == TOTAL


def test_store_held_by_another_writer_is_refused_clearly(tmp_path: Path) -> None:
    config = tmp_path / "watch.yaml"
    config.write_text("files: []\ndetect_every_seconds: 0\n")
    with Store.open(tmp_path / "store"):  # as `carewarden serve` would hold it
        proc = start_watch(config, tmp_path / "store", "--once")
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "held for writing by another Carewarden process" in " ".join(out.split())
    assert "Traceback" not in out
