"""Bounded thread pipelines: order kept, memory bounded, exceptions where they belong,
early stops that leave no thread behind."""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from carewarden.pipeline import PARSE_NICENESS, ordered_map, read_ahead


def _slow_square(n: int) -> int:
    time.sleep(random.Random(n).random() / 500)  # finish out of order
    return n * n


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_ordered_map_keeps_the_input_order(threads: int) -> None:
    out = list(ordered_map(_slow_square, range(60), threads=threads))
    assert out == [(n, n * n) for n in range(60)]


def test_ordered_map_runs_at_most_threads_plus_one_ahead() -> None:
    taken = 0
    most_ahead = 0

    def items() -> Iterator[int]:
        nonlocal taken
        for n in range(40):
            taken += 1
            yield n

    for n, _ in ordered_map(_slow_square, items(), threads=3):
        most_ahead = max(most_ahead, taken - (n + 1))
    assert most_ahead <= 3


def test_ordered_map_raises_at_the_failing_item() -> None:
    def work(n: int) -> int:
        if n == 5:
            raise ValueError("bad item 5")
        return n

    seen: list[int] = []
    with pytest.raises(ValueError, match="bad item 5"):
        for n, _ in ordered_map(work, range(20), threads=2):
            seen.append(n)
    assert seen == [0, 1, 2, 3, 4]


def test_ordered_map_closed_early_starts_nothing_more() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> int:
        with lock:
            started.append(n)
        return n

    results = ordered_map(work, range(1000), threads=2)
    assert [next(results)[0] for _ in range(3)] == [0, 1, 2]
    results.close()
    assert len(started) <= 6


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is Linux's")
def test_ordered_map_works_below_the_callers_priority() -> None:
    """The parse threads yield the CPU to the thread they feed (the store's writer)."""

    def niceness(_: int) -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    mine = niceness(0)
    seen = {n for _, n in ordered_map(niceness, range(8), threads=2)}
    assert seen == {min(19, mine + PARSE_NICENESS)}
    assert niceness(0) == mine, "the caller's own priority is left as it was"


def test_read_ahead_keeps_order_and_overlaps() -> None:
    producer_threads: set[str] = set()

    def items() -> Iterator[int]:
        for n in range(50):
            producer_threads.add(threading.current_thread().name)
            yield n

    assert list(read_ahead(items(), depth=2)) == list(range(50))
    assert producer_threads == {"carewarden-read-ahead"}


def test_read_ahead_raises_after_the_items_before_the_error() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise OSError("disk gone")

    seen: list[int] = []
    with pytest.raises(OSError, match="disk gone"):
        for n in read_ahead(items()):
            seen.append(n)
    assert seen == [1, 2]


def test_read_ahead_stops_and_closes_the_producer_when_the_consumer_fails() -> None:
    closed = threading.Event()
    produced = 0

    def items() -> Iterator[int]:
        nonlocal produced
        try:
            for n in range(10_000):
                produced += 1
                yield n
        finally:
            closed.set()

    before = threading.active_count()
    with pytest.raises(RuntimeError):
        for n in read_ahead(items(), depth=1):
            if n == 3:
                raise RuntimeError("write failed")
    assert closed.is_set()
    assert produced <= 7  # bounded by the depth, not the input
    assert threading.active_count() == before


def test_read_ahead_with_weights_runs_ahead_by_the_weight_not_the_count() -> None:
    """Weighed items (rows of a batch) are produced ahead up to ``depth`` in weight, one item
    at least even when it alone weighs more."""
    produced: list[int] = []
    ahead: list[int] = []

    def items() -> Iterator[int]:
        for weight in [10, 10, 10, 10, 50, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]:
            produced.append(weight)
            yield weight

    consumed = 0
    for weight in read_ahead(items(), depth=25, weigh=lambda w: w):
        time.sleep(0.01)  # a slow consumer: the producer fills what it may
        consumed += weight
        ahead.append(sum(produced) - consumed)
    assert consumed == sum(produced) == 105
    # Queued: at most 25 in weight, or one heavier item; plus the one waiting to be queued.
    # (Counted in items, 25 of them would be all 105 at once.)
    assert ahead[0] <= 25 + 10
    assert max(ahead) <= 25 + 50
