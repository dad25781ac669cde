"""`carewarden watch` hosted by the server (`carewarden serve --watch FILE`).

DuckDB admits one writing process and the server holds the store, so the live watcher runs
inside the server: its listeners and file tailing on a thread with an event loop of its own,
each micro-batch committed under the server's write lock (console writes and batches never
interleave), and detection started as a server job every ``detect_every_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from carewarden.services.watch import BatchReport, WatchConfig, Watcher, run_live
from carewarden.web.hub import StoreHub
from carewarden.web.jobs import Jobs

log = logging.getLogger("carewarden.web.watch")


class _HubWatcher(Watcher):
    """A watcher whose batches are committed through the server's hold on the store."""

    def __init__(self, hub: StoreHub, config: WatchConfig) -> None:
        with hub.reader() as store:  # offsets, site zone: read once at start
            super().__init__(store, config, tmp=hub.path / "tmp" / "watch")
        self.hub = hub

    def step(self, messages: list[tuple[str, bytes]], queued: int = 0) -> BatchReport:
        with self.hub.writing() as store:
            self.store = store
            return super().step(messages, queued)


class HostedWatch:
    """Start with :meth:`start`; :meth:`stop` commits what was received and returns."""

    def __init__(self, hub: StoreHub, jobs: Jobs, config: WatchConfig) -> None:
        self.hub = hub
        self.jobs = jobs
        self.config = config
        self.last: BatchReport | None = None
        self.error: str | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="watch", daemon=True)
        self.bound: list[tuple[str, int]] = []

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(30)
        if self.error:
            raise RuntimeError(f"the live watcher did not start: {self.error}")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # logged and shown on start; the console keeps serving
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("live watcher stopped")
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        watcher = _HubWatcher(self.hub, self.config)

        def ready(bound: list[tuple[str, int]]) -> None:
            self.bound = bound
            self._ready.set()

        def status(report: BatchReport) -> None:
            self.last = report

        def detect() -> None:  # a server job: one detection at a time, with the others
            self.jobs.start_detect()

        await run_live(
            watcher,
            self._stop,
            status=status,
            detect=detect if self.config.detect_every_seconds else None,
            ready=ready,
        )
