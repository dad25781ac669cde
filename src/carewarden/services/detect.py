"""`carewarden detect`: explain every access, run every detection over the store, check
disaster-recovery readiness and network segmentation, rebuild the device inventory,
record the patch plan's snapshot (patch compliance), then group the new alerts into cases."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from carewarden.access.break_glass import drain
from carewarden.detect.behaviour import BehaviourModel
from carewarden.detect.engine import DetectContext, DetectSummary, builtin_detectors, run_detectors
from carewarden.detect.explain import ExplainSummary, explain_accesses
from carewarden.detect.policy import PrivacyPolicy
from carewarden.errors import ConfigError
from carewarden.iomt.inventory import DiscoverySummary
from carewarden.prepare.case_settings import CaseSettings, load_case_settings
from carewarden.prepare.correlate import CorrelationSummary, correlate
from carewarden.services.assets import run_discovery
from carewarden.services.dr import ReadinessDetector, has_inventory
from carewarden.services.gateway_audit import GatewayAuditIngest, ingest_gateway_audit
from carewarden.services.patch_plan import PatchPlan, plan_and_record
from carewarden.services.segmentation import detector_for
from carewarden.sigma.detector import SigmaDetector
from carewarden.store import Store


@dataclass
class DetectionRun:
    explained: ExplainSummary
    alerts: DetectSummary
    cases: CorrelationSummary
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each phase
    break_glass: int = 0  # break-the-glass decisions of the access PDP turned into alerts
    assets: DiscoverySummary | None = None  # the device inventory, rebuilt
    gateway_audit: GatewayAuditIngest = field(default_factory=GatewayAuditIngest)
    patch_plan: PatchPlan | None = None  # recorded as a compliance snapshot; None: no device


def site_timezone(store: Store, requested: str | None) -> str:
    """The site's time zone: the one recorded in the store, set on first use. Alerts are
    keyed per site day, so detecting in another zone would repeat them."""
    recorded = store.setting("site_tz")
    zone = requested or recorded or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {zone!r} (use an IANA name)") from None
    if recorded and recorded != zone:
        raise ConfigError(
            f"this store's site time zone is {recorded}; alerts are per site day, so detection "
            f"must keep using it (omit --tz, or start a new store for {zone})"
        )
    if not recorded:
        store.set_setting("site_tz", zone)
    return zone


def detect(
    store: Store,
    *,
    policy: Path | None = None,
    site_tz: str | None = None,
    cases: CaseSettings | None = None,
    dr_at: dt.datetime | None = None,
) -> DetectionRun:
    """Rebuild the access explanations under ``policy`` (default: the shipped one), run
    the rules (alerts already in the store are not added again), then put the alerts not yet
    in a case into cases under ``cases`` (default: the shipped ``cases.yaml``). First, the FHIR
    gateway's audit spool is ingested into ``ehr_access``, and break-the-glass decisions the
    access decision point queued become alerts and review tasks. The disaster-recovery
    inventory, where one was imported, is assessed at ``dr_at`` (default now) and its findings
    become alerts (``services/dr.py``). With a segmentation policy saved in the store, observed
    flows are checked too."""
    settings = cases if cases is not None else load_case_settings()
    site_tz = site_timezone(store, site_tz)
    gateway = ingest_gateway_audit(store)
    queued = drain(store)
    loaded = PrivacyPolicy.load(policy)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    explained = explain_accesses(store, loaded, site_tz)
    seconds["explanations"] = time.perf_counter() - started
    context = DetectContext(site_tz=site_tz, parameters=dict(loaded.thresholds))
    started = time.perf_counter()
    alerts = run_detectors(store, builtin_detectors(), context)
    seconds["rules"] = time.perf_counter() - started
    started = time.perf_counter()
    behaviour = run_detectors(store, [BehaviourModel()], context)
    seconds["behaviour"] = time.perf_counter() - started
    alerts.merge(behaviour)
    started = time.perf_counter()
    alerts.merge(run_detectors(store, [SigmaDetector()], context))
    seconds["sigma"] = time.perf_counter() - started
    if has_inventory(store):
        started = time.perf_counter()
        alerts.merge(run_detectors(store, [ReadinessDetector(dr_at)], context))
        seconds["dr"] = time.perf_counter() - started
    segmentation = detector_for(store)  # only when a policy is saved in the store
    if segmentation is not None:
        started = time.perf_counter()
        alerts.merge(run_detectors(store, [segmentation], context))
        seconds["segmentation"] = time.perf_counter() - started
    started = time.perf_counter()
    inventory = run_discovery(store)
    seconds["assets"] = time.perf_counter() - started
    plan = None
    if inventory.devices:
        started = time.perf_counter()
        plan = plan_and_record(store, "detect")
        seconds["patch_plan"] = time.perf_counter() - started
    started = time.perf_counter()
    grouped = correlate(store, settings)
    seconds["cases"] = time.perf_counter() - started
    return DetectionRun(
        explained,
        alerts,
        grouped,
        seconds,
        queued,
        inventory,
        gateway_audit=gateway,
        patch_plan=plan,
    )
