"""The posture overview across the defense layers: what is monitored, open alerts by layer
and severity, and alerts over time. Read-only; every table it counts may be absent (a layer
whose connectors are not installed shows as not monitored)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from carewarden.store import Store


@dataclass(frozen=True)
class LayerSpec:
    key: str
    name: str
    rule_prefixes: tuple[str, ...]  # rule id prefixes of its own (non-Sigma) alerts
    counts: tuple[tuple[str, str, str], ...]  # what it monitors: (label, table, SQL condition)
    not_yet: str  # shown when nothing is monitored


# OCSF classes of the security_event table by layer: network (4xxx), the rest from endpoints.
_NETWORK = "class_uid BETWEEN 4000 AND 4999"
_ENDPOINT = f"NOT coalesce({_NETWORK}, false)"

LAYERS: tuple[LayerSpec, ...] = (
    LayerSpec(
        "privacy",
        "EHR privacy",
        ("privacy.",),
        (("ehr_access", "ehr_access", "true"),),
        "ingest an EHR audit trail: carewarden ingest fhir|access-csv",
    ),
    LayerSpec(
        "iomt",
        "Medical devices (IoMT)",
        ("iomt.", "vuln.", "assets."),
        (
            ("devices", "asset", "true"),
            ("sbom", "sbom", "true"),
            ("vuln_finding", "vuln_finding", "true"),
        ),
        "discover devices and ingest SBOMs: carewarden assets discover, ingest sbom|advisories",
    ),
    LayerSpec(
        "network",
        "Network",
        ("network.", "segmentation."),
        (("network events", "security_event", _NETWORK),),
        "ingest network telemetry: carewarden ingest suricata|zeek",
    ),
    LayerSpec(
        "endpoint",
        "Endpoint",
        ("endpoint.",),
        (("endpoint events", "security_event", _ENDPOINT),),
        "ingest Windows events: carewarden ingest evtx|winjson",
    ),
    LayerSpec(
        "dr",
        "Disaster recovery",
        ("dr.",),
        (("backup sets", "dr_backup_set", "true"),),
        "import a backup inventory: carewarden dr import FILE",
    ),
)

# Sigma alerts carry the rule's own id: their layer is the rule's log source.
_NETWORK_LOGSOURCES = ("zeek/", "suricata/", "%/firewall/%", "%/dns/%", "%/proxy/%")
_ALERT_LAYER = (
    "CASE "
    + " ".join(
        f"WHEN a.rule_id LIKE '{prefix}%' THEN '{spec.key}'"
        for spec in LAYERS
        for prefix in spec.rule_prefixes
    )
    + " WHEN s.rule_id IS NULL THEN split_part(a.rule_id, '.', 1)"
    + " WHEN "
    + " OR ".join(
        f"s.logsource LIKE '{p if p.startswith('%') else p + '%'}'" for p in _NETWORK_LOGSOURCES
    )
    + " THEN 'network' ELSE 'endpoint' END"
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
        f"SELECT {_ALERT_LAYER}, a.severity, count(*) FROM alert a "
        "LEFT JOIN sigma_rule s USING (rule_id) WHERE a.status <> 'closed' GROUP BY ALL"
    )
    by_layer: dict[str, dict[str, int]] = {}
    overall: dict[str, int] = {}
    for layer_key, severity, count in open_rows:
        by_layer.setdefault(str(layer_key), {})[str(severity)] = int(count)
        overall[str(severity)] = overall.get(str(severity), 0) + int(count)
    layers = []
    for spec in LAYERS:
        rows = {
            label: int(store.query(f"SELECT count(*) FROM {table} WHERE {condition}")[0][0])
            for label, table, condition in spec.counts
            if table in present
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
