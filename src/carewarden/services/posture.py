"""The posture overview across the defense layers: what is monitored, open alerts by layer
and severity, and alerts over time. Read-only; every table it counts may be absent (a layer
whose connectors are not installed shows as not monitored)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from carewarden.store import Store


@dataclass(frozen=True)
class LayerSpec:
    key: str  # the rule id prefix of its alerts
    name: str
    tables: tuple[str, ...]  # what it monitors
    not_yet: str  # shown when nothing is monitored


LAYERS: tuple[LayerSpec, ...] = (
    LayerSpec(
        "privacy",
        "EHR privacy",
        ("ehr_access",),
        "ingest an EHR audit trail: carewarden ingest fhir|access-csv",
    ),
    LayerSpec(
        "iomt",
        "Medical devices (IoMT)",
        ("sbom", "vuln_finding"),
        "ingest SBOMs and advisories: carewarden ingest sbom|advisories",
    ),
    LayerSpec(
        "network",
        "Network",
        ("network_activity",),
        "Suricata and Zeek connectors are not in this build yet",
    ),
    LayerSpec(
        "endpoint",
        "Endpoint",
        ("process_activity",),
        "Windows event and EDR connectors are not in this build yet",
    ),
)


@dataclass
class Layer:
    key: str
    name: str
    monitored: bool
    rows: dict[str, int]
    note: str
    open_by_severity: dict[str, int] = field(default_factory=dict)

    @property
    def open_alerts(self) -> int:
        return sum(self.open_by_severity.values())


@dataclass
class Posture:
    layers: list[Layer]
    open_by_severity: dict[str, int]
    total_alerts: int
    # (day, severity, alerts first seen that day), over the last 30 days with alerts
    trend: list[tuple[dt.date, str, int]]
    last_event: dt.datetime | None

    @property
    def empty(self) -> bool:
        return self.total_alerts == 0 and not any(layer.monitored for layer in self.layers)


def _tables(store: Store) -> set[str]:
    return {str(r[0]) for r in store.query("SELECT table_name FROM information_schema.tables")}


def posture(store: Store, *, days: int = 30) -> Posture:
    present = _tables(store)
    open_rows = store.query(
        "SELECT split_part(rule_id, '.', 1), severity, count(*) FROM alert "
        "WHERE status <> 'closed' GROUP BY ALL"
    )
    by_layer: dict[str, dict[str, int]] = {}
    overall: dict[str, int] = {}
    for layer_key, severity, count in open_rows:
        by_layer.setdefault(str(layer_key), {})[str(severity)] = int(count)
        overall[str(severity)] = overall.get(str(severity), 0) + int(count)
    layers = []
    for spec in LAYERS:
        rows = {
            t: int(store.query(f"SELECT count(*) FROM {t}")[0][0])
            for t in spec.tables
            if t in present
        }
        monitored = any(rows.values())
        layers.append(
            Layer(
                spec.key,
                spec.name,
                monitored,
                rows,
                "" if monitored else spec.not_yet,
                by_layer.pop(spec.key, {}),
            )
        )
    for key, counts in sorted(by_layer.items()):  # alerts of layers this build does not know
        layers.append(Layer(key, key, True, {}, "", counts))
    total = int(store.query("SELECT count(*) FROM alert")[0][0])
    trend = [
        (d, str(s), int(n))
        for d, s, n in store.query(
            "SELECT first_seen::DATE AS day, severity, count(*) FROM alert "
            "WHERE first_seen >= (SELECT max(first_seen) FROM alert) - to_days(?) "
            "GROUP BY ALL ORDER BY day, severity",
            [days],
        )
    ]
    last_event = store.query("SELECT max(time) FROM ehr_access")[0][0]
    return Posture(layers, overall, total, trend, last_event)
