"""The device inventory's use cases: discover, import, list, show, evaluate.

Discovery settings (internal networks, the site's ports, OUI entries added from a file) are
recorded in the store when given, so a later ``carewarden detect`` rediscovers the same way.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from carewarden.config import load_yaml_model
from carewarden.errors import ConfigError, RequestError
from carewarden.iomt import classify as cl
from carewarden.iomt.cmdb import CmdbConnector, CmdbMapping
from carewarden.iomt.inventory import DEFAULT_INTERNAL, DiscoverySummary, Settings, discover
from carewarden.iomt.oui import OuiTable, builtin_table, load_table
from carewarden.services.ingest import IngestSummary, ingest
from carewarden.services.ingest import discover as discover_files
from carewarden.store import Store

SETTINGS_KEY = "assets.settings"
OUI_KEY = "assets.oui"

ASSET_FIELDS: tuple[str, ...] = (
    "id",
    "class",
    "confidence",
    "vendor",
    "model",
    "os",
    "os_unsupported",
    "macs",
    "ips",
    "hostnames",
    "first_seen",
    "last_seen",
    "subnet",
    "zone",
    "protocols",
    "sources",
)


class PortSpec(BaseModel):
    """One site port: what runs there and what serving or using it says about a device."""

    model_config = ConfigDict(extra="forbid")
    port: int = Field(ge=1, le=65535)
    transport: Literal["tcp", "udp"] = "tcp"
    protocol: str
    server: dict[str, float] = Field(default_factory=dict)
    client: dict[str, float] = Field(default_factory=dict)
    min_peers: int = Field(1, ge=1)

    @field_validator("server", "client")
    @classmethod
    def _classes(cls, value: dict[str, float]) -> dict[str, float]:
        for name, weight in value.items():
            if name not in cl.CLASSES or name == "unknown":
                raise ValueError(f"unknown class {name!r}; use one of {list(cl.CLASSES[:-1])}")
            if not 0 < weight < 1:
                raise ValueError(f"weight of {name} must be between 0 and 1")
        return value

    def rule(self) -> cl.PortRule:
        return cl.PortRule(
            self.port,
            self.protocol,
            tuple(sorted(self.server.items())),
            tuple(sorted(self.client.items())),
            self.min_peers,
            self.transport,
        )


class SiteNetwork(BaseModel):
    """The site's network file (YAML): internal networks beyond RFC 1918, and its ports
    (HL7 on a non-standard port, a vendor's telemetry, a pump server)."""

    model_config = ConfigDict(extra="forbid")
    internal: list[str] = Field(default_factory=list)
    ports: list[PortSpec] = Field(default_factory=list)

    @field_validator("internal")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"not a network: {cidr!r}") from None
        return value


def load_network(path: Path) -> SiteNetwork:
    return load_yaml_model(SiteNetwork, path, "site network")


def configure(store: Store, network: SiteNetwork | None, oui: Path | None) -> None:
    """Record discovery settings in the store (given parts replace the recorded ones)."""
    if network is not None:
        store.set_setting(SETTINGS_KEY, network.model_dump_json())
    if oui is not None:
        extra = builtin_table().extended(oui).vendors
        store.set_setting(OUI_KEY, orjson.dumps(extra).decode())


def recorded(store: Store) -> tuple[Settings, OuiTable]:
    text = store.setting(SETTINGS_KEY)
    network = SiteNetwork.model_validate_json(text) if text else SiteNetwork()
    settings = Settings(
        internal=(*DEFAULT_INTERNAL, *network.internal),
        ports=tuple(p.rule() for p in network.ports),
    )
    oui_text = store.setting(OUI_KEY)
    table = OuiTable(orjson.loads(oui_text)) if oui_text else load_table()
    return settings, table


def run_discovery(store: Store) -> DiscoverySummary:
    """Rebuild the inventory with the store's recorded settings."""
    settings, table = recorded(store)
    return discover(store, settings, table)


def import_files(store: Store, paths: Sequence[Path], mapping: CmdbMapping) -> IngestSummary:
    """CMDB CSV files into ``asset_import`` (refused whole when a mapped column is missing),
    then rediscovery."""
    connector = CmdbConnector(mapping)
    files = discover_files(connector, paths)
    for path in files:
        connector.check(path)
    summary = ingest(store, connector, files)
    run_discovery(store)
    return summary


# -- reading -------------------------------------------------------------------------------
_SELECT = (
    "SELECT asset_id AS id, class, confidence, vendor, model, os, os_unsupported, macs, ips, "
    "hostnames, first_seen, last_seen, subnet, zone, protocols, sources FROM asset"
)


def list_assets(store: Store, cls: str | None = None) -> list[dict[str, Any]]:
    """Every device (of one class), by class then id; each with its evidence."""
    if cls is not None and cls not in cl.CLASSES:
        raise RequestError(f"unknown class {cls!r}; use one of {', '.join(cl.CLASSES)}")
    where, params = ("WHERE class = ?", [cls]) if cls else ("", [])
    rows: list[dict[str, Any]] = store.arrow(
        f"{_SELECT} {where} ORDER BY class, id", params
    ).to_pylist()
    evidence: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in store.arrow(
        "SELECT asset_id, source, observation, class, weight FROM asset_evidence "
        + ("WHERE asset_id IN (SELECT asset_id FROM asset WHERE class = ?) " if cls else "")
        + "ORDER BY asset_id, weight DESC, source, observation",
        params,
    ).to_pylist():
        evidence[item.pop("asset_id")].append(item)
    for row in rows:
        row["evidence"] = evidence.get(row["id"], [])
    return rows


