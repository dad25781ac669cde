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
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

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


def ordered_map(
    work: Callable[[T], R], items: Iterable[T], threads: int = PARSE_THREADS
) -> Generator[tuple[T, R], None, None]:
    """``(item, work(item))`` for each item, in the items' order, computed on ``threads``
    threads with at most ``threads + 1`` items in flight (memory bounded by the items'
    size, not their number). An exception of ``work`` is raised here, at its item; closing
    the iterator early cancels what has not started and waits for what has."""
    if threads <= 1:
        for item in items:
            yield item, work(item)
        return
    pending: deque[tuple[T, Future[R]]] = deque()
    with ThreadPoolExecutor(threads, thread_name_prefix="carewarden-parse") as pool:
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
) -> Generator[T, None, None]:
    """``items``, produced on a thread of their own up to ``depth`` items ahead of the
    consumer, so that producing the next item overlaps consuming this one; with ``weigh``,
    up to items weighing ``depth`` in all (always one item, whatever its weight). An
    exception of the producer is raised here, after the items it produced before it.
    Closing this iterator early (or an exception in the consumer) stops the producer at its
    next item and closes ``items`` on the producer's thread."""
    buffer: deque[tuple[T | BaseException | _End, int]] = deque()
    held = 0  # the weight in the buffer
    stopped = False
    changed = threading.Condition()

    def offer(value: T | BaseException | _End, weight: int) -> bool:
        nonlocal held
        with changed:
            while buffer and held + weight > depth and not stopped:
                changed.wait()
            if stopped:
                return False
            buffer.append((value, weight))
            held += weight
            changed.notify_all()
            return True

    def take() -> T | BaseException | _End:
        nonlocal held
        with changed:
            while not buffer:
                changed.wait()
            value, weight = buffer.popleft()
            held -= weight
            changed.notify_all()
            return value

    def produce() -> None:
        try:
            for item in items:
                if not offer(item, 1 if weigh is None else weigh(item)):
                    break
            else:
                offer(_END, 0)
        except BaseException as exc:  # handed to the consumer, raised there
            offer(exc, 0)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    producer = threading.Thread(target=produce, name="carewarden-read-ahead", daemon=True)
    producer.start()
    try:
        while True:
            value = take()
            if isinstance(value, _End):
                return
            if isinstance(value, BaseException):
                raise value
            yield value
    finally:
        with changed:
            stopped = True
            changed.notify_all()
        producer.join()
