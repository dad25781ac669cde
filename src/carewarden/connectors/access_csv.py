"""Flat CSV access-log exports (Epic-, Cerner-style reports) with a YAML column mapping.

The mapping names the source columns that hold each ``ehr_access`` field, the time format
and the time zone the export is written in (times are stored in UTC). Parsing is done by
DuckDB's CSV reader, in memory: it is an order of magnitude faster than Python's ``csv``
module, and its reject log gives the line, byte offset and reason of every malformed row.

Line numbers: DuckDB counts records (the header is record 1), which equals the physical line
unless a quoted field spans several lines.

Event ids: a mapped id column is kept as is. Without one, the id is a hash of the row's
time, user, patient, action and workstation, so that the same row in two overlapping
exports is stored once (and two identical rows in one export are one access).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from carewarden.config import load_yaml_model
from carewarden.connectors.base import MAX_RECORD_BYTES, RetryFile, open_binary, walk
from carewarden.errors import ConfigError, SourceError
from carewarden.model import Batch, Rejected, preview
from carewarden.tables import SCHEMAS

MAPPINGS_DIR = Path(__file__).parent / "mappings"
BATCH_ROWS = 500_000
# A parse error reaches us from DuckDB directly, or wrapped by Arrow's stream reader.
_READ_ERRORS = (duckdb.Error, OSError, pa.ArrowException)
ACTIONS = ("read", "search", "update", "create", "delete", "export", "print", "execute")


class TimeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    column: str
    format: str = Field(description="strftime format, e.g. '%Y-%m-%d %H:%M:%S'")
    timezone: str = Field("UTC", description="IANA zone of naive times, e.g. America/Chicago")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value


class FieldMap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str
    patient: str
    event_id: str | None = None
    action: str | None = None
    outcome: str | None = None
    workstation: str | None = None
    purpose: str | None = None
    reason: str | None = None


class AccessCsvMapping(BaseModel):
    """A column mapping file (YAML). See ``connectors/mappings/*.yaml`` for examples."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    delimiter: str = ","
    quote: str = '"'
    escape: str = '"'
    encoding: str = "utf-8"
    time: TimeSpec
    fields: FieldMap
    actions: dict[str, str] = Field(
        default_factory=dict, description="source action value -> read|search|update|…"
    )
    default_action: str = "read"

    @field_validator("actions")
    @classmethod
    def _known_actions(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted({v for v in value.values() if v not in ACTIONS})
        if bad:
            raise ValueError(f"unknown action(s) {bad}; use one of {list(ACTIONS)}")
        return value

    @field_validator("encoding")
    @classmethod
    def _supported_encoding(cls, value: str) -> str:
        normalized = value.lower().replace("_", "-")
        aliases = {"utf8": "utf-8", "latin1": "latin-1", "iso-8859-1": "latin-1"}
        normalized = aliases.get(normalized, normalized)
        if normalized not in ("utf-8", "latin-1"):
            raise ValueError("encoding must be utf-8 or latin-1")
        return normalized

    def with_timezone(self, timezone: str) -> AccessCsvMapping:
        """The same mapping with its time zone overridden (e.g. from ``--tz``)."""
        try:
            time = TimeSpec(column=self.time.column, format=self.time.format, timezone=timezone)
        except ValidationError:
            raise ConfigError(f"unknown time zone {timezone!r} (use an IANA name)") from None
        return self.model_copy(update={"time": time})

    @classmethod
    def load(cls, path: Path) -> AccessCsvMapping:
        """Load a mapping file, or a built-in one by name (``synthetic``, ``epic``)."""
        if not path.exists() and (MAPPINGS_DIR / f"{path.name}.yaml").exists():
            path = MAPPINGS_DIR / f"{path.name}.yaml"
        return load_yaml_model(cls, path, "mapping")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class AccessCsvConnector:
    """``carewarden ingest access-csv FILE --mapping MAPPING.yaml``."""

    name: ClassVar[str] = "access-csv"
    # DuckDB's CSV reader parses faster than the store writes: large batches inserted on
    # every core beat writes overlapping the parse (bench/ingest.py, 1,000,000 accesses,
    # close included: 888,000/s against 733,000/s).
    bulk_insert: ClassVar[bool] = True

    def __init__(self, mapping: AccessCsvMapping) -> None:
        self.mapping = mapping
        self.timezone = mapping.time.timezone
        # Files the strict CSV parser could not frame (e.g. a stray carriage return inside a
        # row); they are read again leniently, where such rows become rejects.
        self._lenient: set[Path] = set()
        self.ignored: Counter[str] = Counter()

    def discover(self, path: Path) -> list[Path]:
        return walk(path, (".csv", ".csv.gz", ".txt", ".tsv"))

    def _header(self, path: Path) -> list[str]:
        with open_binary(path) as stream:
            first = stream.readline(MAX_RECORD_BYTES)
        encoding = {"utf-8": "utf-8-sig", "latin-1": "latin-1"}
        try:
            text = first.decode(encoding[self.mapping.encoding])
        except UnicodeDecodeError:
            raise SourceError(
                f"header is not {self.mapping.encoding}", path=str(path), line=1
            ) from None
        reader = csv.reader(
            io.StringIO(text), delimiter=self.mapping.delimiter, quotechar=self.mapping.quote
        )
        header = next(reader, [])
        if not header:
            raise SourceError("empty file (no header line)", path=str(path), line=1)
        return [h.strip() for h in header]

    def _query(self, path: Path, header: list[str], strict: bool, only_bad: bool = False) -> str:
        """The parse-and-map query. Numbering the records (``row_number() OVER ()``) halves
        the reader's speed, so only the second pass over a file with bad rows
        (``only_bad``) numbers them, to give their line numbers."""
        m = self.mapping
        fields = m.fields
        wanted = {"time": m.time.column, "user": fields.user, "patient": fields.patient}
        for optional in ("event_id", "action", "outcome", "workstation", "purpose", "reason"):
            column = getattr(fields, optional)
            if column:
                wanted[optional] = column
        missing = sorted({c for c in wanted.values() if c not in header})
        if missing:
            raise SourceError(
                f"mapping {m.name!r} expects column(s) {missing} not in the header "
                f"(found: {header[:30]})",
                path=str(path),
                line=1,
            )
        # Duplicate header names: DuckDB renames them; keep the first occurrence's name.
        columns = "{" + ", ".join(f"{_lit(h)}: 'VARCHAR'" for h in _dedupe(header)) + "}"

        def col(key: str) -> str:
            return f"nullif(trim({_ident(wanted[key])}), '')" if key in wanted else "NULL"

        if "%z" in m.time.format or "%Z" in m.time.format:
            utc = f"timezone('UTC', try_strptime({col('time')}, {_lit(m.time.format)}))"
        else:
            utc = (
                f"timezone('UTC', timezone({_lit(self.timezone)}, "
                f"try_strptime({col('time')}, {_lit(m.time.format)})::TIMESTAMP))"
            )
        action_cases = " ".join(
            f"WHEN {_lit(src.lower())} THEN {_lit(dst)}" for src, dst in m.actions.items()
        )
        raw_action = f"lower({col('action')})"
        action = (
            f"coalesce(CASE {raw_action} {action_cases} ELSE {raw_action} END, "
            f"{_lit(m.default_action)})"
            if action_cases
            else f"coalesce({raw_action}, {_lit(m.default_action)})"
        )
        content_id = "md5(concat_ws('|', _t, _u, _p, _a, _w))"
        # An empty id in an id column falls back to the content hash, like a file without one.
        event_id = (
            f"coalesce({col('event_id')}, {content_id})" if "event_id" in wanted else content_id
        )
        rejects = "_rejects_again" if only_bad else "_rejects"
        return f"""
            SELECT _rec, {event_id} AS event_id, _utc AS time, _u AS user_id, _p AS patient_id,
                   _a AS action, _o AS outcome, _w AS workstation, _purpose AS purpose,
                   _reason AS reason, _t AS raw_time
            FROM (
                SELECT {"row_number() OVER ()" if only_bad else "NULL::BIGINT"} AS _rec,
                       {col("time")} AS _t, {utc} AS _utc, {col("user")} AS _u,
                       {col("patient")} AS _p, {action} AS _a, {col("outcome")} AS _o,
                       {col("workstation")} AS _w, upper({col("purpose")}) AS _purpose,
                       {col("reason")} AS _reason
                       {", " + _ident(wanted["event_id"]) if "event_id" in wanted else ""}
                FROM read_csv({_lit(str(path))}, columns={columns}, header=true,
                              auto_detect=false, delim={_lit(m.delimiter)},
                              quote={_lit(m.quote)}, escape={_lit(m.escape)},
                              encoding={_lit(m.encoding)}, store_rejects=true,
                              rejects_table='{rejects}', rejects_scan='{rejects}_scans',
                              max_line_size={MAX_RECORD_BYTES}, strict_mode={str(strict).lower()})
            )
            {"WHERE _utc IS NULL OR _u IS NULL OR _p IS NULL" if only_bad else ""}
        """

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        if any(c in str(path) for c in "*?[]{}"):
            # DuckDB would expand them as a pattern and read other files too.
            raise SourceError(
                "file names with * ? [ ] { } cannot be read; rename the file", path=str(path)
            )
        header = self._header(path)
        strict = path not in self._lenient
        query = self._query(path, header, strict)
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_progress_bar = false")
            try:
                reader = con.sql(query).to_arrow_reader(BATCH_ROWS)
                batches = iter(reader)
                first = next(batches, None)
            except _READ_ERRORS as exc:
                if strict:
                    self._lenient.add(path)
                    raise RetryFile(str(exc)) from None
                raise SourceError(f"cannot read CSV: {exc}", path=str(path)) from None
            bad_rows = 0
            schema = SCHEMAS["ehr_access"]
            for record_batch in _chain(first, batches, path, self._lenient, strict):
                table = pa.Table.from_batches([record_batch])
                valid = pc.and_(
                    pc.and_(pc.is_valid(table["time"]), pc.is_valid(table["user_id"])),
                    pc.is_valid(table["patient_id"]),
                )
                if not pc.all(valid).as_py():
                    bad_rows += 1
                    table = table.filter(valid)
                good = table.select(schema.names).cast(schema)
                if good.num_rows:
                    yield Batch("ehr_access", good)
            # The lenient parser can log one reject per missing column: keep one per line.
            rejects = con.execute(
                "SELECT line, min(byte_position), "
                "min(error_type || ': ' || error_message), min(left(csv_line, 512)) "
                "FROM _rejects GROUP BY line ORDER BY line"
            ).fetchall()
            bad_records: list[tuple[int, str, str | None]] = []
            if bad_rows:
                numbered = self._query(path, header, strict, only_bad=True)
                bad_records = list(_describe_bad(con.sql(numbered).to_arrow_table()))
        finally:
            con.close()
        reject_lines = [int(r[0]) for r in rejects]
        for line, offset, message, raw in rejects:
            yield Rejected(int(line), int(offset), f"malformed CSV row: {message}", raw)
        for record, error, raw in bad_records:
            yield Rejected(_line_of(record, reject_lines), None, error, preview(raw))


def _chain(
    first: pa.RecordBatch | None,
    rest: Iterator[pa.RecordBatch],
    path: Path,
    lenient: set[Path],
    strict: bool,
) -> Iterator[pa.RecordBatch]:
    """The reader's batches; a strict-parse failure part-way asks for a lenient re-read."""
    if first is None:
        return
    yield first
    try:
        yield from rest
    except _READ_ERRORS as exc:
        if not strict:
            raise SourceError(f"cannot read CSV: {exc}", path=str(path)) from None
        lenient.add(path)
        raise RetryFile(str(exc)) from None


def _dedupe(header: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for name in header:
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name] - 1}")
    return out


def _describe_bad(table: pa.Table) -> Iterator[tuple[int, str, str | None]]:
    for row in table.to_pylist():
        problems = []
        if row["time"] is None:
            problems.append(
                f"time {row['raw_time']!r} does not match the mapping's format"
                if row["raw_time"]
                else "time is empty"
            )
        if row["user_id"] is None:
            problems.append("user is empty")
        if row["patient_id"] is None:
            problems.append("patient is empty")
        raw: Any = ",".join(
            str(row[k]) for k in ("raw_time", "user_id", "patient_id") if row[k] is not None
        )
        yield int(row["_rec"]), "; ".join(problems), raw


def _line_of(record: int, reject_lines: list[int]) -> int:
    """The record number (header = 1) of the ``record``-th parsed data row."""
    line = record + 1
    for rejected in reject_lines:
        if rejected <= line:
            line += 1
        else:
            break
    return line
