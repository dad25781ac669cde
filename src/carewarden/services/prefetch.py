"""Run a producer (a connector's parse) in a background thread, ahead of its consumer.

Parsing (numpy framing, DuckDB's JSON reader, file reads) releases the GIL, so on two cores
parsing the next block while the store writes the previous one makes ingest about a third
faster (bench/ingest.py). The queue is bounded: memory stays at ``depth`` items.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(source: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield ``source``'s items, produced by a background thread at most ``depth`` ahead.

    An exception in the producer is re-raised in the consumer; when the consumer stops
    early (an error while writing), the producer is told to stop and is joined.
    """
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not put(item):
                    return
        except BaseException as exc:
            put(_Failure(exc))
            return
        put(_DONE)

    worker = threading.Thread(target=produce, name="carewarden-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
        close = getattr(source, "close", None)
        if close is not None and not worker.is_alive():
            close()
