"""Device risk and the prioritized patch plan, with patch compliance over time.

**Devices to SBOMs.** A device of the inventory runs the SBOM product whose name equals its
model once case, spaces and punctuation are dropped (``InfuStar300`` from a user agent is the
``InfuStar 300`` of the SBOM). A models file (YAML, ``{asset model or asset id: SBOM
product}``) links the others; an asset id entry wins over a model entry. The vendor is not
compared: the MAC vendor of a pump is often the maker of its Wi-Fi module. A device without an
SBOM is still scored, on exposure, operating system and class.

**Exposure facts.** From the connection records (Zeek ``conn`` and ``http``, Suricata flows) of
the device's addresses: flows to or from a public address make it internet-reachable (so does
a saved segmentation policy that allows its address to reach the internet zone); flows on a
cleartext port of the config, served or used, are cleartext. Default credentials come from the
config's ``default_credentials`` list.

**The plan.** One item per (SBOM product, vulnerability): "update the 13 InfuStar 300 pumps".
Its risk is the highest device risk with that vulnerability as the exploitability; its due date
is the first detection plus the SLA days (KEV 14, CVSS critical 30, high 60, medium 90, low
180). First detection is the earliest of: the item's first recorded snapshot, and the time the
store held both the SBOM and the advisory (never later than the plan's time). The fix is the
first fixed version the matched range names; where none is known the plan lists the
compensating actions of the device class. Items are ordered by risk, then due date.

**Compliance.** ``record`` stores the open items as a dated snapshot; an item open in one
snapshot and absent from the next was remediated at the later snapshot's time, on time when
that is not after its due date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import yaml

from carewarden.errors import CarewardenError, ConfigError
from carewarden.iomt import risk as rk
from carewarden.iomt.segmentation import FLOW_PROVIDERS
from carewarden.iomt.segmentation_policy import Evaluator, SegmentationPolicy, ZoneMap
from carewarden.services.segmentation import saved_policy
from carewarden.services.vulns import match
from carewarden.store import Store
from carewarden.store.store import utcnow

CONFIG_KEY = "patch_plan.config"
MODELS_KEY = "patch_plan.models"
PROVIDERS = (*FLOW_PROVIDERS, "zeek/http")
PROBE = "192.0.2.1"  # TEST-NET-1: an address of the internet zone, for the policy question
NOUNS = {
    "infusion_pump": "pump(s)",
    "patient_monitor": "monitor(s)",
    "imaging_modality": "modality(ies)",
    "pacs": "PACS server(s)",
    "lab_analyzer": "analyzer(s)",
    "nurse_call": "nurse call device(s)",
    "workstation": "workstation(s)",
    "server": "server(s)",
    "printer": "printer(s)",
}
# Not a public address: RFC 1918, loopback, link-local, CGNAT, "this network", multicast and
# reserved IPv4; IPv6 loopback, unique-local, link-local and multicast (fc00::/7, fe80::/10,
# ff00::/8).
_NOT_PUBLIC = (
    r"^(10\.|127\.|0\.|169\.254\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\."
    r"|100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.|2(2[4-9]|[3-5][0-9])\.|::1?$|f[c-f][0-9a-f]*:)"
)


# -- models file ---------------------------------------------------------------------------
def load_models(path: Path) -> dict[str, str]:
    """The models file: ``{asset model or asset id: SBOM product}`` (YAML mapping)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("models file not found", path=str(path)) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid YAML: {exc}", path=str(path)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("a models file maps an asset model or id to an SBOM product "
                          "(`InfuStar300: InfuStar 300`)", path=str(path))
    out: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str | int) or not isinstance(value, str) or not value.strip():
            raise ConfigError(f"entry {key!r}: give an SBOM product name as text", path=str(path))
        out[str(key)] = value.strip()
    return out


def settings(store: Store, config: Path | None, models: Path | None, *,
             save: bool = False) -> tuple[rk.RiskConfig, dict[str, str]]:
    """The config and models mapping: the files given, else those recorded in the store
    (by an earlier ``patch-plan --record``), else the shipped defaults; recorded when
    ``save`` so ``carewarden detect`` plans the same way."""
    if config is not None:
        loaded = rk.load_config(config)
        if save:
            store.set_setting(CONFIG_KEY, loaded.model_dump_json())
    else:
        text = store.setting(CONFIG_KEY)
        loaded = rk.RiskConfig.model_validate_json(text) if text else rk.load_config()
    if models is not None:
        mapping = load_models(models)
        if save:
            store.set_setting(MODELS_KEY, orjson.dumps(mapping).decode())
    else:
        text = store.setting(MODELS_KEY)
        mapping = orjson.loads(text) if text else {}
    return loaded, mapping


