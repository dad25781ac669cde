"""Evaluating compiled Sigma rules over batches of flat events (Windows, Linux, network).

For each batch, events are grouped by (channel, event id); each route (a log source, see
:mod:`carewarden.sigma.logsources`) takes the groups of its sources into one Arrow table
holding only the columns its rules read: lower-cased (``"f:…"``) and, where a rule needs
them, as written (``"r:…"``). A rule never sees events outside its log source.

Within a route, each rule's anchors (:mod:`carewarden.sigma.anchors`) pick its candidate
events: exact values and file names by hash look-up (Arrow ``index_in``), contained texts
by one Aho-Corasick pass per field. Each rule's full condition is then evaluated on its
candidates only, as the compiled Python expression of :mod:`carewarden.sigma.pybackend`.
The few rules without anchors run as DuckDB SQL on every event of their route, all of a
route's in one query (a view prepared once). Memory is that of one batch.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick_rs
import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from carewarden.sigma.backend import ALL_FIELD, column
from carewarden.sigma.compiler import CompiledRule
from carewarden.sigma.logsources import ANY, NOT_WINDOWS, Source, sources
from carewarden.sigma.pybackend import Predicate, compile_predicate
from carewarden.telemetry.winevent import WinEvent

GroupKey = tuple[str, int | None]
# Up to this many (row, rule) evaluations, rules without anchors run as Python expressions;
# beyond, as one DuckDB query. Measured: a query costs ~2 ms however few its rows, a Python
# predicate 1-5 µs per row (these rules are the costly ones: NOT of long lists, regexes).
PYTHON_ROWS = 1_000
_ids = itertools.count()


@dataclass(frozen=True, slots=True)
class Match:
    rule: CompiledRule
    event: int  # index of the event in the evaluated batch


class _Targets:
    """Key number -> the rules anchored on that key, as flat arrays (CSR), so that the
    (rule, row) pairs of many found keys are expanded by numpy, not per key in Python."""

    def __init__(self, targets: list[list[int]]) -> None:
        counts = np.array([len(t) for t in targets], np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.rules = np.array([r for t in targets for r in t], np.int64)

    def expand(self, keys: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rules, rows): each (key, row) pair once per rule anchored on the key."""
        starts = self.offsets[keys]
        counts = self.offsets[keys + 1] - starts
        total = int(counts.sum())
        if total == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        ends = np.cumsum(counts)
        index = np.repeat(starts - (ends - counts), counts) + np.arange(total)
        return self.rules[index], np.repeat(rows, counts)


