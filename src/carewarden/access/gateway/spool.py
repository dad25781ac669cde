"""The gateway's audit spool: AuditEvents appended to ``<store>/queue/gateway_audit.ndjson``.

The gateway runs beside ``carewarden ingest`` and ``detect``, which hold the store for
writing, so it never writes the store: it appends each AuditEvent to the spool, and the next
``carewarden detect`` ingests the spool into ``ehr_access`` through the FHIR AuditEvent
connector before running the detections.

Concurrency: appends and the claim take an exclusive ``flock`` on
``queue/gateway_audit.lock`` (and a thread lock within a process), so any number of gateway
processes share one spool. An appender keeps its file open and, under the lock, reopens it
when the spool was claimed (a different inode): no record is written to a file already
claimed. :func:`claim` renames the spool to ``gateway_audit.<time>.draining.ndjson`` under the
lock; the ingest is idempotent (per file content and per event id), so a claimed file whose
ingest was interrupted is simply ingested again by the next run, never twice over.

Durability: each record is written to the file (the kernel's page cache) before the response
is sent, so a gateway crash loses nothing. ``fsync="always"`` also flushes it to disk before
answering; ``"interval"`` (default) flushes every ``interval_s`` from a background thread, so a
power loss may cost the last interval's records (``bench/gateway.py`` measures both).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import orjson

QUEUE_DIR = "queue"
SPOOL = "gateway_audit.ndjson"
LOCK = "gateway_audit.lock"
DRAINING = "gateway_audit.*.draining.ndjson"

FsyncMode = Literal["always", "interval", "never"]


def spool_path(store_path: Path) -> Path:
    return store_path / QUEUE_DIR / SPOOL


@contextmanager
def _flock(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


class AuditSpool:
    """Appends AuditEvents to the spool of ``store_path``."""

    def __init__(self, store_path: Path, fsync: FsyncMode = "interval",
                 interval_s: float = 0.05) -> None:
        self.folder = store_path / QUEUE_DIR
        self.path = self.folder / SPOOL
        self.fsync = fsync
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._dirty = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.written = 0

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if self._lock_fd is None:
                self._lock_fd = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        if self.fsync == "interval" and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._flusher, name="gateway-audit-fsync",
                                            daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.flush()
        with self._lock:
            for fd in (self._fd, self._lock_fd):
                if fd is not None:
                    os.close(fd)
            self._fd = self._lock_fd = None

    def _current_fd(self) -> int:
        """The spool's descriptor, reopened when the file was claimed (called locked)."""
        fd = self._fd
        if fd is not None:
            try:
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)
            self._fd = None
        self.folder.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def append(self, event: dict[str, Any]) -> None:
        """Write one AuditEvent (a line); with ``fsync="always"``, on disk on return."""
        line = orjson.dumps(event) + b"\n"
        if self._lock_fd is None:
            self.start()
        assert self._lock_fd is not None
        with self._lock:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                fd = self._current_fd()
                written = os.write(fd, line)
                while written < len(line):  # a short write (disk nearly full): finish it
                    written += os.write(fd, line[written:])
                if self.fsync == "always":
                    os.fsync(fd)
                else:
                    self._dirty = True
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            self.written += 1

    def flush(self) -> None:
        """Flush the records written so far to disk."""
        with self._lock:
            if not self._dirty or self._fd is None:
                return
            fd = os.dup(self._fd)  # fsync outside the lock: appends go on meanwhile
            self._dirty = False
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _flusher(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.flush()
            except OSError:
                time.sleep(self.interval_s)  # retried at the next interval


def claim(store_path: Path) -> list[Path]:
    """Rename the live spool for ingest and return every claimed file not yet ingested,
    oldest first (a file left by an interrupted run included)."""
    folder = store_path / QUEUE_DIR
    if not folder.exists():
        return []
    live = folder / SPOOL
    with _flock(folder):
        if live.exists() and live.stat().st_size > 0:
            now = time.time_ns()
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 10**9))
            target = folder / f"gateway_audit.{stamp}.{now % 10**9:09d}.draining.ndjson"
            live.rename(target)
    return sorted(folder.glob(DRAINING))
