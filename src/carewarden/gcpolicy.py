"""Garbage-collector settings for bulk work.

Parsing a batch of events allocates millions of small dicts and strings that hold no
cycles: reference counting frees them. CPython's cyclic collector still runs every 700
allocations and walks the young objects, and its older generations walk the whole growing
batch again and again. Measured on the Sigma pipeline (``bench/sigma.py``'s worker, EVTX
attack corpus): about 8 µs of 50 per event. During bulk work the first generation's threshold
is raised (cycles are still collected, less often); the previous settings come back after.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BULK_THRESHOLDS = (50_000, 20, 100)


@contextmanager
def bulk_allocation() -> Iterator[None]:
    """Run the block with the collector's bulk thresholds."""
    previous = gc.get_threshold()
    gc.set_threshold(*BULK_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
