"""What the network-sensor connectors (Suricata, Zeek) share: reading a file line by line with
line numbers, times, and building ``security_event`` rows.

Network rows use the same normalised columns as Windows events; ``dns_query`` also holds the
HTTP host or TLS server name, ``file_path`` the file name, HTTP URI or certificate subject,
``status`` the action, response code or state, and ``threat_name`` the alert signature or
Zeek notice."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

import numpy as np
import pyarrow as pa
from blake3 import blake3

from carewarden.connectors.base import MAX_RECORD_BYTES, open_binary
from carewarden.model import Rejected, preview
from carewarden.telemetry.ocsf import OcsfClass

# What ``json_keep_keys`` keeps of a JSON object: its wanted keys, each with what to keep of
# its value (None: all of it).
KeepSpec = tuple[tuple[bytes, "KeepSpec | None"], ...]
# What json_columns reads of each member: (name, kind, the members of an object or of a
# list's objects); kinds as _native.c numbers them.
ColumnSpec = tuple[tuple[bytes, int, "ColumnSpec | None"], ...]
ColumnBuffers = list[tuple[bytes, bytes | None, bytes | None]]


class Native(Protocol):
    """The compiled helpers (``_native.c``): all run without the GIL."""

    def digests(self, data: memoryview | bytes, offsets: np.ndarray, out: np.ndarray) -> None:
        """BLAKE3 (16 bytes) of each record of up to 1 KiB, written to ``out``."""

    def json_nonstandard_number(self, data: bytes) -> bool:
        """:func:`_json_nan_or_infinity`."""

    def json_keep_keys(self, data: bytes, spec: KeepSpec) -> bytes:
        """:func:`json_for_reader`: each line with only what ``spec`` keeps."""

    def json_columns(self, data: bytes, spec: ColumnSpec) -> tuple[int, ColumnBuffers] | None:
        """:func:`json_columns`: the buffers of the columns ``spec`` asks for."""

    def line_feeds(self, data: bytes, end: int) -> bytes:
        """:func:`_newlines`, as native int64s."""


def _load_native() -> Native | None:
    """The compiled helpers, None where the install found no C compiler (setup.py): the
    same work is then done in Python and numpy, with the same results, slower."""
    try:
        from carewarden.telemetry import _native
    except ImportError:  # pragma: no cover - depends on the install
        return None
    return _native


native = _load_native()
BATCH_RECORD_BYTES = 1024  # one BLAKE3 chunk: the longest record native.digests hashes

_OFFSET = re.compile(r"([+-]\d\d)(\d\d)$")
_FRACTION = re.compile(r"\.(\d{7,})")


def lines(path: Path) -> Iterator[tuple[int, bytes] | Rejected]:
    """(line number, bytes without the line end) per non-blank line; a line over 1 MiB is
    rejected and skipped."""
    with open_binary(path) as handle:
        yield from _lines(handle)


def _lines(handle: BinaryIO) -> Iterator[tuple[int, bytes] | Rejected]:
    number = 0
    offset = 0
    while True:
        line = handle.readline(MAX_RECORD_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_RECORD_BYTES:
            yield Rejected(number, offset, "record larger than 1 MiB", preview(line))
            while line and not line.endswith(b"\n"):
                offset += len(line)
                line = handle.readline(MAX_RECORD_BYTES)
        else:
            text = line.rstrip(b"\r\n")
            if text.strip():
                yield number, text
        offset += len(line)


BLOCK_BYTES = 4 << 20
_NEWLINE = 10


@dataclass(frozen=True)
class Block:
    """Whole lines of a file (the last one may lack its line end at the end of the file)."""

    number: int  # the line number of the first line
    offset: int  # the byte offset of the first line
    data: bytes
    # The offset of each line feed in ``data``, where the reader found them already.
    newlines: np.ndarray | None = field(default=None, compare=False, repr=False)

    def lines(self) -> Iterator[tuple[int, bytes] | Rejected]:
        """The block line by line, numbered in its file, as :func:`lines` gives them."""
        shift = self.number - 1
        for item in _lines(io.BytesIO(self.data)):
            if isinstance(item, Rejected):
                at = None if item.byte_offset is None else item.byte_offset + self.offset
                yield Rejected(
                    None if item.line is None else item.line + shift, at, item.error, item.raw
                )
            else:
                yield item[0] + shift, item[1]

    def with_lf_line_ends(self) -> Block:
        """The block with each CRLF line end as LF (a file written on Windows), for the
        column-wise readers; the block itself where it holds no carriage return. The lines
        are those the per-line path reads (it strips the line end): where a carriage return
        is left, elsewhere than before a line feed, :meth:`line_ends` refuses the block as
        before. Only the column-wise readers use it: the per-line path keeps the block as
        read, whose byte offsets a rejected line reports."""
        if b"\r" not in self.data:
            return self
        return Block(self.number, self.offset, self.data.replace(b"\r\n", b"\n"))

    def line_ends(self, json: bool = True) -> np.ndarray | None:
        """The end offset of each line, when every one is non-blank, under 1 MiB and
        without a carriage return (and, for ``json``, the block is free of the non-standard
        JSON numbers ``NaN``/``Inf``/``Infinity``, which the column-wise readers accept and
        ``orjson`` refuses); None otherwise: the block is to be read line by line."""
        data = self.data
        if b"\r" in data:
            return None
        if json and _json_nan_or_infinity(data):
            return None
        ends = self.newlines if self.newlines is not None else _newlines(data, len(data))
        if not data.endswith(b"\n"):
            ends = np.append(ends, len(data))
        if not len(ends):
            return None
        lengths = np.diff(ends, prepend=-1) - 1
        if int(lengths.min()) == 0 or int(lengths.max()) >= MAX_RECORD_BYTES:
            return None
        return ends


# The bytes around a JSON value.
_COLON, _COMMA, _BRACKET, _MINUS, _SPACE, _TAB = b":,[- \t"


def _json_nan_or_infinity(data: bytes) -> bool:
    """Whether ``data`` may hold one of the non-standard JSON numbers ``NaN``, ``Inf`` or
    ``Infinity``, signed or not, as a value (after ``:``, ``,`` or ``[`` and any spaces):
    Arrow's JSON reader accepts them, in the fields it skips too, and ``orjson`` refuses
    them. The compiled search looks outside strings only; the numpy one takes such text in
    a string too (a community id ``"1:Inf…"``, one in 130,000), a false alarm that only
    sends the block line by line."""
    if native is None:
        return _json_nan_or_infinity_numpy(data)
    return native.json_nonstandard_number(data)


def _json_nan_or_infinity_numpy(data: bytes) -> bool:
    """:func:`_json_nan_or_infinity` where the compiled helpers are not built.

    Several times faster than a regular expression: the last two bytes of ``NaN`` and of
    ``Inf`` are looked for with numpy, as one 16-bit number at both alignments (``aN`` and
    ``nf`` are rare in log text, ``Na`` and ``In`` are not), and only where they are, the
    first byte and what comes before it."""
    text = np.frombuffer(data, dtype=np.uint8)
    for word in (b"NaN", b"Inf"):
        starts = _pairs(data, word[1:]) - 1
        starts = starts[starts >= 0]
        before = starts[text[starts] == word[0]] - 1
        before = before[before >= 0]
        before[text[before] == _MINUS] -= 1
        before = before[before >= 0]
        while len(before):
            blank = (text[before] == _SPACE) | (text[before] == _TAB)
            if not blank.any():
                break
            before[blank] -= 1
            before = before[before >= 0]
        found = text[before]
        if ((found == _COLON) | (found == _COMMA) | (found == _BRACKET)).any():
            return True
    return False


def _pairs(data: bytes, pair: bytes) -> np.ndarray:
    """Where the two bytes ``pair`` occur in ``data``."""
    key = int.from_bytes(pair, "little")
    found = []
    for shift in (0, 1):
        count = (len(data) - shift) // 2
        if count <= 0:
            continue
        hits = np.frombuffer(data, dtype="<u2", count=count, offset=shift) == key
        if hits.any():
            found.append(np.flatnonzero(hits) * 2 + shift)
    return np.concatenate(found) if found else np.empty(0, dtype=np.intp)


# JSON lines longer than this on average are trimmed to the fields a reader asks for before
# pyarrow parses them. Measured per record: Suricata 7 EVE (670 bytes, a third of it kept)
# 0.5 us cheaper; compact EVE (275 bytes, most of it kept) 0.1 us dearer.
TRIM_FROM_BYTES = 400


def keep_spec(fields: pa.Schema | pa.StructType) -> KeepSpec:
    """What :func:`json_for_reader` keeps of a JSON object read with ``fields``: nested
    structs keep their own fields, lists their items' (other values whole)."""

    def of(type_: pa.DataType) -> KeepSpec | None:
        if pa.types.is_struct(type_):
            return keep_spec(type_)
        if pa.types.is_list(type_) or pa.types.is_large_list(type_):
            return of(type_.value_type)
        return None

    return tuple((field.name.encode(), of(field.type)) for field in fields)


def json_for_reader(block: Block, lines: int, spec: KeepSpec) -> bytes:
    """The block's JSON lines with only the members ``spec`` keeps, at every level, for
    pyarrow's JSON reader, which tokenizes every byte of a line, the fields it is not asked
    for too. Only where the compiled helpers are built and the lines are long (above), else
    the block as it is. Each line is kept whole where the trim cannot vouch that what it
    would drop is JSON orjson accepts (the trim is stricter than orjson), so the reader
    refuses (and the block goes line by line) exactly where it would have: the rows are
    the same."""
    if native is None or len(block.data) < TRIM_FROM_BYTES * lines:
        return block.data
    return native.json_keep_keys(block.data, spec)


_TEXT, _INT64, _OBJECT, _LIST = range(4)


def column_spec(fields: pa.Schema | pa.StructType) -> ColumnSpec | None:
    """What :func:`json_columns` reads for a reader's schema; None where it has a type
    the compiled scan does not read (text, int64, structs and lists of structs only)."""
    members: list[tuple[bytes, int, ColumnSpec | None]] = []
    for field_ in fields:
        type_, child = field_.type, None
        if pa.types.is_string(type_):
            kind = _TEXT
        elif pa.types.is_int64(type_):
            kind = _INT64
        elif pa.types.is_struct(type_):
            kind, child = _OBJECT, column_spec(type_)
        elif pa.types.is_list(type_) and pa.types.is_struct(type_.value_type):
            kind, child = _LIST, column_spec(type_.value_type)
        else:
            return None
        if kind in (_OBJECT, _LIST) and child is None:
            return None
        members.append((field_.name.encode(), kind, child))
    return tuple(members)


def json_columns(
    block: Block, lines: int, schema: pa.Schema, spec: ColumnSpec | None
) -> pa.Table | None:
    """The columns of ``schema`` (``spec``: its :func:`column_spec`) read from the block's
    JSON lines by the compiled scan, as pyarrow's JSON reader (``vector.read_json``) reads
    them; None where the helpers are not built, the schema has a type the scan does not
    read, or a line holds anything the scan cannot vouch the reader would read the same (the
    caller then asks the reader). The text is not checked to be UTF-8: the caller checks the
    whole block, as :func:`raw_column` does (once, rather than once more per text column)."""
    if native is None or spec is None:
        return None
    found = native.json_columns(block.data, spec)
    if found is None or found[0] != lines:
        return None
    return pa.Table.from_arrays(_columns(schema, iter(found[1]), lines), schema=schema)


def _validity(valid: bytes, rows: int) -> tuple[pa.Buffer | None, int]:
    present = np.frombuffer(valid, dtype=np.uint8)
    nulls = rows - int(np.count_nonzero(present))
    if not nulls:
        return None, 0
    return pa.py_buffer(np.packbits(present, bitorder="little")), nulls


def _columns(
    fields: pa.Schema | pa.StructType,
    buffers: Iterator[tuple[bytes, bytes | None, bytes | None]],
    rows: int,
) -> list[pa.Array]:
    """The arrays of ``fields`` from json_columns' buffers (depth first, as it lists them)."""
    arrays = []
    for field_ in fields:
        valid, offsets, values = next(buffers)
        bitmap, nulls = _validity(valid, rows)
        type_ = field_.type
        if pa.types.is_struct(type_):
            children = _columns(type_, buffers, rows)
            array = pa.StructArray.from_buffers(type_, rows, [bitmap], nulls, children=children)
        elif pa.types.is_list(type_):
            assert offsets is not None and values is not None
            items = int(np.frombuffer(offsets, dtype=np.int32)[-1])
            item_bitmap, item_nulls = _validity(values, items)
            struct = pa.StructArray.from_buffers(
                type_.value_type,
                items,
                [item_bitmap],
                item_nulls,
                children=_columns(type_.value_type, buffers, items),
            )
            array = pa.ListArray.from_buffers(
                type_, rows, [bitmap, pa.py_buffer(offsets)], nulls, children=[struct]
            )
        elif pa.types.is_string(type_):
            assert offsets is not None and values is not None
            array = pa.StringArray.from_buffers(
                rows, pa.py_buffer(offsets), pa.py_buffer(values), bitmap, nulls
            )
        else:
            assert values is not None
            array = pa.Array.from_buffers(type_, rows, [bitmap, pa.py_buffer(values)], nulls)
        arrays.append(array)
    return arrays


def raw_column(block: Block, ends: np.ndarray) -> pa.StringArray:
    """The block's lines (``ends``: from :meth:`Block.line_ends`), without their line ends,
    as one Arrow string column (one copy of the bytes, no Python object per line);
    ArrowInvalid where a line is not UTF-8."""
    data = block.data
    # The block is valid UTF-8 exactly when each of its lines is (a line feed is never
    # part of a multi-byte character): one pass over the block instead of one per line.
    whole = pa.py_buffer(np.array([0, len(data)], dtype=np.int32))
    pa.StringArray.from_buffers(1, whole, pa.py_buffer(data)).validate(full=True)
    count = len(ends)
    # A line holds no line feed and the block holds whole lines, so dropping every line
    # feed leaves the lines back to back (bytes.replace: one C pass, faster than a numpy
    # mask here).
    values = data.replace(b"\n", b"")
    offsets = np.zeros(count + 1, dtype=np.int32)  # a block is far under 2 GiB
    offsets[1:] = ends - np.arange(count)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(values))