def show_asset(store: Store, asset_id: str) -> dict[str, Any]:
    """One device by id, MAC, IP address or host name (the latest holder of an address)."""
    key = asset_id.strip().lower()
    found = store.arrow(
        f"{_SELECT} WHERE lower(asset_id) = ? OR list_contains(macs, ?) "
        "OR list_contains(ips, ?) OR list_contains(hostnames, ?) "
        "ORDER BY lower(asset_id) = ? DESC, last_seen DESC NULLS LAST LIMIT 1",
        [key, key, key, key, key],
    ).to_pylist()
    if not found:
        raise RequestError(f"no device {asset_id!r} (an asset id, MAC, IP or host name)")
    row: dict[str, Any] = found[0]
    row["evidence"] = store.arrow(
        "SELECT source, observation, class, weight FROM asset_evidence WHERE asset_id = ? "
        "ORDER BY weight DESC, source, observation",
        [row["id"]],
    ).to_pylist()
    return row


@dataclass(frozen=True)
class ClassCount:
    cls: str
    devices: int
    mean_confidence: float
    low_confidence: int  # under 0.5


def inventory_by_class(store: Store) -> list[ClassCount]:
    rows = store.query(
        "SELECT class, count(*), avg(confidence), count(*) FILTER (WHERE confidence < 0.5) "
        "FROM asset GROUP BY class"
    )
    order = {name: i for i, name in enumerate(cl.CLASSES)}
    return [
        ClassCount(str(c), int(n), round(float(m or 0), 3), int(low))
        for c, n, m, low in sorted(rows, key=lambda r: order.get(r[0], 99))
    ]


# -- evaluation ----------------------------------------------------------------------------
@dataclass
class ClassScore:
    devices: int = 0
    correct: int = 0
    predicted: Counter[str] = field(default_factory=Counter)

    @property
    def accuracy(self) -> float:
        return self.correct / self.devices if self.devices else 0.0


@dataclass
class AssetEvaluation:
    devices: int
    correct: int
    by_class: dict[str, ClassScore]
    merged: list[dict[str, Any]]  # an asset holding two or more true devices
    split: list[dict[str, Any]]  # a true device spread over two or more assets
    missed: list[str]  # true devices no asset matches

    @property
    def accuracy(self) -> float:
        return self.correct / self.devices if self.devices else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "devices": self.devices,
            "correct": self.correct,
            "accuracy": round(self.accuracy, 4),
            "by_class": {
                name: {
                    "devices": s.devices,
                    "correct": s.correct,
                    "accuracy": round(s.accuracy, 4),
                    "predicted": dict(s.predicted.most_common()),
                }
                for name, s in self.by_class.items()
            },
            "merged": self.merged,
            "split": self.split,
            "missed": self.missed,
        }


def read_truth(path: Path) -> list[dict[str, Any]]:
    """``devices_truth.jsonl``: one device a line with ``id``, ``class``, ``macs``, ``ips``
    and ``static`` (an address of its own, not leased)."""
    out: list[dict[str, Any]] = []
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        raise ConfigError("truth file not found", path=str(path)) from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"line {number}: not JSON: {exc}", path=str(path)) from None
        if not isinstance(doc, dict) or not {"id", "class"} <= set(doc):
            raise ConfigError(f"line {number}: a device needs id and class", path=str(path))
        if doc["class"] not in cl.CLASSES:
            raise ConfigError(f"line {number}: unknown class {doc['class']!r}", path=str(path))
        out.append(doc)
    return out


def evaluate_assets(store: Store, truth: list[dict[str, Any]]) -> AssetEvaluation:
    """The stored inventory against the true devices: a true device matches the assets that
    share one of its MACs, or (a statically addressed device) the asset of its address."""
    assets = store.arrow("SELECT asset_id, identity, class, macs FROM asset").to_pylist()
    by_mac: dict[str, set[str]] = defaultdict(set)
    by_identity: dict[str, str] = {}
    classes: dict[str, str] = {}
    for a in assets:
        classes[a["asset_id"]] = a["class"]
        by_identity[a["identity"]] = a["asset_id"]
        for mac in a["macs"] or []:
            by_mac[mac].add(a["asset_id"])
    holders: dict[str, list[str]] = defaultdict(list)
    by_class: dict[str, ClassScore] = {}
    correct = 0
    split: list[dict[str, Any]] = []
    missed: list[str] = []
    for device in truth:
        found: set[str] = set()
        for mac in device.get("macs") or []:
            found |= by_mac.get(str(mac).lower(), set())
        if not found and device.get("static"):
            for ip in device.get("ips") or []:
                if f"ip:{ip}" in by_identity:
                    found.add(by_identity[f"ip:{ip}"])
        score = by_class.setdefault(device["class"], ClassScore())
        score.devices += 1
        for asset_id in found:
            holders[asset_id].append(str(device["id"]))
        if not found:
            missed.append(str(device["id"]))
            score.predicted["(missed)"] += 1
            continue
        if len(found) > 1:
            split.append({"device": device["id"], "assets": sorted(found)})
        predicted = Counter(classes[a] for a in found).most_common(1)[0][0]
        score.predicted[predicted] += 1
        if predicted == device["class"] and len(found) == 1:
            score.correct += 1
            correct += 1
    merged = [
        {"asset": asset_id, "devices": sorted(devices)}
        for asset_id, devices in sorted(holders.items())
        if len(devices) > 1
    ]
    order = {name: i for i, name in enumerate(cl.CLASSES)}
    return AssetEvaluation(
        devices=len(truth),
        correct=correct,
        by_class=dict(sorted(by_class.items(), key=lambda kv: order[kv[0]])),
        merged=merged,
        split=split,
        missed=missed,
    )
