"""Device lists from a CMDB or asset-management export (CSV) into ``asset_import``.

A mapping (YAML) names the column of each field; without one, common header names are
recognised (``MAC Address``, ``IP``, ``Hostname``, ``Device Type``, ``Manufacturer``…). A
row needs a MAC, an IP address or a host name; a malformed MAC or IP address, or a row
with the wrong number of fields, is quarantined with its line. A mapping that names a
column the file lacks is refused before anything is written.

Each row is kept as its own observation (keyed by a hash of its mapped values, so the same
row imported twice is one): discovery merges it with what the network shows, and
rediscovery keeps it.

Mapping file::

    columns:            # field -> the export's column header
      mac: "MAC Address"
      ip: "IP Address"
      hostname: "Device Name"
      class: "Category"
      vendor: "Manufacturer"
      model: "Model"
    classes:            # optional: the export's words -> a device class
      "IV Pump": infusion_pump
    delimiter: ","
"""

from __future__ import annotations

import csv
import io
import ipaddress
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
from blake3 import blake3
from pydantic import BaseModel, ConfigDict, Field, field_validator

from carewarden.config import load_yaml_model
from carewarden.connectors.base import open_binary, walk
from carewarden.errors import ConfigError
from carewarden.iomt.classify import CLASSES, class_from_text
from carewarden.iomt.oui import normalise_mac
from carewarden.model import Batch, Rejected, preview
from carewarden.tables import SCHEMAS

FIELDS: tuple[str, ...] = (
    "mac",
    "ip",
    "hostname",
    "class",
    "vendor",
    "model",
    "os",
    "serial",
    "location",
    "zone",
)
# Header names recognised without a mapping (compared lower-case, spaces and _ alike).
DEFAULT_HEADERS: dict[str, tuple[str, ...]] = {
    "mac": ("mac", "mac address", "macaddress", "mac addr", "hardware address"),
    "ip": ("ip", "ip address", "ipaddress", "ip addr", "ipv4", "address"),
    "hostname": ("hostname", "host name", "host", "device name", "name", "dns name", "fqdn"),
    "class": ("class", "device class", "type", "device type", "category", "asset type"),
    "vendor": ("vendor", "manufacturer", "make", "maker"),
    "model": ("model", "model name", "product"),
    "os": ("os", "operating system"),
    "serial": ("serial", "serial number", "serialnumber", "sn"),
    "location": ("location", "department", "unit", "site"),
    "zone": ("zone", "vlan", "network zone", "segment"),
}


class CmdbMapping(BaseModel):
    """Which column holds each field (unmapped fields are read from common header names)."""

    model_config = ConfigDict(extra="forbid")
    columns: dict[str, str] = Field(default_factory=dict)
    classes: dict[str, str] = Field(default_factory=dict)
    delimiter: str = ","

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(set(value) - set(FIELDS))
        if bad:
            raise ValueError(f"unknown field(s) {bad}; use {list(FIELDS)}")
        return value

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted({v for v in value.values() if v not in CLASSES})
        if bad:
            raise ValueError(f"unknown class(es) {bad}; use {list(CLASSES)}")
        return value

    @classmethod
    def load(cls, path: Path | None) -> CmdbMapping:
        return cls() if path is None else load_yaml_model(cls, path, "asset mapping")


def _norm(header: str) -> str:
    return " ".join(header.strip().lower().replace("_", " ").split())


def resolve(mapping: CmdbMapping, header: list[str], where: str) -> dict[str, int]:
    """field -> column index; a mapped column missing from ``header`` is a ConfigError."""
    positions = {name.strip(): i for i, name in enumerate(header)}
    normalised = {_norm(name): i for i, name in reversed(list(enumerate(header)))}
    out: dict[str, int] = {}
    for name, column in mapping.columns.items():
        if column.strip() not in positions:
            raise ConfigError(
                f"the mapping names column {column!r} for {name}, which {where} lacks "
                f"(its columns: {', '.join(h.strip() for h in header)})"
            )
        out[name] = positions[column.strip()]
    for name in FIELDS:
        if name in out:
            continue
        for alias in DEFAULT_HEADERS[name]:
            if alias in normalised and normalised[alias] not in out.values():
                out[name] = normalised[alias]
                break
    if not {"mac", "ip", "hostname"} & set(out):
        raise ConfigError(
            f"{where}: no column holds a MAC, an IP address or a host name (map one of them)"
        )
    return out


class CmdbConnector:
    """``carewarden assets import FILE --mapping MAP.yaml``: CMDB rows into asset_import."""

    name: ClassVar[str] = "assets-csv"

    def __init__(self, mapping: CmdbMapping) -> None:
        self.mapping = mapping
        self.ignored: Counter[str] = Counter()

    def discover(self, path: Path) -> list[Path]:
        return walk(path, (".csv", ".csv.gz", ".tsv"))

    def _text(self, path: Path) -> str:
        with open_binary(path) as handle:
            return handle.read().decode("utf-8-sig", errors="replace")

    def check(self, path: Path) -> None:
        """Refuse a file whose header lacks a mapped column (before anything is written)."""
        reader = csv.reader(io.StringIO(self._text(path)), delimiter=self.mapping.delimiter)
        header = next(reader, None)
        if header is None:
            raise ConfigError(f"{path}: empty file, no header")
        resolve(self.mapping, header, str(path))

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        text = self._text(path)
        reader = csv.reader(io.StringIO(text), delimiter=self.mapping.delimiter)
        header = next(reader, None)
        if header is None:
            return
        columns = resolve(self.mapping, header, str(path))
        classes = {_norm(k): v for k, v in self.mapping.classes.items()}
        rows: dict[str, list[object]] = {name: [] for name in SCHEMAS["asset_import"].names}
        line = reader.line_num
        for record in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                yield Rejected(start, None, f"{len(record)} fields where the header has "
                               f"{len(header)}", preview(",".join(record)))
                continue
            values = {
                name: (record[i].strip() or None) for name, i in columns.items()
            }
            problem = _problem(values)
            if problem:
                yield Rejected(start, None, problem, preview(",".join(record)))
                continue
            if values.get("mac"):
                values["mac"] = normalise_mac(str(values["mac"]))
            text_class = values.get("class")
            stated = classes.get(_norm(text_class)) if text_class else None
            values["class_text"] = text_class
            values["class"] = stated or class_from_text(text_class)
            digest = blake3(repr(sorted(values.items())).encode()).hexdigest()[:32]
            rows["record_uid"].append(f"cmdb:{digest}")
            rows["line"].append(start)
            for name in SCHEMAS["asset_import"].names[2:]:
                rows[name].append(values.get(name))
        yield Batch("asset_import", pa.Table.from_pydict(rows, schema=SCHEMAS["asset_import"]))


def _problem(values: dict[str, str | None]) -> str | None:
    mac, ip, host = values.get("mac"), values.get("ip"), values.get("hostname")
    if not (mac or ip or host):
        return "no MAC, IP address or host name"
    if mac and normalise_mac(mac) is None:
        return f"not a MAC address: {mac[:40]!r}"
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            return f"not an IP address: {ip[:40]!r}"
    return None
