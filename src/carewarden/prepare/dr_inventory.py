"""The backup inventory a hospital keeps of its critical systems, read from YAML or CSV.

One row per backup set (job) of a system. YAML is the hand-kept form (a worked example is in
the README, section "Disaster-recovery readiness"); CSV is what backup tools export, read
with the documented field names as headers, or with a column mapping (YAML) that names the
export's columns, translates its values and its time format.

Validation is strict: an unknown field or column is refused, never ignored (a renamed column
would otherwise silently read as "no immutable copy"). A problem with the whole file (not
YAML, an unknown column, a bad time zone) refuses the file with its name and line; a bad row
is quarantined with its line and reason, and the good rows are kept.

Times: ISO 8601 (``2026-03-09T02:00:00Z``, ``2026-03-09 02:00``, ``2026-03-09``) or the
mapping's ``time_format``; a time without an offset is in the file's ``timezone`` (else the
site's zone). They are kept in UTC. A time later than the inventory's own time (its
``as_of``) is refused: it means a wrong zone or a wrong ``as_of``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from carewarden.config import load_yaml_model
from carewarden.errors import ConfigError, SourceError
from carewarden.model import Rejected, preview
from carewarden.prepare.dr import (
    DEFAULT_TEST_INTERVAL_DAYS,
    BackupSet,
)

FORMATS = ("yaml", "csv")
# A time this far after the inventory's time is tolerated (clocks of backup servers drift).
CLOCK_SKEW = dt.timedelta(hours=1)
TIME_FIELDS = ("last_successful_backup", "last_restore_test")


def _not_bool(value: Any) -> Any:
    # Lax pydantic reads true as 1; a boolean in a number field is a mistake in the file.
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


def _tier(value: Any) -> Any:
    # Exports write "Tier 1", "T1" or "1".
    if isinstance(value, str):
        text = value.strip().lower().removeprefix("tier").removeprefix("t").strip()
        return text or value
    return value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


Hours = Annotated[float, BeforeValidator(_not_bool), Field(gt=0, le=24 * 3650)]
Count = Annotated[int, BeforeValidator(_not_bool), Field(ge=0, le=100)]


class BackupSetRecord(BaseModel):
    """One row of the inventory. Field names are the YAML keys and the CSV headers."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    system: str = Field(min_length=1, description="the system, e.g. 'Epic EHR'")
    system_kind: Annotated[
        Literal["ehr", "pacs", "directory", "lab", "pharmacy", "erp", "email", "other"],
        BeforeValidator(_lower),
    ]
    set_name: str | None = Field(
        None, alias="set", description="the backup set or job (default: the system's name)"
    )
    component: str = Field(
        "",
        description="the part of the system it recovers; sets of one component are "
        "alternatives, every component is needed (default: the whole system)",
    )
    tier: Annotated[int, BeforeValidator(_tier), BeforeValidator(_not_bool), Field(ge=1, le=3)]
    rpo_hours: Hours
    rto_hours: Hours
    last_successful_backup: dt.datetime | None = None
    last_restore_test: dt.datetime | None = None
    last_restore_test_result: Annotated[
        Literal["success", "partial", "failed"] | None, BeforeValidator(_lower)
    ] = None
    restore_duration_hours: Annotated[
        float | None, BeforeValidator(_not_bool), Field(ge=0, le=24 * 3650)
    ] = None
    restore_test_interval_days: Annotated[
        int | None, BeforeValidator(_not_bool), Field(ge=1, le=3650)
    ] = None
    immutable_copy: bool
    offline_copy: bool
    copies: Count
    media: Annotated[int | None, BeforeValidator(_not_bool), Field(ge=1, le=100)] = None
    offsite: bool
    encrypted: bool | None = None
    owner: str | None = None
    notes: str | None = None

    @field_validator("system", "set_name", "component", "owner", "notes", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return " ".join(value.split()) if isinstance(value, str) else value

    @field_validator(*TIME_FIELDS, mode="before")
    @classmethod
    def _time(cls, value: Any, info: ValidationInfo) -> Any:
        context = info.context or {}
        return parse_time(value, context.get("zone", dt.UTC), context.get("time_format"))

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> BackupSetRecord:
        tested, result = self.last_restore_test, self.last_restore_test_result
        if tested is not None and result is None:
            raise ValueError("last_restore_test_result: required with last_restore_test")
        if result is not None and tested is None:
            raise ValueError("last_restore_test: required with last_restore_test_result")
        if self.restore_duration_hours is not None and tested is None:
            raise ValueError("restore_duration_hours: given without a last_restore_test")
        taken_at = (info.context or {}).get("taken_at")
        if isinstance(taken_at, dt.datetime):
            for name in TIME_FIELDS:
                when = getattr(self, name)
                if when is not None and when > taken_at + CLOCK_SKEW:
                    raise ValueError(
                        f"{name}: {when:%Y-%m-%d %H:%M} UTC is after the inventory's time "
                        f"{taken_at:%Y-%m-%d %H:%M} UTC (a wrong time zone, or as_of/--at "
                        "earlier than the export?)"
                    )
        return self

    def backup_set(self, interval_days: int) -> BackupSet:
        return BackupSet(
            system=self.system,
            system_kind=self.system_kind,
            name=self.set_name or self.system,
            component=self.component,
            tier=self.tier,
            rpo_hours=self.rpo_hours,
            rto_hours=self.rto_hours,
            last_successful_backup=self.last_successful_backup,
            last_restore_test=self.last_restore_test,
            last_restore_test_result=self.last_restore_test_result,
            restore_duration_hours=self.restore_duration_hours,
            restore_test_interval_days=self.restore_test_interval_days or interval_days,
            immutable_copy=self.immutable_copy,
            offline_copy=self.offline_copy,
            copies=self.copies,
            media=self.media,
            offsite=self.offsite,
            encrypted=self.encrypted,
            owner=self.owner,
            notes=self.notes,
        )


# The inventory's field names, as written in files (``set``, not ``set_name``).
FIELDS: tuple[str, ...] = tuple(
    (f.alias or name) for name, f in BackupSetRecord.model_fields.items()
)
REQUIRED: tuple[str, ...] = tuple(
    (f.alias or name) for name, f in BackupSetRecord.model_fields.items() if f.is_required()
)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name)") from None