def uid_column(prefix: str, records: pa.Array | pa.ChunkedArray) -> pa.StringArray:
    """``prefix:`` and the first 128 bits of each record's BLAKE3 hash in hex, as
    :func:`row` makes the id (``records``: the raw column)."""
    if isinstance(records, pa.ChunkedArray):
        records = records.combine_chunks()
    wide = pa.types.is_large_string(records.type)
    ends = np.frombuffer(records.buffers()[1], dtype=np.int64 if wide else np.int32)[
        records.offset : records.offset + len(records) + 1
    ]
    data = memoryview(records.buffers()[2]) if len(records) else memoryview(b"")
    digests = record_digests(data, ends)
    head = f"{prefix}:".encode()
    width = len(head) + 32
    out = np.empty((len(records), width), dtype=np.uint8)
    out[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    out[:, len(head) :] = np.frombuffer(digests.hex().encode(), dtype=np.uint8).reshape(-1, 32)
    offsets = np.arange(0, (len(records) + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(
        len(records), pa.py_buffer(offsets), pa.py_buffer(out.tobytes())
    )


def record_digests(data: memoryview, ends: np.ndarray) -> bytes:
    """The first 16 bytes of the BLAKE3 hash of each record ``data[ends[i]:ends[i + 1]]``,
    back to back."""
    if native is None:
        return _digests_one_by_one(data, ends.tolist())
    offsets = ends.astype(np.int64)
    out = np.empty(16 * (len(offsets) - 1), dtype=np.uint8)
    native.digests(data, offsets, out)  # the records of up to one BLAKE3 chunk
    for i in np.flatnonzero(np.diff(offsets) > BATCH_RECORD_BYTES).tolist():
        out[16 * i : 16 * i + 16] = np.frombuffer(
            blake3(data[offsets[i] : offsets[i + 1]]).digest(16), dtype=np.uint8
        )
    return out.tobytes()


def _digests_one_by_one(data: memoryview, ends: list[int]) -> bytes:
    # One hasher, reset after each record: a fifth faster than a new hasher per record.
    hasher = blake3()
    update, digest, reset = hasher.update, hasher.digest, hasher.reset
    parts: list[bytes] = []
    for a, b in itertools.pairwise(ends):
        update(data[a:b])
        parts.append(digest(16))
        reset()
    return b"".join(parts)


def _newlines(data: bytes, end: int) -> np.ndarray:
    """The offset of each line feed in ``data[:end]`` (int64)."""
    if native is not None:
        return np.frombuffer(native.line_feeds(data, end), dtype=np.int64)
    return _newlines_numpy(data, end)


def _newlines_numpy(data: bytes, end: int) -> np.ndarray:
    # numpy finds them about twice as fast as bytes.count counts them here.
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8, count=end) == _NEWLINE)


def _fill(handle: io.BufferedIOBase, view: memoryview) -> tuple[int, str | None]:
    """Read into ``view`` up to its size or the end of the file: (bytes read, None), or
    (bytes read before the damage, why) for a damaged or truncated compressed file.

    Read a piece at a time (``readinto1``: one read of a plain file, a few tens of KiB of a
    gzip one), so what came before the damage is kept: one large read loses what it had
    decompressed when it fails."""
    got = 0
    try:
        while got < len(view):
            piece = handle.readinto1(view[got:])
            if not piece:
                break
            got += piece
    except (OSError, EOFError, zlib.error) as exc:
        return got, f"damaged compressed data: {exc}"
    return got, None


def blocks(path: Path, size: int = BLOCK_BYTES) -> Iterator[Block | Rejected]:
    """The file in blocks of whole lines of about ``size`` bytes; a line over 1 MiB that no
    block can hold is rejected and skipped (one within a block is left to
    :meth:`Block.lines`). A damaged or truncated ``.gz`` ends with the lines before the
    damage and one reject for the rest."""
    # The file is read into one reused buffer, and each block copied out of it once: a new
    # bytes object per read, joined to the last read's tail and cut at its last line end,
    # cost three fresh 4 MiB allocations (and their page faults) a block instead of one.
    buffer = bytearray(size)
    view = memoryview(buffer)
    with open_binary(path) as opened:
        handle = cast(io.BufferedIOBase, opened)  # a plain or gzip file: both read into
        number, offset, pending = 1, 0, b""
        while True:
            got, damage = _fill(handle, view)
            cut = buffer.rfind(b"\n", 0, got) + 1
            if cut:
                # The reader finds the line feeds once: the parse needs where they are, and
                # the next block's first line number how many there are.
                data = b"".join((pending, view[:cut]))
                newlines = _newlines(data, len(data))
                yield Block(number, offset, data, newlines)
                number += len(newlines)
                offset += len(data)
                pending = bytes(view[cut:got])
            else:
                pending += view[:got]
            if damage is not None:
                yield Rejected(number, offset, damage, preview(pending) if pending else None)
                return
            if not got:
                if pending:
                    yield Block(number, offset, pending)
                return
            if cut or len(pending) <= MAX_RECORD_BYTES:
                continue
            yield Rejected(number, offset, "record larger than 1 MiB", preview(pending))
            number += 1
            offset += len(pending)
            pending = b""
            while True:
                got, damage = _fill(handle, view)
                end = buffer.find(b"\n", 0, got)
                if end < 0:
                    offset += got
                    if damage is not None:
                        yield Rejected(number, offset, damage, None)
                        return
                    if got:
                        continue
                    return
                offset += end + 1
                # What follows the rejected line: its whole lines make a block, the rest is
                # pending (which never holds a line end).
                rest = bytes(view[end + 1 : got])
                cut = rest.rfind(b"\n") + 1
                if cut:
                    newlines = _newlines(rest, cut)
                    yield Block(number, offset, rest[:cut], newlines)
                    number += len(newlines)
                    offset += cut
                pending = rest[cut:]
                if damage is not None:
                    yield Rejected(number, offset, damage, preview(pending) if pending else None)
                    return
                break


def iso_time(value: object) -> dt.datetime:
    """An ISO-8601 time (``Z``, ``+01:00`` or ``+0100``; none means UTC) as naive UTC."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"time is not a string: {value!r}")
    stamp = _OFFSET.sub(r"\1:\2", value.strip().replace(" ", "T", 1))
    stamp = _FRACTION.sub(lambda m: "." + m.group(1)[:6], stamp)
    parsed = dt.datetime.fromisoformat(stamp)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def epoch_time(value: object) -> dt.datetime:
    """Epoch seconds (a number or its text) as naive UTC; an ISO string is accepted too."""
    if isinstance(value, str) and not _is_number(value):
        return iso_time(value)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"time is not epoch seconds: {value!r}")
    seconds = float(value)
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def text(value: object) -> str | None:
    """A column value as text: None for missing or empty, lists joined with commas."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        joined = ",".join(t for t in (text(v) for v in value) if t)
        return joined or None
    return str(value)


def flatten(doc: dict[str, Any]) -> dict[str, str]:
    """A JSON record as the flat text fields Sigma rules read: nested keys joined with dots
    (``{"id": {"orig_h": …}}`` → ``id.orig_h``), lists of values joined with commas (as
    Zeek writes its sets), a list of objects as one field per key (``dns.answers.rdata``:
    every answer's ``rdata``), booleans as ``true``/``false``; null and empty values left
    out."""
    out: dict[str, str] = {}
    _flatten(doc, "", out)
    return out


def _flatten(node: dict[str, Any], prefix: str, out: dict[str, str]) -> None:
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, name + ".", out)
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            collected: dict[str, list[str]] = {}
            for item in value:
                if isinstance(item, dict):
                    for sub, joined in flatten(item).items():
                        collected.setdefault(sub, []).append(joined)
            for sub, values in collected.items():
                out[f"{name}.{sub}"] = ",".join(values)
        else:
            found = text(value)
            if found is not None:
                out[name] = found


def integer(value: object, bits: int = 64) -> int | None:
    """An integer column value, None when absent or out of range."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    limit = 1 << (bits - 1)
    return number if -limit <= number < limit else None


def row(
    *,
    uid_prefix: str,
    raw: bytes,
    time: dt.datetime,
    host: str | None,
    channel: str,
    provider: str,
    ocsf: OcsfClass,
    event_id: int | None = None,
    record_id: int | None = None,
    columns: dict[str, str | None],
    key: bytes | None = None,
) -> dict[str, object]:
    """One ``security_event`` row; the id is a content hash of the raw record (or of ``key``
    where given), so the same record from two overlapping files is stored once."""
    out: dict[str, object] = {
        "event_uid": f"{uid_prefix}:" + blake3(raw if key is None else key).hexdigest()[:32],
        "time": time,
        "host": host,
        "channel": channel,
        "provider": provider,
        "event_id": event_id,
        "record_id": record_id,
        "class_uid": ocsf.uid,
        "class_name": ocsf.name,
        "raw": raw.decode("utf-8", errors="replace"),
    }
    out.update(columns)
    return out