# -- results -------------------------------------------------------------------------------
@dataclass
class DeviceRisk:
    asset_id: str
    cls: str
    vendor: str | None
    model: str | None
    product: str | None  # the SBOM product it runs, None when no SBOM is linked
    ips: list[str]
    zone: str | None
    os: str | None
    risk: rk.Risk
    worst: rk.Finding | None
    findings: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "asset_id": self.asset_id, "class": self.cls, "vendor": self.vendor,
            "model": self.model, "product": self.product, "ips": self.ips, "zone": self.zone,
            "os": self.os, "risk": self.risk.score, "why": self.risk.why(),
            "factors": self.risk.as_dict()["factors"],
            "worst": self.worst.vuln_id if self.worst else None, "findings": self.findings,
        }


ITEM_FIELDS: tuple[str, ...] = (
    "priority", "item_id", "target", "class", "vendor", "devices", "vuln_id", "aliases",
    "components", "kev", "epss", "cvss", "severity", "risk", "why", "first_detected",
    "sla_days", "sla_rule", "due", "overdue", "days_left", "fix", "actions", "device_ids",
    "matched_range", "source",
)


@dataclass
class PlanItem:
    item_id: str
    target: str  # the SBOM product (device model)
    cls: str
    vendor: str | None
    device_ids: list[str]
    vuln_id: str
    aliases: list[str]
    components: list[str]  # "openssl 1.0.1f"
    kev: bool
    epss: float | None
    cvss: float | None
    severity: str
    risk: int
    why: str
    first_detected: dt.datetime
    sla_days: int
    sla_rule: str
    due: dt.datetime
    overdue: bool
    days_left: int
    fix: list[str]  # "openssl 1.0.1f -> 1.0.1g"; empty when no fixed version is known
    actions: list[str]
    matched_range: str
    source: str
    priority: int = 0

    @property
    def devices(self) -> int:
        return len(self.device_ids)

    def as_dict(self) -> dict[str, Any]:
        row = {name: getattr(self, name, None) for name in ITEM_FIELDS}
        row["class"] = self.cls
        return row


@dataclass
class PatchPlan:
    at: dt.datetime
    items: list[PlanItem]
    devices: list[DeviceRisk]  # every device, riskiest first
    linked: dict[str, str] = field(default_factory=dict)  # asset id -> SBOM product

    @property
    def overdue(self) -> int:
        return sum(1 for i in self.items if i.overdue)


# -- gathering -----------------------------------------------------------------------------
def _exposure(store: Store, config: rk.RiskConfig) -> tuple[dict[str, str], dict[str, set[str]]]:
    """asset id -> why it is internet-reachable; asset id -> cleartext protocols seen."""
    providers = ", ".join(f"'{p}'" for p in PROVIDERS)
    ips = "SELECT DISTINCT asset_id, unnest(ips) AS ip FROM asset"
    public: dict[str, str] = {}
    for asset_id, remote, peers in store.query(
        f"""
        WITH ip AS ({ips}), f AS (
            SELECT src_ip AS local, dst_ip AS remote FROM security_event
            WHERE provider IN ({providers}) AND dst_ip IS NOT NULL
            UNION ALL
            SELECT dst_ip, src_ip FROM security_event
            WHERE provider IN ({providers}) AND src_ip IS NOT NULL
        )
        SELECT i.asset_id, min(f.remote), count(DISTINCT f.remote)
        FROM f JOIN ip i ON i.ip = f.local
        WHERE NOT regexp_matches(lower(f.remote), ?)
          AND (f.remote LIKE '%.%' OR f.remote LIKE '%:%')
        GROUP BY i.asset_id
        """,
        [_NOT_PUBLIC],
    ):
        more = f" and {peers - 1} more" if peers > 1 else ""
        public[str(asset_id)] = f"flows with public address {remote}{more}"
    cleartext: dict[str, set[str]] = defaultdict(set)
    ports = config.ports
    if ports:
        wanted = ", ".join(str(p) for p in sorted({p for p, _ in ports}))
        for asset_id, role, port, proto in store.query(
            f"""
            WITH ip AS ({ips}), f AS (
                SELECT src_ip, dst_ip, TRY_CAST(dst_port AS INTEGER) AS port,
                       CASE WHEN provider = 'zeek/http' THEN 'tcp'
                            ELSE lower(coalesce(json_extract_string(raw, '$.proto'), 'tcp'))
                       END AS proto
                FROM security_event
                WHERE provider IN ({providers}) AND TRY_CAST(dst_port AS INTEGER) IN ({wanted})
            )
            SELECT DISTINCT i.asset_id, 'uses', f.port, f.proto FROM f
            JOIN ip i ON i.ip = f.src_ip
            UNION
            SELECT DISTINCT i.asset_id, 'serves', f.port, f.proto FROM f
            JOIN ip i ON i.ip = f.dst_ip
            """
        ):
            proto = {"6": "tcp", "17": "udp"}.get(str(proto), str(proto))
            name = ports.get((int(port), proto))
            if name is not None:
                cleartext[str(asset_id)].add(f"{role} {name} {proto}/{port}")
    return public, cleartext


