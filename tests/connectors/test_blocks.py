"""Line framing: every line comes back once, with its number and byte offset."""

from __future__ import annotations

import io

from hypothesis import example, given, settings
from hypothesis import strategies as st

from carewarden.connectors.blocks import iter_line_blocks


def _frame(data: bytes, block: int, limit: int) -> tuple[list[tuple[int, int, str | None]], list]:
    lines: list[tuple[int, int, str | None]] = []
    rejected = []
    for b in iter_line_blocks(io.BytesIO(data), limit, block_bytes=block):
        rejected += b.rejected
        lines += list(
            zip(
                b.table["line"].to_pylist(),
                b.table["byte_offset"].to_pylist(),
                b.table["text"].to_pylist(),
                strict=True,
            )
        )
    return lines, rejected


def _expected(data: bytes) -> list[tuple[int, int, bytes]]:
    out = []
    offset = 0
    parts = data.split(b"\n")
    for number, part in enumerate(parts, start=1):
        last = number == len(parts)
        if last and not part:
            break
        raw = part if last else part + b"\n"
        out.append((number, offset, raw))
        offset += len(raw)
    return out


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=400)
    | st.lists(
        st.sampled_from([b"{}", b"abc", b"", b"\r", b"\xff", b"x" * 40, "é".encode()]), max_size=30
    ).map(b"\n".join),
    block=st.integers(min_value=1, max_value=64),
    limit=st.integers(min_value=1, max_value=50),
)
@example(data=b"a\nbb\n", block=1, limit=1)
@example(data=b"\x00" * 13 + b"\r", block=1, limit=13)
@example(data=b"\x00" * 12 + b"\x80\r", block=1, limit=13)
@example(data=b"x" * 100 + b"\nok", block=7, limit=10)
def test_framing_matches_a_plain_split(data: bytes, block: int, limit: int) -> None:
    """Whatever the bytes, block size and line limit: each line appears exactly once, either as
    text (valid UTF-8, within the limit) or as a rejection, with the right number and offset."""
    lines, rejected = _frame(data, block, limit)
    seen = {n: (o, t) for n, o, t in lines if t is not None}
    refused = {r.line: r for r in rejected}
    for number, offset, raw in _expected(data):
        too_long = len(raw.rstrip(b"\n").rstrip(b"\r")) > limit
        try:
            text = raw.decode("utf-8")
            valid = True
        except UnicodeDecodeError:
            valid = False
        if too_long:
            assert number in refused and "exceeds" in refused[number].error
            assert refused[number].byte_offset == offset
        elif not valid:
            assert number in refused and "UTF-8" in refused[number].error
        else:
            assert seen[number] == (offset, text)
    assert len(seen) + len(refused) == len(_expected(data))