class _Index:
    """The anchors of a route's rules, by kind and field."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        exact: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        contained: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for number, rule in enumerate(rules):
            for kind, field, value in rule.anchors or ():
                if kind == "c":
                    contained[field][value].append(number)
                else:
                    exact[(kind, field)][value].append(number)
        self.exact = {
            key: (pa.array(list(values), pa.string()), _Targets(list(values.values())))
            for key, values in exact.items()
        }
        self.contained = {
            field: (
                ahocorasick_rs.BytesAhoCorasick([text.encode() for text in values]),
                _Targets(list(values.values())),
            )
            for field, values in contained.items()
        }

    def candidates(self, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """(rule number, row) pairs, each once, of the rows that hold an anchor key."""
        found_rules: list[np.ndarray] = []
        found_rows: list[np.ndarray] = []
        for (kind, field), (keys, targets) in self.exact.items():
            values = table.column(column(field)[1:-1])
            if kind == "b":
                values = pc.replace_substring_regex(values, r"^.*\\", "")
            found = pc.index_in(values, value_set=keys)
            positions = pc.indices_nonzero(pc.is_valid(found))
            if len(positions) == 0:
                continue
            key_numbers = pc.take(found, positions).to_numpy().astype(np.int64)
            rules, rows = targets.expand(key_numbers, positions.to_numpy().astype(np.int64))
            found_rules.append(rules)
            found_rows.append(rows)
        for field, (automaton, targets) in self.contained.items():
            keys, rows = _contained(table.column(column(field)[1:-1]), automaton)
            if len(keys):
                rules, rows = targets.expand(keys, rows)
                found_rules.append(rules)
                found_rows.append(rows)
        if not found_rules:
            return np.empty(0, np.int32), np.empty(0, np.int32)
        codes = np.unique(np.concatenate(found_rules) << 32 | np.concatenate(found_rows))
        return (codes >> 32).astype(np.int32), (codes & 0xFFFFFFFF).astype(np.int32)


def _contained(
    values: pa.ChunkedArray, automaton: ahocorasick_rs.BytesAhoCorasick
) -> tuple[np.ndarray, np.ndarray]:
    """(anchor number, row) of every anchor text found in a column's values. The automaton
    reads the column's UTF-8 data buffer as one text, in place (one call per column, no
    Python string per value); a match's row comes from the column's offsets, and a match
    that spans two values is dropped."""
    array = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if len(array) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    width = np.int64 if array.type == pa.large_string() else np.int32
    _validity, offsets_buffer, data = array.buffers()
    if data is None or data.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    offsets = np.frombuffer(offsets_buffer, width)[array.offset : array.offset + len(array) + 1]
    haystack: Any = np.frombuffer(data, np.uint8)  # a buffer of u8 (numpy's stubs lack it)
    matches = automaton.find_matches_as_indexes(haystack, overlapping=True)
    if not matches:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    found = np.array(matches, np.int64)
    first = np.searchsorted(offsets, found[:, 1], side="right") - 1
    last = np.searchsorted(offsets, found[:, 2] - 1, side="right") - 1
    inside = (first == last) & (first >= 0) & (first < len(array))
    return found[inside, 0], first[inside]


class Route:
    """The rules of one log source, the table layout they read and the view that runs them."""

    def __init__(self, key: str, rules: list[CompiledRule], con: duckdb.DuckDBPyConnection):
        self.key = key
        self.rules = rules
        self.sources: tuple[Source, ...] = sources(key) if key != ANY else ()
        columns: set[tuple[str, bool]] = set()
        for rule in rules:
            columns.update(rule.columns)
            # An anchor reads the lower-cased value, which a regular expression alone does not.
            columns.update((field, False) for _kind, field, _value in rule.anchors or ())
        self.columns = sorted(columns)
        self.con = con
        number = next(_ids)
        self.route_name = f"_sigma_route_{number}"
        self.predicates: list[Predicate | None] = [
            compile_predicate(r.python, r.patterns) if r.python else None for r in rules
        ]
        anchored = [
            r.anchors is not None and p is not None
            for r, p in zip(rules, self.predicates, strict=True)
        ]
        self.index = _Index(
            [r if a else _unanchored(r) for r, a in zip(rules, anchored, strict=True)]
        )
        # Rules without anchors: Python on every row of a small batch (live mode's
        # micro-batches), DuckDB on a large one (see PYTHON_ROWS).
        self.everywhere = [n for n, a in enumerate(anchored) if not a]
        self.python_everywhere = np.array(
            [n for n in self.everywhere if self.predicates[n] is not None], np.int32
        )
        self.views: dict[bool, str | None] = {}
        con.register(self.route_name, self._layout([], 0))
        for python_ok in (False, True):
            parts = [
                f"SELECT {n} AS _r, _i FROM {self.route_name} WHERE {rules[n].condition}"
                for n in self.everywhere
                if not (python_ok and self.predicates[n] is not None)
            ]
            view = f"_sigma_eval_{number}_{int(python_ok)}"
            self.views[python_ok] = view if parts else None
            if parts:
                con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {' UNION ALL '.join(parts)}")

    def _layout(self, arrays: list[pa.Array], rows: int) -> pa.Table:
        names = [column(f, raw)[1:-1].replace('""', '"') for f, raw in self.columns]
        if not arrays:
            arrays = [pa.nulls(rows, pa.string()) for _ in names]
        return pa.Table.from_arrays(
            [pa.array(np.arange(rows, dtype=np.int32)), *arrays], names=["_i", *names]
        )

    def groups(
        self, grouped: dict[GroupKey, list[int]]
    ) -> list[tuple[Source | None, GroupKey, list[int]]]:
        """(source, group, event indexes) for each group of the batch this route reads."""
        if not self.sources:
            return [
                (None, key, indexes)
                for key, indexes in grouped.items()
                if key[0] not in NOT_WINDOWS
            ]
        out: list[tuple[Source | None, GroupKey, list[int]]] = []
        for source in self.sources:
            for key, indexes in grouped.items():
                if source.takes(*key):
                    out.append((source, key, indexes))
        return out

    def table(self, batch: EventBatch) -> tuple[list[int], pa.Table] | None:
        """The route's events of this batch as one table of the columns its rules read."""
        events = batch.events
        selected: list[int] = []
        # One list per field, read once even where rules need it both as written and
        # lower-cased (the lower-cased column is computed from the other, in Arrow).
        values: dict[str, list[str | None]] = {f: [] for f, _raw in self.columns}
        for source, key, indexes in self.groups(batch.grouped):
            if source is not None and source.where is not None:
                name, allowed = source.where
                indexes = [i for i in indexes if events[i].fields.get(name) in allowed]
                names = _resolver(events, indexes)  # of the events kept, not the whole group
            else:
                names = batch.names(key)
            if not indexes:
                continue
            selected.extend(indexes)
            mapping = source.fields if source is not None else {}
            for field, out in values.items():
                lower = field.lower()
                if lower == ALL_FIELD:
                    out.extend(batch.all_text(indexes))
                    continue
                actual = mapping.get(lower) or names.get(lower)
                if actual is None:
                    out.extend(itertools.repeat(None, len(indexes)))
                elif isinstance(actual, str):
                    out.extend([events[i].fields.get(actual) for i in indexes])
                else:  # several names: the first the event holds
                    out.extend([_first(events[i].fields, actual) for i in indexes])
        if not selected:
            return None
        written = {field: pa.array(data, pa.string()) for field, data in values.items()}
        arrays = [
            written[field] if raw else pc.utf8_lower(written[field]) for field, raw in self.columns
        ]
        return selected, self._layout(arrays, len(selected))

    def evaluate(self, table: pa.Table) -> list[tuple[int, int]]:
        """(rule number, row) of every match in the route's table."""
        found: list[tuple[int, int]] = []
        rules, rows = self.index.candidates(table)
        small = table.num_rows * len(self.everywhere) <= PYTHON_ROWS
        everywhere = self.python_everywhere
        if small and len(everywhere):
            rules = np.concatenate([rules, np.repeat(everywhere, table.num_rows)])
            rows = np.concatenate(
                [rows, np.tile(np.arange(table.num_rows, dtype=np.int32), len(everywhere))]
            )
        if len(rows):
            # The predicates read Python values: convert only the candidate rows.
            mask = np.zeros(table.num_rows, np.bool_)
            mask[rows] = True
            wanted = np.flatnonzero(mask)
            if len(wanted) < table.num_rows:
                candidates = table.take(wanted)
                local = (np.cumsum(mask) - 1)[rows]
            else:
                candidates, local = table, rows
            columns = _Columns(candidates)
            predicates = self.predicates
            for rule, row, at in zip(rules.tolist(), rows.tolist(), local.tolist(), strict=True):
                predicate = predicates[rule]
                if predicate is not None and predicate(columns, at):
                    found.append((rule, row))
        view = self.views[small]
        if view is not None:
            self.con.register(self.route_name, table)
            result = self.con.sql(f"SELECT _r, _i FROM {view}").to_arrow_table()
            found.extend(
                zip(result.column("_r").to_pylist(), result.column("_i").to_pylist(), strict=True)
            )
        return found


