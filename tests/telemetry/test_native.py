"""The compiled helpers of the network connectors (``telemetry/_native.c``) give exactly what
the ``blake3`` package and the numpy search give: the record ids, and whether a block holds a
non-standard JSON number. Both code paths are checked, since an install without a C compiler
takes the other one."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import orjson
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
        assert (
            compiled[0].as_py() == "suricata:" + blake3(column[0].as_py().encode()).hexdigest()[:32]
        )


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


# json_keep_keys: lines of JSON with only the members a reader asks for.

_SPEC: network.KeepSpec = (
    (b"a", None),
    (b"b", ((b"x", None), (b"y", ((b"z", None),)))),
    (b"long_key_name_", None),
)


def _trimmed(value: Any, spec: network.KeepSpec | None) -> Any:
    """What the trim keeps of a parsed value (the specification, in Python)."""
    if spec is None:
        return value
    if isinstance(value, dict):
        kept = dict(spec)
        return {k: _trimmed(v, kept[k.encode()]) for k, v in value.items() if k.encode() in kept}
    if isinstance(value, list):
        return [_trimmed(v, spec) for v in value]
    return value


_KEYS = st.sampled_from(["a", "b", "x", "y", "z", "long_key_name_", "long_key_name_2", "c", "é"])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=12,
)
_OBJECTS = st.dictionaries(_KEYS, _VALUES, max_size=6)
# Text spliced into a line: JSON's syntax, what orjson refuses, what only the trim refuses.
_SPLICES = st.sampled_from(
    [b" ", b"\t", b",", b":", b"{", b"}", b"[", b"]", b'"', b"\\", b"\\u", b"\\ud800",
     b"\\uDC00", b"\\x", b"\x01", b"\x7f", b"\xc3\xa9", b"\xff", b"1e400", b"01", b"-",
     b"1234567890123456789012", b".5", b"1.", b"1e123", b"tru", b"nul", b"NaN", b"\r",
     b"\x0b", b"\x00", b'"a":1', b'"b":{', b',"a":'],
)  # fmt: skip


@st.composite
def _lines(draw: st.DrawFn) -> bytes:
    line = orjson.dumps(draw(_OBJECTS))
    if draw(st.booleans()):  # blanks between tokens, as some writers put them
        line = line.replace(b":", b": ").replace(b",", b" ,\t")
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(line)))
        cut = draw(st.integers(0, 2))
        line = line[:at] + draw(_SPLICES) + line[at + cut :]
    return line.replace(b"\n", b"")


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@needs_native
@settings(max_examples=1500, deadline=None)
@given(st.lists(_lines(), min_size=1, max_size=6), st.booleans())
def test_a_trimmed_line_was_json_orjson_reads_and_keeps_what_the_spec_asks(
    lines: list[bytes], last_line_end: bool
) -> None:
    """Differential, against orjson (the per-line path): a line the trim changes was valid
    JSON for orjson, and its trim holds exactly the members the spec keeps; a line it does
    not vouch for is left as it was. (Bytes that are not UTF-8 are the caller's to find:
    such a block is read line by line.)"""
    assert network.native is not None
    data = b"\n".join(lines) + (b"\n" if last_line_end else b"")
    out = network.native.json_keep_keys(data, _SPEC)
    assert out.count(b"\n") == data.count(b"\n")
    for line, kept in zip(lines, out.split(b"\n"), strict=False):
        if kept == line or not _utf8(line):
            continue
        parsed = orjson.loads(line)  # raises where the trim vouched for what orjson refuses
        assert orjson.loads(kept) == _trimmed(parsed, _SPEC)


@needs_native
@pytest.mark.parametrize(
    "line",
    [
        b'{"a":"\\ud83d\\ude00","c":1}',  # surrogate escapes, even paired
        b'{"\\u0061":1,"c":1}',  # an escaped key
        b'{"a":1,"c":12345678901234567890}',  # a number orjson reads as a float
        b'{"a":1,"c":1e100}',  # a three-digit exponent
        b'{"a":1,"c":"\x1f"}',  # a control character
        b'{"a":1,"c":' + b"[" * 70 + b"]" * 70 + b"}",  # deeper than 64
        b'{"a":1,\r"c":1}',  # whitespace other than spaces and tabs
        b'{"a":1,"c":1} x',  # text after the object
        b'[{"a":1,"c":1}]',  # not an object
        b'{"a":1,"c":NaN}',
        b'{"a":1,"c":[1,]}',
    ],
)
def test_a_line_the_trim_does_not_vouch_for_is_kept_whole(line: bytes) -> None:
    assert network.native is not None
    assert network.native.json_keep_keys(line + b"\n" + line, _SPEC) == line + b"\n" + line


@needs_native
def test_the_trim_keeps_nested_members_and_the_objects_of_lists() -> None:
    assert network.native is not None
    line = (
        b'{ "c": {"a": 1}, "a" :\t[1, {"x": 2}], "b": {"x": {"q": 1}, "w": 2, '
        b'"y": [{"z": "\xc3\xa9", "q": [true, null]}, 3, {}]}, "long_key_name_": -0.5e-7}'
    )
    assert network.native.json_keep_keys(line, _SPEC) == (
        b'{"a":[1, {"x": 2}],"b":{"x":{"q": 1},"y":[{"z":"\xc3\xa9"},3,{}]},'
        b'"long_key_name_":-0.5e-7}'
    )


@needs_native
def test_the_trim_refuses_a_spec_of_another_shape() -> None:
    assert network.native is not None
    for spec in ([(b"a", None)], ((b"a",),), (("a", None),), ((b"a", [(b"x", None)]),)):
        with pytest.raises(TypeError, match="spec"):
            network.native.json_keep_keys(b"{}", spec)  # type: ignore[arg-type]


def test_only_long_lines_are_trimmed_for_the_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Below TRIM_FROM_BYTES a line on average the trim costs more than it saves; without
    the compiled helpers there is no trim."""
    short = network.Block(1, 0, b'{"a":1,"c":2}\n{"a":3,"c":4}\n')
    assert network.json_for_reader(short, 2, _SPEC) is short.data
    monkeypatch.setattr(network, "TRIM_FROM_BYTES", 10)
    expected = b'{"a":1}\n{"a":3}\n' if network.native is not None else short.data
    assert network.json_for_reader(short, 2, _SPEC) == expected
    monkeypatch.setattr(network, "native", None)
    assert network.json_for_reader(short, 2, _SPEC) is short.data


