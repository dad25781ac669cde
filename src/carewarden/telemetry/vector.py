"""Column-wise building blocks of the network connectors' fast path: a block of records is
read into Arrow in one call and its ``security_event`` columns computed with
``pyarrow.compute``, following the same rules as the per-line path (``network.text``,
``network.integer``, ``network.iso_time``). Anything these helpers cannot reproduce
exactly makes them answer None, and the block is then read line by line."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from carewarden.telemetry.ocsf import OcsfClass
from carewarden.telemetry.rows import SCHEMA

__all__ = ["pc"]

Thunk = Callable[[], pa.Array]

# The ISO-8601 forms that Arrow's cast and ``network.iso_time`` read alike; any other form
# (a space for the T, more than 6 fraction digits, a leap second…) takes the per-line path.
_ISO = (
    r"^([1-9]\d{3}|0[1-9]\d\d|00[1-9]\d|000[1-9])-\d\d-\d\dT([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?$"
)
_ZONE = r"(Z|[+-]\d\d:?\d\d)$"


def read_json(data: bytes, schema: pa.Schema, lines: int) -> pa.Table | None:
    """The fields of ``schema`` of one JSON object per line (others ignored); None where a
    line is no JSON object, a field has another type, or the rows are not one per line."""
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        table = pj.read_json(
            pa.BufferReader(data),  # zero-copy, where a BytesIO is read through Python
            read_options=pj.ReadOptions(use_threads=False, block_size=len(data) + 1),
            parse_options=options,
        )
    except (pa.ArrowException, UnicodeDecodeError, ValueError):
        return None
    if table.num_rows != lines:
        return None
    return table.combine_chunks()


def _array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks()
    return column


def all_true(mask: pa.Array | pa.ChunkedArray) -> bool:
    return bool(pc.all(pc.fill_null(mask, False)).as_py())


def count_true(mask: pa.Array | pa.ChunkedArray) -> int:
    return int(pc.sum(pc.fill_null(mask, False).cast(pa.int64())).as_py() or 0)


def iso_times(column: pa.Array | pa.ChunkedArray) -> pa.Array | None:
    """ISO-8601 texts as naive UTC (``iso_time``); None where one is missing or of a form
    left to the per-line path."""
    if column.null_count or not all_true(pc.match_substring_regex(column, _ISO)):
        return None
    zoned = pc.match_substring_regex(column, _ZONE)
    if not all_true(zoned):
        column = pc.if_else(zoned, column, pc.binary_join_element_wise(column, "Z", ""))
    try:
        moments = pc.cast(column, pa.timestamp("us", tz="UTC"))
    except pa.ArrowInvalid:
        return None
    return _array(moments.cast(pa.timestamp("us")))


def field_of(table: pa.Table) -> Callable[..., pa.Array]:
    """A getter of a (nested) field: ``field("http", "hostname")``."""

    def get(*path: str) -> pa.Array:
        value = _array(table[path[0]])
        for name in path[1:]:
            value = pc.struct_field(value, name)
        return value

    return get


class Kinds:
    """The kind (event type) of each row: ``kinds(name)`` is the ``kind == name`` mask, None
    where no row is of that kind."""

    def __init__(self, kind: pa.Array | pa.ChunkedArray) -> None:
        self.column = _array(kind)
        self.present: set[str] = set(pc.unique(self.column).to_pylist())
        self._masks: dict[str, pa.Array | None] = {}

    def __call__(self, name: str) -> pa.Array | None:
        if name not in self._masks:
            present = name in self.present
            self._masks[name] = _array(pc.equal(self.column, name)) if present else None
        return self._masks[name]


def text(column: pa.Array) -> pa.Array:
    """``network.text`` of a string or integer column: empty text is null."""
    if pa.types.is_string(column.type):
        empty = pc.equal(column, "")
        if not pc.any(empty).as_py():
            return column
        return pc.if_else(empty, pa.scalar(None, pa.string()), column)
    return pc.cast(column, pa.string())


def coalesce(*columns: pa.Array) -> pa.Array:
    return pc.coalesce(*columns)


def epoch_micros(seconds: pa.Array) -> pa.Array | None:
    """Epoch seconds as microseconds, rounded as ``datetime.fromtimestamp`` rounds them
    (the fraction times 10^6, half to even); None where one is missing, negative or past
    2106 (left to the per-line path)."""
    if seconds.null_count or not all_true(
        pc.and_(pc.greater_equal(seconds, 0.0), pc.less(seconds, float(1 << 32)))
    ):
        return None
    whole = pc.floor(seconds)
    fraction = pc.round(pc.multiply(pc.subtract(seconds, whole), 1e6), round_mode="half_to_even")
    return pc.add(
        pc.multiply(pc.cast(whole, pa.int64()), 1_000_000), pc.cast(fraction, pa.int64())
    )


def first_of_list(lists: pa.Array) -> pa.Array:
    """Each list's first element (null for a null or empty list)."""
    if lists.null_count == len(lists):
        return pa.nulls(len(lists), lists.type.value_type)
    filled = pc.fill_null(pc.greater(pc.list_value_length(lists), 0), True)
    if not all_true(filled):
        lists = pc.if_else(filled, lists, pa.scalar(None, lists.type))
    return pc.list_element(lists, 0)


