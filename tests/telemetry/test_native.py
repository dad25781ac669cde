"""The compiled helpers of the network connectors (``telemetry/_native.c``) give exactly what
the ``blake3`` package and the numpy search give: the record ids, and whether a block holds a
non-standard JSON number. Both code paths are checked, since an install without a C compiler
takes the other one."""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pytest
from blake3 import blake3
from hypothesis import given, settings
from hypothesis import strategies as st

from carewarden.telemetry import network

needs_native = pytest.mark.skipif(
    network.native is None, reason="the compiled helpers were not built (no C compiler found)"
)

# Lengths around BLAKE3's 64-byte blocks and its 1,024-byte chunk, where the lanes of a
# group of records end at different blocks, and the longer ones are left to ``blake3``.
_EDGES = [0, 1, 3, 4, 63, 64, 65, 127, 128, 129, 511, 670, 959, 960, 1023, 1024, 1025, 2049]
_RECORDS = st.lists(
    st.one_of(
        st.binary(max_size=200),
        st.sampled_from(_EDGES).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    ),
    max_size=60,
)


def _offsets(records: list[bytes]) -> np.ndarray:
    offsets = np.zeros(len(records) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(r) for r in records])
    return offsets


@needs_native
@settings(max_examples=300, deadline=None)
@given(_RECORDS)
def test_batch_digests_are_blake3_for_records_up_to_a_chunk(records: list[bytes]) -> None:
    assert network.native is not None
    out = np.full(16 * len(records), 0xAB, dtype=np.uint8)
    network.native.digests(b"".join(records), _offsets(records), out)
    for i, record in enumerate(records):
        got = out[16 * i : 16 * i + 16].tobytes()
        if len(record) <= network.BATCH_RECORD_BYTES:
            assert got == blake3(record).digest(16), len(record)
        else:
            assert got == b"\xab" * 16, "a record over one chunk is left to the caller"


@settings(max_examples=100, deadline=None)
@given(_RECORDS)
def test_record_digests_agree_with_and_without_the_compiled_helpers(
    records: list[bytes],
) -> None:
    data = memoryview(b"".join(records))
    ends = _offsets(records).astype(np.int32)
    expected = b"".join(blake3(r).digest(16) for r in records)
    assert network.record_digests(data, ends) == expected
    assert network._digests_one_by_one(data, ends.tolist()) == expected


@needs_native
def test_uid_column_is_the_same_without_the_compiled_helpers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A slice of a column (offsets not starting at 0), large strings, long records."""
    records = [f'{{"n":{n},"pad":"{"x" * (n * 37 % 1500)}"}}' for n in range(500)]
    for column in (pa.array(records).slice(7, 400), pa.array(records, pa.large_string())):
        compiled = network.uid_column("suricata", column)
        monkeypatch.setattr(network, "native", None)
        assert network.uid_column("suricata", column).equals(compiled)
        monkeypatch.undo()
        assert compiled[0].as_py() == "suricata:" + blake3(
            column[0].as_py().encode()
        ).hexdigest()[:32]


@needs_native
def test_batch_digests_run_on_several_threads_at_once() -> None:
    """The parse threads call it together, without the GIL: no shared state."""
    assert network.native is not None
    native = network.native
    rng = np.random.default_rng(7)
    records = [rng.bytes(int(n)) for n in rng.integers(0, 1024, 3000)]
    data, offsets = b"".join(records), _offsets(records)
    expected = b"".join(blake3(r).digest(16) for r in records)
    results: list[bytes] = []

    def work() -> None:
        for _ in range(5):
            out = np.empty(16 * len(records), dtype=np.uint8)
            native.digests(data, offsets, out)
            results.append(out.tobytes())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 20


@needs_native
@pytest.mark.parametrize(
    ("offsets", "out_bytes", "message"),
    [
        ([0, 5, 3], 32, "not increasing"),
        ([0, 4, 99], 32, "not increasing"),
        ([-1, 4], 16, "not increasing"),
        ([0, 4], 15, "16 bytes a record"),
        ([], 0, "one more than the records"),
    ],
)
def test_batch_digests_refuse_offsets_outside_the_data(
    offsets: list[int], out_bytes: int, message: str
) -> None:
    assert network.native is not None
    out = np.zeros(out_bytes, dtype=np.uint8)
    with pytest.raises(ValueError, match=message):
        network.native.digests(b"0123456789", np.array(offsets, dtype=np.int64), out)
    assert not out.any(), "nothing written"


@needs_native
def test_batch_digests_refuse_a_read_only_output() -> None:
    assert network.native is not None
    with pytest.raises(TypeError):
        network.native.digests(b"ab", np.array([0, 2], dtype=np.int64), bytes(16))