def test_the_keep_spec_follows_the_reader_schema() -> None:
    schema = pa.schema(
        [
            ("a", pa.string()),
            ("b", pa.struct([("x", pa.int64()), ("q", pa.list_(pa.struct([("r", pa.string())])))])),
            ("c", pa.list_(pa.string())),
        ]
    )
    assert network.keep_spec(schema) == (
        (b"a", None),
        (b"b", ((b"x", None), (b"q", ((b"r", None),)))),
        (b"c", None),
    )


# json_columns: the columns of a reader's schema read by the compiled scan must be the ones
# pyarrow's JSON reader gives, or None (the reader is then asked).
_COLUMNS_SCHEMA = pa.schema(
    [
        ("a", pa.string()),
        ("n", pa.int64()),
        (
            "b",
            pa.struct(
                [
                    ("x", pa.string()),
                    ("y", pa.list_(pa.struct([("z", pa.string()), ("k", pa.int64())]))),
                ]
            ),
        ),
        ("long_key_name_", pa.string()),
    ]
)
_COLUMNS_SPEC = network.column_spec(_COLUMNS_SCHEMA)
_COLUMN_KEYS = st.sampled_from(
    ["a", "n", "b", "x", "y", "z", "k", "long_key_name_", "long_key_name_2", "c", "é"]
)
_COLUMN_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_COLUMN_KEYS, inner, max_size=4)
    ),
    max_leaves=12,
)
# Escapes the scan decodes or refuses, and what the trim's fuzz splices in.
_COLUMN_SPLICES = st.one_of(
    _SPLICES,
    st.sampled_from([b"\\u00e9", b"\\u20AC", b"\\u0041", b"\\/", b"\\n", b"\\u0000", b"-0"]),
)


_TEXT_OR_NULL = st.one_of(st.none(), st.text(max_size=12))
_INT_OR_NULL = st.one_of(st.none(), st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1))
# Objects of the schema's types, with members it does not read: most of these blocks are read.
_TYPED_OBJECTS = st.fixed_dictionaries(
    {},
    optional={
        "a": _TEXT_OR_NULL,
        "n": _INT_OR_NULL,
        "c": _COLUMN_VALUES,
        "long_key_name_": _TEXT_OR_NULL,
        "b": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {},
                optional={
                    "x": _TEXT_OR_NULL,
                    "c": _COLUMN_VALUES,
                    "y": st.one_of(
                        st.none(),
                        st.lists(
                            st.one_of(
                                st.none(),
                                st.fixed_dictionaries(
                                    {},
                                    optional={
                                        "z": _TEXT_OR_NULL,
                                        "k": _INT_OR_NULL,
                                        "c": _COLUMN_VALUES,
                                    },
                                ),
                            ),
                            max_size=3,
                        ),
                    ),
                },
            ),
        ),
    },
)


