"""The server's hold on the store: one writable DuckDB database per process (DuckDB admits
one writing process), a cursor per request, writes serialised by one lock, and a generation
number that every write bumps so cached reads know when they are stale.

Other Carewarden commands cannot open the store while the server holds it: they hand their
work to the server (``carewarden detect`` does, through :mod:`carewarden.web.jobs`) or tell
the user that the server holds it.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import orjson

from carewarden.services import audit
from carewarden.store import Store

AUDIT_FLUSH_SECONDS = 0.02
SERVER_FILE = "serve.json"  # beside the database while a server holds the store
T = TypeVar("T")


class StoreHub:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._root = Store.open(path)
        self._write = threading.RLock()
        self.generation = 0
        self.local_secret = secrets.token_urlsafe(32)
        self._cache: dict[Any, tuple[int, float, Any]] = {}
        self._pending: list[tuple[str, str, str | None, dict[str, Any] | None]] = []
        self._pending_lock = threading.Condition()
        self._flushing = threading.Lock()  # one flush at a time, so flush() waits for another
        self._closing = False
        self._workers: list[threading.Thread] = []
        self._flusher = threading.Thread(target=self._flush_loop, name="audit", daemon=True)
        self._flusher.start()

    def background(self, target: Callable[[], None], name: str) -> None:
        """Run ``target`` on a thread of its own that :meth:`close` waits for: work on the
        store (a detection job) finishes before the database closes under it."""
        worker = threading.Thread(target=target, name=name, daemon=True)
        self._workers = [w for w in self._workers if w.is_alive()] + [worker]
        worker.start()

    def close(self) -> None:
        for worker in self._workers:
            worker.join()
        with self._pending_lock:
            self._closing = True
            self._pending_lock.notify()
        self._flusher.join(10)
        self.flush()
        self.withdraw()
        self._root.close()

    # -- the server file: how other commands find the server ------------------------------
    def announce(self, url: str) -> None:
        """Write ``serve.json`` (mode 0600): the server's URL and a secret that lets a local
        process that can read the store folder hand it work."""
        target = self.path / SERVER_FILE
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps({"pid": os.getpid(), "url": url, "secret": self.local_secret}))

    def withdraw(self) -> None:
        (self.path / SERVER_FILE).unlink(missing_ok=True)

    # -- reading and writing ---------------------------------------------------------------
    @contextmanager
    def reader(self) -> Iterator[Store]:
        store = self._root.cursor()
        try:
            yield store
        finally:
            store.close()

    def write(self, work: Callable[[Store], T]) -> T:
        """Run ``work`` (which opens its own transactions, as the services do) under the
        write lock; retried when a concurrent detection run made a transaction conflict."""
        with self._write:
            for attempt in range(5):
                try:
                    with self.reader() as store:
                        result = work(store)
                    self.generation += 1
                    return result
                except duckdb.TransactionException:
                    if attempt == 4:
                        raise
                    time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def bump(self) -> None:
        self.generation += 1

    @contextmanager
    def writing(self) -> Iterator[Store]:
        """A cursor for work that opens its own transactions, under the write lock; cached
        reads are stale afterwards (the live watcher commits its batches through this)."""
        with self._write, self.reader() as store:
            try:
                yield store
            finally:
                self.generation += 1

    def peek(self, key: Any, ttl: float = 300.0) -> tuple[bool, Any]:
        """(True, value) when :meth:`cached` holds a fresh value for ``key``, else (False,
        None): lets an async route answer from the cache without a worker thread."""
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.generation and time.monotonic() - hit[1] < ttl:
            return True, hit[2]
        return False, None

    def cached(self, key: Any, compute: Callable[[], T], ttl: float = 300.0) -> T:
        """``compute()``, reused while no write happened (and for at most ``ttl`` seconds)."""
        fresh, value = self.peek(key, ttl)
        if fresh:
            found: T = value
            return found
        now = time.monotonic()
        value = compute()
        if len(self._cache) > 2048:
            self._cache.clear()
        self._cache[key] = (self.generation, now, value)
        return value

    def audit(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Queue a record for the audit log; the records of concurrent requests are chained
        and committed together within :data:`AUDIT_FLUSH_SECONDS` (group commit)."""
        with self._pending_lock:
            self._pending.append((actor, action, target, detail))
            self._pending_lock.notify()

    def flush(self) -> None:
        """Write every queued audit record now; returns once they are committed (also those
        a concurrent flush had taken)."""
        with self._flushing:
            with self._pending_lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                with self._write, self.reader() as store:
                    audit.record_many(store, batch)
            except BaseException:
                with self._pending_lock:  # kept, in order, for the next flush
                    self._pending[:0] = batch
                raise

    def _flush_loop(self) -> None:
        while True:
            with self._pending_lock:
                while not self._pending and not self._closing:
                    self._pending_lock.wait()
                if self._closing:
                    return
            time.sleep(AUDIT_FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:  # logged; the records stay queued for the next try
                logging.getLogger("carewarden.web").exception("audit flush failed")
