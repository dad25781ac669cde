"""A file's batches are freed as they are written, not kept until its transaction ends."""

from __future__ import annotations

import pyarrow as pa

from carewarden.store import Store


def _events(start: int, count: int) -> pa.Table:
    ids = range(start, start + count)
    return pa.table(
        {
            "event_uid": pa.array([f"test:{i}" for i in ids]),
            "time": pa.array([1_760_000_000_000_000 + i for i in ids], pa.timestamp("us")),
            "channel": pa.array(["test"] * count),
            "class_uid": pa.array([4001] * count, pa.int32()),
            "raw": pa.array([f'{{"n": {i}, "padding": "{"x" * 200}"}}' for i in ids]),
        }
    )


def test_written_batches_are_freed_before_the_commit(store: Store) -> None:
    """Arrow memory stays at about one batch however many a transaction writes: a table
    registered with DuckDB stays referenced until the transaction ends, so the store reads
    each batch as a stream it copies."""
    batch_rows, batches = 20_000, 8
    sizes = []
    with store.transaction():
        for n in range(batches):
            rows = _events(n * batch_rows, batch_rows)
            one_batch = rows.nbytes
            assert store.write("security_event", rows, "test-file") == (batch_rows, 0)
            del rows
            sizes.append(pa.total_allocated_bytes())
    assert max(sizes) < 2 * one_batch, (sizes, one_batch)
    assert store.query("SELECT count(*) FROM security_event") == [(batch_rows * batches,)]


def test_a_batch_overlapping_another_file_skips_the_events_already_stored(store: Store) -> None:
    """The time range of a batch is taken from the batch itself; events of another file in
    that range are found and skipped, new ones written."""
    with store.transaction():
        assert store.write("security_event", _events(0, 100), "first") == (100, 0)
    with store.transaction():
        assert store.write("security_event", _events(50, 100), "second") == (50, 50)
    assert store.query("SELECT count(DISTINCT event_uid), count(*) FROM security_event") == [
        (150, 150)
    ]