@st.composite
def _column_lines(draw: st.DrawFn) -> bytes:
    objects = st.one_of(_TYPED_OBJECTS, st.dictionaries(_COLUMN_KEYS, _COLUMN_VALUES, max_size=6))
    line = orjson.dumps(draw(objects))
    if draw(st.booleans()):
        line = line.replace(b":", b": ").replace(b",", b" ,\t")
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 1, 2]))):  # most lines left whole
        at = draw(st.integers(0, len(line)))
        cut = draw(st.integers(0, 2))
        line = line[:at] + draw(_COLUMN_SPLICES) + line[at + cut :]
    return line.replace(b"\n", b"")


def _reader_columns(data: bytes, lines: int) -> pa.Table | None:
    from carewarden.telemetry import vector

    return vector.read_json(data, _COLUMNS_SCHEMA, lines)


def _assert_same_columns(left: pa.Table, right: pa.Table) -> None:
    assert left.schema == right.schema
    for name in right.column_names:
        mine, theirs = left[name].combine_chunks(), right[name].combine_chunks()
        assert mine.equals(theirs), name
        assert mine.to_pylist() == theirs.to_pylist(), name
        if pa.types.is_struct(mine.type):  # the children too, as pc.struct_field reads them
            for child in mine.type:
                assert pa.compute.struct_field(mine, child.name).equals(
                    pa.compute.struct_field(theirs, child.name)
                ), (name, child.name)


@needs_native
@settings(max_examples=1500, deadline=None)
@given(st.lists(_column_lines(), min_size=1, max_size=6), st.booleans())
def test_the_compiled_columns_are_the_json_readers(lines: list[bytes], last_line_end: bool) -> None:
    """Differential, against pyarrow's JSON reader: where the scan gives columns, the reader
    gives the same ones; where the reader refuses the block, the scan gives none. (Bytes
    that are not UTF-8 outside the columns are the caller's to find, as for the trim.)"""
    data = b"\n".join(lines) + (b"\n" if last_line_end else b"")
    if not _utf8(data) or any(not line.strip(b" \t") for line in lines):
        return
    block = network.Block(1, 0, data)
    mine = network.json_columns(block, len(lines), _COLUMNS_SCHEMA, _COLUMNS_SPEC)
    theirs = _reader_columns(data, len(lines))
    if mine is not None:
        assert theirs is not None
        _assert_same_columns(mine, theirs)


_EVERY_SHAPE = [
    b'{"a":"plain","n":-42,"b":{"x":"\\u00e9\\u20ac\\n\\"\\\\\\/","y":[{"z":"q","k":0}]},'
    b'"long_key_name_":"\xc3\xa9"}',
    b'{"c":{"deep":[1,{"x":[true,false,null]}]},"b":null,"a":null,"n":null}',
    b'{"b":{"y":[null,{},{"z":null,"k":7,"other":[1.5e-3]}],"x":"x"},"a":"","n":0}',
    b'{"b":{"y":[]},"n":-0}',
    b'{"b":{},"long_key_name_2":"not this one","long_key_name_":"this one"}',
    b"{}",
    b'  { "a" :\t"spaced" , "n" : 123456789012345678 }  ',
]


@needs_native
def test_the_compiled_columns_read_every_shape_of_value() -> None:
    data = b"\n".join(_EVERY_SHAPE) + b"\n"
    mine = network.json_columns(
        network.Block(1, 0, data), len(_EVERY_SHAPE), _COLUMNS_SCHEMA, _COLUMNS_SPEC
    )
    theirs = _reader_columns(data, len(_EVERY_SHAPE))
    assert mine is not None and theirs is not None
    _assert_same_columns(mine, theirs)
    assert mine["b"].to_pylist()[2]["y"] == [None, {"z": None, "k": None}, {"z": None, "k": 7}]
    assert mine["b"].to_pylist()[0]["x"] == 'é€\n"\\/'