def _unanchored(rule: CompiledRule) -> CompiledRule:
    return CompiledRule(rule.rule_id, rule.title, rule.kind, rule.path, anchors=None)


def _first(fields: dict[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = fields.get(name)
        if value is not None:
            return value
    return None


class _Columns(dict[str, list[str | None]]):
    """A table's columns as Python lists, each converted when a predicate first reads it
    (a rule reads a few of its route's columns)."""

    def __init__(self, table: pa.Table) -> None:
        super().__init__()
        self.table = table

    def __missing__(self, name: str) -> list[str | None]:
        values: list[str | None] = self.table.column(name).to_pylist()
        self[name] = values
        return values


def _resolver(events: Sequence[WinEvent], indexes: list[int]) -> dict[str, str]:
    """Lower-case field name -> the name the events of one group use."""
    names: set[str] = set()
    for i in indexes:
        names.update(events[i].fields)
    return {name.lower(): name for name in sorted(names, reverse=True)}


class EventBatch:
    """A batch of events grouped by (channel, event id), with what several routes would
    otherwise each compute again: each group's field names, each event's text of all
    values (the ``_all`` field of keyword rules)."""

    def __init__(self, events: Sequence[WinEvent]) -> None:
        self.events = events
        self.grouped: dict[GroupKey, list[int]] = defaultdict(list)
        for index, event in enumerate(events):
            self.grouped[(event.channel, event.event_id)].append(index)
        self._names: dict[GroupKey, dict[str, str]] = {}
        self._all: dict[int, str] = {}

    def names(self, key: GroupKey) -> dict[str, str]:
        found = self._names.get(key)
        if found is None:
            found = self._names[key] = _resolver(self.events, self.grouped[key])
        return found

    def all_text(self, indexes: list[int]) -> list[str]:
        cache, events = self._all, self.events
        out: list[str] = []
        for i in indexes:
            text = cache.get(i)
            if text is None:
                text = cache[i] = "\n".join(events[i].fields.values())
            out.append(text)
        return out


class SigmaEngine:
    """Compiled rules, routed; :meth:`evaluate` returns the matches in a batch of events."""

    def __init__(
        self, rules: Iterable[CompiledRule], con: duckdb.DuckDBPyConnection | None = None
    ) -> None:
        by_route: dict[str, list[CompiledRule]] = defaultdict(list)
        for rule in rules:
            if rule.ok and rule.kind == "rule" and rule.route and rule.condition:
                by_route[rule.route].append(rule)
        self.con = con or duckdb.connect()
        self.con.execute("SET enable_progress_bar = false")
        self.routes = [Route(key, by_route[key], self.con) for key in sorted(by_route)]
        self.events_routed = 0

    @property
    def rule_count(self) -> int:
        return sum(len(r.rules) for r in self.routes)

    def evaluate(self, events: Sequence[WinEvent]) -> list[Match]:
        batch = EventBatch(events)
        matches: list[Match] = []
        for route in self.routes:
            built = route.table(batch)
            if built is None:
                continue
            selected, table = built
            self.events_routed += len(selected)
            for rule, row in route.evaluate(table):
                matches.append(Match(route.rules[rule], selected[row]))
        return matches