def first_of(lists: pa.Array, name: str) -> pa.Array:
    """Field ``name`` of each list's first element (null for a null or empty list)."""
    element = lists.type.value_type.field(name).type
    if lists.null_count == len(lists):
        return pa.nulls(len(lists), element)
    filled = pc.fill_null(pc.greater(pc.list_value_length(lists), 0), True)
    if not all_true(filled):  # empty lists: null, not an index error
        lists = pc.if_else(filled, lists, pa.scalar(None, lists.type))
    return pc.struct_field(pc.list_element(lists, 0), name)


def choose(
    kinds: Kinds,
    by_kind: Mapping[str, Thunk],
    default: pa.Array | None = None,
    type_: pa.DataType = pa.string(),
) -> pa.Array | None:
    """Per row, the column of its kind, else ``default`` (null where None): one
    ``pyarrow.compute.choose`` over the kinds present."""
    present = [name for name in by_kind if kinds(name) is not None]
    if not present:
        return default
    values = [by_kind[name]().cast(type_) for name in present]
    rows = len(values[0])
    fallback = default.cast(type_) if default is not None else pa.nulls(rows, type_)
    which = pc.index_in(kinds.column, value_set=pa.array(present, pa.string()))
    which = pc.fill_null(which, len(present))
    return _array(pc.choose(which, *values, fallback))


def pick(which: pa.Array, values: list[pa.Array | None], type_: pa.DataType) -> pa.Array | None:
    """Per row, ``values[which]`` (None in ``values``: null); None where all are None."""
    if all(v is None for v in values):
        return None
    if all(v is values[0] for v in values[1:]):  # one column for every kind: no choosing
        return _array(values[0]).cast(type_)
    rows = len(which)
    filled = [pa.nulls(rows, type_) if v is None else v.cast(type_) for v in values]
    if len(filled) == 1:
        return filled[0]
    return _array(pc.choose(which, *filled))


def int32_or_null(column: pa.Array) -> pa.Array:
    """``network.integer(value, 32)``: null out of range."""
    fits = pc.and_(
        pc.greater_equal(column, -(1 << 31)), pc.less(column, 1 << 31)
    )
    return pc.if_else(pc.fill_null(fits, False), column, pa.scalar(None, column.type)).cast(
        pa.int32()
    )


def classes(
    kind: pa.Array | pa.ChunkedArray, known: Mapping[str, OcsfClass], default: OcsfClass
) -> tuple[pa.Array, pa.Array]:
    """The OCSF class uid and name per row, by kind."""
    names = list(known)
    index = pc.index_in(kind, value_set=pa.array(names, pa.string()))
    uids = pc.take(pa.array([known[n].uid for n in names], pa.int32()), index)
    labels = pc.take(pa.array([known[n].name for n in names], pa.string()), index)
    return (
        _array(pc.fill_null(uids, default.uid)),
        _array(pc.fill_null(labels, default.name)),
    )


def event_table(
    *,
    uid: pa.Array,
    time: pa.Array,
    host: pa.Array | None,
    channel: str,
    provider: pa.Array | pa.ChunkedArray,
    classes: tuple[pa.Array, pa.Array],
    event_id: pa.Array | None,
    record_id: pa.Array | None,
    columns: Mapping[str, pa.Array | None],
    raw: pa.Array,
) -> pa.Table:
    """A ``security_event`` batch from its columns (those not given are null)."""
    rows = len(uid)
    given: dict[str, pa.Array | pa.ChunkedArray | None] = {
        "event_uid": uid,
        "time": time,
        "host": host,
        "channel": pa.repeat(channel, rows),
        "provider": provider,
        "event_id": event_id,
        "record_id": record_id,
        "class_uid": classes[0],
        "class_name": classes[1],
        **columns,
        "raw": raw,
    }
    arrays = []
    for schema_field in SCHEMA:
        value = given.get(schema_field.name)
        if value is None:
            arrays.append(pa.nulls(rows, schema_field.type))
        else:
            arrays.append(_array(value).cast(schema_field.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)