@needs_native
@pytest.mark.parametrize(
    "line",
    [
        b'{"n":1.0}',  # a fraction where an integer is asked for
        b'{"n":1e3}',
        b'{"n":1234567890123456789}',  # over 18 digits
        b'{"n":01}',  # a leading zero
        b'{"n":-}',
        b'{"n":"1"}',  # text where an integer is asked for
        b'{"a":1}',  # a number where text is asked for
        b'{"a":true}',
        b'{"b":"x"}',  # text where an object is asked for
        b'{"b":{"y":{}}}',  # an object where a list is asked for
        b'{"b":{"y":[1]}}',  # a list of numbers where objects are asked for
        b'{"a":"x","a":"y"}',  # a kept key twice
        b'{"a":"\\u0000"}',
        b'{"a":"\\ud83d\\ude00"}',  # surrogate escapes (left to the reader, as in the trim)
        b'{"\\u0061":"x"}',  # an escaped key
        b'{"a":"x"} x',  # text after the object
        b'[{"a":"x"}]',  # not an object
        b'{"a":"x",\r"n":1}',
        b'{"c":NaN}',
        b'{"a":"x"',  # cut short
    ],
)
def test_the_compiled_columns_leave_to_the_reader_what_they_cannot_vouch_for(
    line: bytes,
) -> None:
    good = b'{"a":"fine"}'
    data = good + b"\n" + line + b"\n" + good + b"\n"
    assert (
        network.json_columns(network.Block(1, 0, data), 3, _COLUMNS_SCHEMA, _COLUMNS_SPEC) is None
    )


@needs_native
def test_the_compiled_columns_leave_utf8_to_the_block_and_refuse_a_wrong_row_count() -> None:
    """Text that is not UTF-8 is found once, by the check of the whole block (raw_column),
    and such a block is read line by line."""
    from carewarden.telemetry import suricata

    line = b'{"event_type":"alert","timestamp":"2026-03-01T10:00:00Z","host":"\xff"}'
    block = network.Block(1, 0, line + b"\n")
    assert network.json_columns(block, 1, suricata.EVE_FIELDS, suricata.EVE_COLUMNS) is not None
    with pytest.raises(pa.ArrowInvalid):
        network.raw_column(block, np.array([len(line)]))
    assert suricata.block_rows(block) is None
    block = network.Block(1, 0, b'{"a":"x"}\n{"a":"y"}\n')
    assert network.json_columns(block, 3, _COLUMNS_SCHEMA, _COLUMNS_SPEC) is None
    assert network.json_columns(block, 2, _COLUMNS_SCHEMA, _COLUMNS_SPEC) is not None


def test_the_compiled_columns_read_only_the_types_they_know(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _COLUMNS_SPEC == (
        (b"a", 0, None),
        (b"n", 1, None),
        (b"b", 2, ((b"x", 0, None), (b"y", 3, ((b"z", 0, None), (b"k", 1, None))))),
        (b"long_key_name_", 0, None),
    )
    for other in (pa.float64(), pa.bool_(), pa.list_(pa.string()), pa.struct([("f", pa.int32())])):
        assert network.column_spec(pa.schema([("a", pa.string()), ("o", other)])) is None
    monkeypatch.setattr(network, "native", None)
    block = network.Block(1, 0, b'{"a":"x"}\n')
    assert network.json_columns(block, 1, _COLUMNS_SCHEMA, _COLUMNS_SPEC) is None


@needs_native
def test_the_compiled_columns_refuse_a_spec_of_another_shape() -> None:
    assert network.native is not None
    for spec in (
        [(b"a", 0, None)],
        ((b"a", 0),),
        (("a", 0, None),),
        ((b"a", 9, None),),
        ((b"a", 2, None),),  # an object without its members
        ((b"a", 0, ((b"x", 0, None),)),),  # text with members
        tuple((bytes([65 + i % 26, i]), 0, None) for i in range(65)),  # over 64 members
    ):
        with pytest.raises(TypeError, match="spec"):
            network.native.json_columns(b"{}", spec)  # type: ignore[arg-type]


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000).map(lambda b: b.replace(b"\x0b", b"\n")), st.data())
def test_the_compiled_line_feeds_are_numpys(data: bytes, draw: st.DataObject) -> None:
    end = draw.draw(st.integers(0, len(data)))
    found = network._newlines(data, end)
    assert found.dtype == np.int64
    assert found.tolist() == network._newlines_numpy(data, end).tolist()


@needs_native
def test_the_compiled_line_feeds_refuse_an_end_outside_the_data() -> None:
    assert network.native is not None
    for end in (-1, 4):
        with pytest.raises(ValueError, match="outside"):
            network.native.line_feeds(b"a\nb", end)
