"""Bounded pipelines on threads: results in their input order, never more than a few items
ahead, exceptions raised where the result is consumed.

Threads, not processes: the work they overlap (pyarrow's JSON and CSV readers, its compute
kernels, numpy, DuckDB's insert) runs in native code that releases the GIL, and a thread
shares the Arrow tables it builds without a copy. Measured on 2 cores (bench/telemetry.py):
Suricata EVE blocks parse 1.4x faster on two threads, and a file's rows are written to the
store while its next rows are parsed.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def _usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS tells it, as in a
    container pinned to fewer cores than the host has)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


# Parse threads per reader: the usable cores, at most 4. The Python glue between native
# calls holds the GIL, so more threads would mostly wait (measured on 2 cores only).
PARSE_THREADS = max(1, min(4, _usable_cores()))

# How much lower the parse threads' CPU priority is than their caller's (Linux niceness).
PARSE_NICENESS = 10


def _below_the_caller(niceness: int) -> Callable[[], None]:
    """An initializer that lowers its thread's priority by ``niceness`` below ``caller``'s.

    Why: the parse feeds the store's writer, DuckDB's one thread, which no other thread can
    share. At equal priority, the writer and two parse threads split 2 cores three ways,
    the parse runs ahead and the writer's backlog is left for the end (0.35-0.45 s of a
    500,000-record file's 2.6 s, with one core idle). Below the writer, the parse takes the
    CPU the writer leaves: full-size Suricata EVE into the store 5-8% faster (interleaved
    runs, bench/telemetry.py). Under Linux's autogroup scheduling (the default of the
    common distributions) niceness ranks threads of one session only, not other users'
    work. Linux only: elsewhere a thread id is no process id. A refusal (a sandbox) leaves
    the priority as it is."""
    caller = threading.get_native_id()

    def lower() -> None:
        if sys.platform != "linux":
            return
        try:
            base = os.getpriority(os.PRIO_PROCESS, caller)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, base + niceness))
        except OSError:
            pass

    return lower


def ordered_map(
    work: Callable[[T], R], items: Iterable[T], threads: int = PARSE_THREADS
) -> Generator[tuple[T, R], None, None]:
    """``(item, work(item))`` for each item, in the items' order, computed on ``threads``
    threads with at most ``threads + 1`` items in flight (memory bounded by the items'
    size, not their number), at a lower CPU priority than the caller's (``PARSE_NICENESS``).
    An exception of ``work`` is raised here, at its item; closing the iterator early cancels
    what has not started and waits for what has."""
    if threads <= 1:
        for item in items:
            yield item, work(item)
        return
    pending: deque[tuple[T, Future[R]]] = deque()
    with ThreadPoolExecutor(
        threads,
        thread_name_prefix="carewarden-parse",
        initializer=_below_the_caller(PARSE_NICENESS),
    ) as pool:
        try:
            for item in items:
                pending.append((item, pool.submit(work, item)))
                if len(pending) > threads:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            for _, future in pending:
                future.cancel()


class _End:
    pass


_END = _End()


def read_ahead(
    items: Iterator[T], depth: int = 1, weigh: Callable[[T], int] | None = None
) -> ReadAhead[T]:
    """``items``, produced on a thread of their own up to ``depth`` items ahead of the
    consumer, so that producing the next item overlaps consuming this one; with ``weigh``,
    up to items weighing ``depth`` in all (always one item, whatever its weight). The
    producer starts at once, before the first item is asked for. An exception of the
    producer is raised here, after the items it produced before it. Closing the iterator
    (or dropping it, as when the consumer fails) stops the producer at its next item and
    closes ``items`` on the producer's thread."""
    return ReadAhead(items, depth, weigh)


class ReadAhead(Iterator[T]):
    """The iterator :func:`read_ahead` returns."""

    def __init__(self, items: Iterator[T], depth: int, weigh: Callable[[T], int] | None) -> None:
        self._handoff: _Handoff[T] = _Handoff(depth)
        # The producer holds the handoff, not this object: dropping it stops the producer.
        self._producer = threading.Thread(
            target=_produce,
            args=(self._handoff, items, weigh),
            name="carewarden-read-ahead",
            daemon=True,
        )
        self._producer.start()
        self._ended = False

    def __next__(self) -> T:
        if self._ended:
            raise StopIteration
        value = self._handoff.take()
        if isinstance(value, _End):
            self.close()
            raise StopIteration
        if isinstance(value, BaseException):
            self.close()
            raise value
        return value

    def close(self) -> None:
        """Stop the producer (at its next item) and wait for it."""
        self._ended = True
        self._handoff.stop()
        if self._producer is not threading.current_thread():
            self._producer.join()

    def __del__(self) -> None:
        if not getattr(self, "_ended", True):  # unset: the thread never started
            self.close()


class _Handoff(Generic[T]):
    """Items from the producer to the consumer, up to a weight."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.buffer: deque[tuple[T | BaseException | _End, int]] = deque()
        self.held = 0  # the weight in the buffer
        self.stopped = False
        self.changed = threading.Condition()

    def offer(self, value: T | BaseException | _End, weight: int) -> bool:
        """Queue ``value`` once there is room; False when the consumer has stopped."""
        with self.changed:
            while self.buffer and self.held + weight > self.depth and not self.stopped:
                self.changed.wait()
            if self.stopped:
                return False
            self.buffer.append((value, weight))
            self.held += weight
            self.changed.notify_all()
            return True

    def take(self) -> T | BaseException | _End:
        with self.changed:
            while not self.buffer:
                self.changed.wait()
            value, weight = self.buffer.popleft()
            self.held -= weight
            self.changed.notify_all()
            return value

    def stop(self) -> None:
        with self.changed:
            self.stopped = True
            self.changed.notify_all()


def _produce(handoff: _Handoff[T], items: Iterator[T], weigh: Callable[[T], int] | None) -> None:
    try:
        for item in items:
            if not handoff.offer(item, 1 if weigh is None else weigh(item)):
                break
        else:
            handoff.offer(_END, 0)
    except BaseException as exc:  # handed to the consumer, raised there
        handoff.offer(exc, 0)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()