def parse_time(value: Any, zone: dt.tzinfo, time_format: str | None = None) -> dt.datetime | None:
    """An inventory time as naive UTC: ISO 8601 (or ``time_format``), a naive time being in
    ``zone``; None stays None, anything else (a number, a list) is refused."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        when = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            when = (
                dt.datetime.strptime(text, time_format)
                if time_format
                else dt.datetime.fromisoformat(text)
            )
        except ValueError:
            expected = f"the format {time_format!r}" if time_format else "an ISO 8601 time"
            raise ValueError(f"{text!r} is not {expected}") from None
    else:
        raise ValueError(f"expected an ISO 8601 time, not {value!r}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.astimezone(dt.UTC).replace(tzinfo=None)


Scalar = str | int | float | bool


class _ZoneAndDefaults(BaseModel):
    """What a YAML inventory's top and a CSV mapping share: a zone and default field values."""

    model_config = ConfigDict(extra="forbid")
    timezone: str | None = Field(None, description="IANA zone of times without an offset")
    defaults: dict[str, Scalar] = Field(
        default_factory=dict, description="field values for rows that leave them out"
    )

    @field_validator("defaults")
    @classmethod
    def _known_defaults(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        _check_fields(list(value), "defaults")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            _zone(value)
        return value


class InventoryHeader(_ZoneAndDefaults):
    """The top of a YAML inventory; ``backup_sets`` rows are validated one by one."""

    as_of: str | None = Field(None, description="when the inventory was exported (ISO time)")
    backup_sets: list[Any] = Field(min_length=1)


def _check_fields(names: list[str], what: str) -> None:
    unknown = sorted(set(names) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown inventory field(s) {unknown} in {what}; known: {list(FIELDS)}")


class InventoryCsvMapping(_ZoneAndDefaults):
    """How a backup tool's CSV export maps onto the inventory (``--mapping FILE.yaml``)."""

    name: str = ""
    description: str = ""
    delimiter: str = Field(",", min_length=1, max_length=1)
    encoding: Literal["utf-8", "utf-8-sig", "latin-1"] = "utf-8-sig"
    columns: dict[str, str] = Field(description="inventory field -> the export's column")
    values: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="field -> {export value: inventory value}"
    )
    time_format: str | None = Field(None, description="strftime format of the export's times")
    ignore: list[str] = Field(default_factory=list, description="export columns not used")

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        _check_fields(list(value), "columns")
        if len(set(value.values())) != len(value):
            raise ValueError("two fields name the same column")
        return value

    @field_validator("values")
    @classmethod
    def _known_values(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        _check_fields(list(value), "values")
        return value

    @classmethod
    def load(cls, path: Path) -> InventoryCsvMapping:
        return load_yaml_model(cls, path, "inventory column mapping")

    def digest(self) -> str:
        return hashlib.sha256(
            json.dumps(self.model_dump(), sort_keys=True).encode("utf-8")
        ).hexdigest()


@dataclass
class Inventory:
    """What one inventory file holds: its time, its good rows and its refused ones."""

    path: Path
    format: str
    taken_at: dt.datetime  # naive UTC
    snapshot_id: str
    content: bytes = field(repr=False)  # the file as read (its hash and size are recorded)
    sets: list[tuple[int | None, BackupSet]] = field(default_factory=list)  # (line, set)
    rejected: list[Rejected] = field(default_factory=list)


def _problems(exc: ValidationError) -> str:
    return "; ".join(_problem(e) for e in exc.errors())


def _problem(error: ErrorDetails) -> str:
    message = {"extra_forbidden": "unknown field", "missing": "required"}.get(
        error["type"], error["msg"].removeprefix("Value error, ")
    )
    loc = [str(p) for p in error["loc"] if not isinstance(p, int)]
    # Union and Annotated branches add their type to the location: keep the field.
    where = loc[0] if loc else ""
    if where and not message.startswith(f"{where}:"):
        return f"{where}: {message}"
    return message


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps times as text (they are parsed with the file's time zone)."""


_Loader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def detect_format(path: Path, requested: str | None) -> str:
    if requested is not None:
        if requested not in FORMATS:
            raise ConfigError(f"unknown format {requested!r}: use yaml or csv", path=str(path))
        return requested
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix in (".csv", ".txt"):
        return "csv"
    raise ConfigError(
        "cannot tell the format from the name: give --format yaml|csv", path=str(path)
    )


def read_inventory(
    path: Path,
    *,
    format: str | None = None,
    at: dt.datetime | None = None,
    site_zone: str = "UTC",
    mapping: InventoryCsvMapping | None = None,
    interval_days: int | None = None,
    now: dt.datetime | None = None,
) -> Inventory:
    """Read and validate an inventory file.

    ``at`` (naive UTC) is the time it describes; default: its ``as_of``, else ``now``.
    ``interval_days`` is the restore-test interval of rows that give none, where the file's
    ``defaults`` give none either (else 90 days). Raises ConfigError or SourceError (naming
    the file, and the line where there is one) when the file as a whole cannot be used.
    """
    kind = detect_format(path, format)
    if mapping is not None and kind != "csv":
        raise ConfigError("a column mapping applies to CSV files only", path=str(path))
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("inventory file not found", path=str(path)) from None
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None
    current = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if kind == "yaml":
        return _read_yaml(path, content, at, site_zone, interval_days, current)
    return _read_csv(path, content, at, site_zone, mapping, interval_days, current)


def _snapshot_id(content: bytes, taken_at: dt.datetime, *extra: str) -> str:
    digest = hashlib.sha256(content)
    for part in (taken_at.isoformat(), *extra):
        digest.update(b"\x00" + part.encode("utf-8"))
    return digest.hexdigest()[:32]


def _validate_rows(
    inventory: Inventory,
    rows: Sequence[tuple[int | None, Any, str | None]],
    context: dict[str, Any],
    defaults: dict[str, Any],
    interval_days: int,
) -> Inventory:
    """Validate each (line, row, raw) into the inventory: good sets kept, bad ones refused."""
    seen: dict[str, int | None] = {}
    for line, row, raw in rows:
        if not isinstance(row, dict):
            inventory.rejected.append(
                Rejected(line, None, "expected a mapping of inventory fields", preview(raw))
            )
            continue
        values = {**defaults, **{k: v for k, v in row.items() if v is not None}}
        try:
            record = BackupSetRecord.model_validate(values, context=context)
        except ValidationError as exc:
            inventory.rejected.append(Rejected(line, None, _problems(exc), preview(raw)))
            continue
        backup_set = record.backup_set(interval_days)
        if backup_set.key in seen:
            first = seen[backup_set.key]
            inventory.rejected.append(
                Rejected(
                    line,
                    None,
                    f"backup set {backup_set.key!r} appears twice"
                    + (f" (first at line {first})" if first is not None else ""),
                    preview(raw),
                )
            )
            continue
        seen[backup_set.key] = line
        inventory.sets.append((line, backup_set))
    return inventory


def _read_yaml(
    path: Path,
    content: bytes,
    at: dt.datetime | None,
    site_zone: str,
    interval_days: int | None,
    now: dt.datetime,
) -> Inventory:
    try:
        text = content.decode("utf-8")
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except UnicodeDecodeError as exc:
        raise SourceError(f"not UTF-8 text: {exc.reason}", path=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SourceError(f"not valid YAML: {problem}", path=str(path), line=line) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping with a backup_sets list", path=str(path))
    try:
        header = InventoryHeader.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(exc), path=str(path)) from None
    zone = _zone(header.timezone or site_zone)
    try:
        as_of = parse_time(header.as_of, zone) if header.as_of is not None else None
    except ValueError as exc:
        raise ConfigError(f"as_of: {exc}", path=str(path)) from None
    taken_at = at or as_of or now
    interval = interval_days or DEFAULT_TEST_INTERVAL_DAYS
    inventory = Inventory(
        path, "yaml", taken_at, _snapshot_id(content, taken_at, str(interval), site_zone), content
    )
    lines = _item_lines(node, "backup_sets")
    rows = [
        (lines[i] if i < len(lines) else None, item, _raw(item))
        for i, item in enumerate(header.backup_sets)
    ]
    context = {"zone": zone, "taken_at": taken_at}
    return _validate_rows(inventory, rows, context, header.defaults, interval)


def _raw(item: Any) -> str:
    return json.dumps(item, default=str, ensure_ascii=False)


def _item_lines(node: yaml.Node | None, key: str) -> list[int]:
    """The 1-based line of each item of the top-level sequence ``key``."""
    if not isinstance(node, yaml.MappingNode):
        return []
    for key_node, value_node in node.value:
        if getattr(key_node, "value", None) == key and isinstance(value_node, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value_node.value]
    return []


def _read_csv(
    path: Path,
    content: bytes,
    at: dt.datetime | None,
    site_zone: str,
    mapping: InventoryCsvMapping | None,
    interval_days: int | None,
    now: dt.datetime,
) -> Inventory:
    encoding = mapping.encoding if mapping else "utf-8-sig"
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"not {encoding} text (byte {exc.start}): set the mapping's encoding",
            path=str(path),
        ) from None
    delimiter = mapping.delimiter if mapping else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise SourceError(f"not valid CSV: {exc}", path=str(path), line=1) from None
    if not header or not any(h.strip() for h in header):
        raise SourceError("no header row", path=str(path), line=1)
    columns = [h.strip() for h in header]
    field_of = _column_fields(path, columns, mapping)
    zone = _zone(mapping.timezone if mapping and mapping.timezone else site_zone)
    taken_at = at or now
    interval = interval_days or DEFAULT_TEST_INTERVAL_DAYS
    extra = (str(interval), site_zone, mapping.digest() if mapping else "")
    inventory = Inventory(path, "csv", taken_at, _snapshot_id(content, taken_at, *extra), content)
    rows: list[tuple[int | None, Any, str | None]] = []
    value_maps = mapping.values if mapping else {}
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            inventory.rejected.append(Rejected(start, None, f"not valid CSV: {exc}", None))
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        raw = delimiter.join(cells)
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(columns):
            inventory.rejected.append(
                Rejected(
                    line, None, f"expected {len(columns)} cells, found {len(cells)}", preview(raw)
                )
            )
            continue
        row: dict[str, Any] = {}
        for column, cell in zip(columns, cells, strict=True):
            name = field_of.get(column)
            value = cell.strip()
            if name is None or not value:
                continue
            row[name] = value_maps.get(name, {}).get(value, value)
        rows.append((line, row, raw))
    context = {
        "zone": zone,
        "taken_at": taken_at,
        "time_format": mapping.time_format if mapping else None,
    }
    defaults = dict(mapping.defaults) if mapping else {}
    return _validate_rows(inventory, rows, context, defaults, interval)


def _column_fields(
    path: Path, columns: list[str], mapping: InventoryCsvMapping | None
) -> dict[str, str]:
    """CSV column -> inventory field; refuses unknown, repeated and missing columns."""
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise SourceError(
            f"column(s) {repeated} appear twice in the header", path=str(path), line=1
        )
    if mapping is None:
        by_name = {f.lower(): f for f in FIELDS}
        field_of = {c: by_name[c.lower()] for c in columns if c.lower() in by_name}
        unknown = [c for c in columns if c not in field_of]
        if unknown:
            raise SourceError(
                f"unknown column(s) {unknown}: the header must use the inventory's field names "
                f"{list(FIELDS)}, or give --mapping FILE to name the export's columns",
                path=str(path),
                line=1,
            )
        defaults: set[str] = set()
    else:
        field_of = {column: name for name, column in mapping.columns.items()}
        missing_columns = sorted(set(field_of) - set(columns))
        if missing_columns:
            raise SourceError(
                f"the mapping names column(s) {missing_columns} that the header lacks",
                path=str(path),
                line=1,
            )
        unknown = [c for c in columns if c not in field_of and c not in mapping.ignore]
        if unknown:
            raise SourceError(
                f"unknown column(s) {unknown}: map them under `columns:` or list them under "
                "`ignore:` in the mapping",
                path=str(path),
                line=1,
            )
        field_of = {c: f for c, f in field_of.items() if c in columns}
        defaults = set(mapping.defaults)
    absent = [f for f in REQUIRED if f not in field_of.values() and f not in defaults]
    if absent:
        raise SourceError(
            f"required field(s) {absent} have no column"
            + (" (or a default in the mapping)" if mapping else ""),
            path=str(path),
            line=1,
        )
    return field_of