def _policy_zones(
    store: Store, assets: list[dict[str, Any]], at: dt.datetime
) -> tuple[dict[str, str], dict[str, str]]:
    """With a saved segmentation policy: asset id -> its zone, and asset id -> why the policy
    lets it reach the internet zone."""
    path = saved_policy(store)
    if path is None:
        return {}, {}
    try:
        policy = SegmentationPolicy.load(path)
    except CarewardenError:
        return {}, {}
    by_class: dict[str, list[str]] = defaultdict(list)
    for a in assets:
        by_class[a["class"]] += a["ips"] or []
    evaluator = Evaluator(policy, at.date(), ZoneMap.build(policy, by_class))
    has_internet = any(z.internet for z in policy.zones)
    zones: dict[str, str] = {}
    reach: dict[str, str] = {}
    for a in assets:
        for ip in a["ips"] or []:
            verdict = evaluator.decide(ip, PROBE, "tcp", 443)
            if verdict.src_zone:
                zones.setdefault(a["asset_id"], verdict.src_zone)
            if has_internet and verdict.allowed:
                reach[a["asset_id"]] = f"the segmentation policy allows it ({verdict.reason})"
                break
    return zones, reach


def _products(store: Store) -> dict[str, tuple[str, str | None]]:
    """normal(product) -> (product as the SBOM names it, its supplier); the latest SBOM."""
    out: dict[str, tuple[str, str | None]] = {}
    for product, supplier in store.query(
        "SELECT s.product, s.supplier FROM sbom s LEFT JOIN source_file f USING (file_id) "
        "ORDER BY s.created NULLS FIRST, f.ingested_at NULLS FIRST, s.sbom_id"
    ):
        out[rk.normal(product)] = (str(product), supplier)
    return out


def link(
    assets: list[dict[str, Any]],
    products: dict[str, tuple[str, str | None]],
    models: dict[str, str],
) -> dict[str, str]:
    """asset id -> SBOM product (module docstring: models file by id, by model, then names)."""
    by_model = {rk.normal(k): v for k, v in models.items()}
    out: dict[str, str] = {}
    for a in assets:
        named = models.get(a["asset_id"]) or by_model.get(rk.normal(a["model"]))
        if named is not None:
            out[a["asset_id"]] = products.get(rk.normal(named), (named, None))[0]
        elif a["model"] and rk.normal(a["model"]) in products:
            out[a["asset_id"]] = products[rk.normal(a["model"])][0]
    return out


def _findings(store: Store) -> dict[str, list[dict[str, Any]]]:
    """SBOM product -> its findings not suppressed by VEX, each with the time the store first
    held both its SBOM and its advisory."""
    rows = store.arrow(
        """
        SELECT v.product, v.component, v.component_version, v.vuln_id, v.aliases, v.kev,
               v.epss, v.cvss, v.matched_range, v.source,
               greatest(fs.ingested_at, fa.ingested_at) AS known_at
        FROM vuln_finding v
        LEFT JOIN sbom s ON s.sbom_id = v.sbom_id
        LEFT JOIN source_file fs ON fs.file_id = s.file_id
        LEFT JOIN advisory a ON a.advisory_id = v.advisory_id
        LEFT JOIN source_file fa ON fa.file_id = a.file_id
        WHERE NOT v.suppressed
        ORDER BY v.product, v.vuln_id, v.component, v.component_version
        """
    ).to_pylist()
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        out[rk.normal(row["product"])].append(row)
    return out


def item_id(target: str, vuln_id: str) -> str:
    return hashlib.blake2b(f"{rk.normal(target)}\x1f{vuln_id.upper()}".encode(),
                           digest_size=8).hexdigest()


def _first_seen(store: Store, at: dt.datetime) -> dict[str, dt.datetime]:
    return {
        str(i): t
        for i, t in store.query(
            "SELECT i.item_id, min(i.first_detected) FROM patch_snapshot_item i "
            "JOIN patch_snapshot s USING (snapshot_id) WHERE s.taken_at <= ? GROUP BY i.item_id",
            [at],
        )
    }


def _as_finding(row: dict[str, Any]) -> rk.Finding:
    return rk.Finding(
        row["vuln_id"], bool(row["kev"]), row["epss"], row["cvss"],
        f"{row['component']} {row['component_version'] or ''}".strip(),
    )


# -- the plan ------------------------------------------------------------------------------
def build_plan(
    store: Store,
    config: rk.RiskConfig | None = None,
    models: dict[str, str] | None = None,
    *,
    at: dt.datetime | None = None,
) -> PatchPlan:
    """Every device's risk and the plan at ``at`` (default now), from the stored inventory,
    findings and flows (read-only)."""
    config = config or rk.load_config()
    at = at or utcnow()
    assets = store.arrow(
        "SELECT asset_id, class, vendor, model, os, coalesce(os_unsupported, false) AS eos, "
        "ips, macs, hostnames, zone FROM asset ORDER BY asset_id"
    ).to_pylist()
    products = _products(store)
    linked = link(assets, products, models or {})
    by_product = _findings(store)
    public, cleartext = _exposure(store, config) if assets else ({}, {})
    zones, reach = _policy_zones(store, assets, at) if assets else ({}, {})
    defaults = {rk.normal(x) for x in config.default_credentials}

    facts: dict[str, rk.Device] = {}
    devices: list[DeviceRisk] = []
    for a in assets:
        keys = {a["asset_id"], a["model"], *(a["macs"] or []), *(a["ips"] or []),
                *(a["hostnames"] or [])}
        device = rk.Device(
            a["asset_id"], a["class"], a["os"], bool(a["eos"]),
            public.get(a["asset_id"]) or reach.get(a["asset_id"]),
            tuple(sorted(cleartext.get(a["asset_id"], ()))),
            any(rk.normal(k) in defaults for k in keys if k),
        )
        facts[a["asset_id"]] = device
        product = linked.get(a["asset_id"])
        own = [_as_finding(f) for f in by_product.get(rk.normal(product), [])] if product else []
        worst = rk.worst(own, config)
        devices.append(DeviceRisk(
            a["asset_id"], a["class"], a["vendor"], a["model"], product, a["ips"] or [],
            zones.get(a["asset_id"]) or a["zone"], a["os"], rk.score(device, worst, config),
            worst, len(own),
        ))
    devices.sort(key=lambda d: (-d.risk.score, d.asset_id))

    members: dict[str, list[str]] = defaultdict(list)
    for asset_id, product in linked.items():
        members[rk.normal(product)].append(asset_id)
    first_seen = _first_seen(store, at)
    meta = {d.asset_id: d for d in devices}
    items: list[PlanItem] = []
    for key, rows in by_product.items():
        by_vuln: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_vuln[row["vuln_id"]].append(row)
        ids = sorted(members.get(key, []))
        for found in by_vuln.values():
            items.append(_item(found, ids, meta, facts, products.get(key), first_seen, config,
                               at))
    items.sort(key=lambda i: (-i.risk, i.due, -i.devices, i.target, i.vuln_id))
    for n, item in enumerate(items, 1):
        item.priority = n
    return PatchPlan(at, items, devices, linked)


def _item(
    found: list[dict[str, Any]],
    ids: list[str],
    meta: dict[str, DeviceRisk],
    facts: dict[str, rk.Device],
    product: tuple[str, str | None] | None,
    first_seen: dict[str, dt.datetime],
    config: rk.RiskConfig,
    at: dt.datetime,
) -> PlanItem:
    head = found[0]
    target = product[0] if product else str(head["product"])
    finding = rk.worst([_as_finding(f) for f in found], config) or _as_finding(head)
    scored = [rk.score(facts[i], finding, config) for i in ids] or [
        rk.score(None, finding, config)
    ]
    top = max(scored, key=lambda r: r.score)
    classes = Counter(meta[i].cls for i in ids)
    cls = classes.most_common(1)[0][0] if classes else "unknown"
    vendors = Counter(meta[i].vendor for i in ids if meta[i].vendor)
    vendor = (product[1] if product and product[1] else None) or (
        vendors.most_common(1)[0][0] if vendors else None
    )
    zones = Counter(meta[i].zone for i in ids if meta[i].zone)
    zone = f"zone {zones.most_common(1)[0][0]}" if zones else "a zone of their own"
    key = item_id(target, str(head["vuln_id"]))
    known = [f["known_at"] for f in found if f["known_at"] is not None]
    first = min([*known, *([first_seen[key]] if key in first_seen else []), at])
    days, rule = rk.sla_days(finding, config)
    due = first + dt.timedelta(days=days)
    components = sorted({f"{f['component']} {f['component_version'] or ''}".strip()
                         for f in found})
    fixes: list[str] = []
    unfixed: list[str] = []
    for f in found:
        fixed = rk.fixed_version(f["matched_range"], f["component_version"])
        name = f"{f['component']} {f['component_version'] or ''}".strip()
        if fixed:
            fixes.append(f"{name} -> {fixed}")
        else:
            unfixed.append(name)
    noun = NOUNS.get(cls, "device(s)")
    actions: list[str] = []
    for fix in sorted(set(fixes)):
        actions.append(
            f"Update the {len(ids)} {target} {noun}: {fix} or later "
            "(the manufacturer's validated update)"
            if ids
            else f"Update {target}: {fix} or later (no device of this model is in the inventory)"
        )
    if unfixed:
        actions += rk.compensating(
            cls,
            {"devices": len(ids), "model": target, "vendor": vendor or "the manufacturer",
             "component": ", ".join(sorted(set(unfixed))), "vuln": head["vuln_id"],
             "zone": zone},
            config,
        )
    if not ids:
        actions.append(f"Confirm whether the site runs {target}: no device of it is in the "
                       "inventory (or link its devices with --models)")
    aliases = sorted({a for f in found for a in (f["aliases"] or [])})
    return PlanItem(
        item_id=key, target=target, cls=cls, vendor=vendor, device_ids=ids,
        vuln_id=str(head["vuln_id"]), aliases=aliases, components=components,
        kev=finding.kev, epss=finding.epss, cvss=finding.cvss,
        severity="KEV" if finding.kev else rk.severity(finding.cvss, config),
        risk=top.score, why=top.why(), first_detected=first, sla_days=days, sla_rule=rule,
        due=due, overdue=due < at, days_left=(due - at).days, fix=sorted(set(fixes)),
        actions=actions, matched_range=str(head["matched_range"] or ""),
        source=str(head["source"] or ""),
    )


# -- compliance ----------------------------------------------------------------------------
def record(store: Store, plan: PatchPlan, origin: str) -> str:
    """Store the plan's open items as a snapshot taken at ``plan.at`` (a snapshot of the same
    time is replaced); return its id."""
    snapshot_id = "PS-" + plan.at.strftime("%Y%m%dT%H%M%S%f")
    items = pa.table({
        "snapshot_id": pa.array([snapshot_id] * len(plan.items), pa.string()),
        "item_id": pa.array([i.item_id for i in plan.items], pa.string()),
        "target": pa.array([i.target for i in plan.items], pa.string()),
        "vuln_id": pa.array([i.vuln_id for i in plan.items], pa.string()),
        "devices": pa.array([i.devices for i in plan.items], pa.int32()),
        "kev": pa.array([i.kev for i in plan.items], pa.bool_()),
        "cvss": pa.array([i.cvss for i in plan.items], pa.float64()),
        "risk": pa.array([i.risk for i in plan.items], pa.int32()),
        "first_detected": pa.array([i.first_detected for i in plan.items], pa.timestamp("us")),
        "due": pa.array([i.due for i in plan.items], pa.timestamp("us")),
    })
    with store.transaction():
        store.query("DELETE FROM patch_snapshot_item WHERE snapshot_id = ?", [snapshot_id])
        store.query("DELETE FROM patch_snapshot WHERE snapshot_id = ?", [snapshot_id])
        store.query(
            "INSERT INTO patch_snapshot VALUES (?, ?, ?, ?, ?, ?, ?)",
            [snapshot_id, plan.at, origin, len(plan.items), plan.overdue, len(plan.devices),
             utcnow()],
        )
        store.append("patch_snapshot_item", items)
    return snapshot_id


@dataclass(frozen=True)
class ComplianceRow:
    snapshot_id: str
    taken_at: dt.datetime
    origin: str
    open: int
    overdue: int
    new: int
    remediated_on_time: int
    remediated_late: int

    @property
    def within_sla(self) -> float | None:
        """Percent of the items accounted for at this snapshot (open, or remediated since the
        previous one) that are within their SLA: open and not overdue, or fixed on time."""
        total = self.open + self.remediated_on_time + self.remediated_late
        if not total:
            return None
        return round(100 * (self.open - self.overdue + self.remediated_on_time) / total, 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.snapshot_id, "taken_at": self.taken_at, "origin": self.origin,
            "open": self.open, "overdue": self.overdue, "new": self.new,
            "remediated_on_time": self.remediated_on_time,
            "remediated_late": self.remediated_late, "within_sla_pct": self.within_sla,
        }


def compliance(store: Store) -> list[ComplianceRow]:
    """Per snapshot, oldest first: open, overdue, new, remediated on time and late."""
    snapshots = store.query(
        "SELECT snapshot_id, taken_at, origin FROM patch_snapshot ORDER BY taken_at, snapshot_id"
    )
    items: dict[str, dict[str, dt.datetime]] = defaultdict(dict)
    for snapshot_id, item, due in store.query(
        "SELECT snapshot_id, item_id, due FROM patch_snapshot_item"
    ):
        items[str(snapshot_id)][str(item)] = due
    out: list[ComplianceRow] = []
    previous: dict[str, dt.datetime] = {}
    for snapshot_id, taken_at, origin in snapshots:
        now = items.get(str(snapshot_id), {})
        gone = [due for item, due in previous.items() if item not in now]
        out.append(ComplianceRow(
            str(snapshot_id), taken_at, str(origin), len(now),
            sum(1 for due in now.values() if due < taken_at),
            sum(1 for item in now if item not in previous),
            sum(1 for due in gone if taken_at <= due),
            sum(1 for due in gone if taken_at > due),
        ))
        previous = now
    return out


def plan_and_record(store: Store, origin: str, *, at: dt.datetime | None = None) -> PatchPlan:
    """Rematch the SBOMs (when the store has any), plan with the store's recorded settings and
    record the snapshot: the ``carewarden detect`` phase."""
    config, models = settings(store, None, None)
    if store.query("SELECT count(*) FROM sbom_component")[0][0]:
        match(store)
    plan = build_plan(store, config, models, at=at)
    record(store, plan, origin)
    return plan


# -- what reports show ---------------------------------------------------------------------
@dataclass
class PlanSummary:
    devices: int
    scored: int  # devices with at least one finding
    items: int
    overdue: int
    kev_items: int
    top_devices: list[DeviceRisk]
    top_items: list[PlanItem]
    compliance: ComplianceRow | None


def summary(store: Store, *, top: int = 10, at: dt.datetime | None = None) -> PlanSummary | None:
    """The riskiest devices and the first plan items; None when the store has no device."""
    if not store.query("SELECT count(*) FROM asset")[0][0]:
        return None
    config, models = settings(store, None, None)
    plan = build_plan(store, config, models, at=at)
    history = compliance(store)
    return PlanSummary(
        devices=len(plan.devices),
        scored=sum(1 for d in plan.devices if d.findings),
        items=len(plan.items),
        overdue=plan.overdue,
        kev_items=sum(1 for i in plan.items if i.kev),
        top_devices=plan.devices[:top],
        top_items=plan.items[:top],
        compliance=history[-1] if history else None,
    )
