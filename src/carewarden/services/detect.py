"""`carewarden detect`: explain every access, then run every detection over the store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from carewarden.detect.behaviour import BehaviourModel
from carewarden.detect.engine import DetectContext, DetectSummary, builtin_detectors, run_detectors
from carewarden.detect.explain import ExplainSummary, explain_accesses
from carewarden.detect.policy import PrivacyPolicy
from carewarden.errors import ConfigError
from carewarden.sigma.detector import SigmaDetector
from carewarden.store import Store


@dataclass
class DetectionRun:
    explained: ExplainSummary
    alerts: DetectSummary


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


def detect(store: Store, *, policy: Path | None = None, site_tz: str | None = None) -> DetectionRun:
    """Rebuild the access explanations under ``policy`` (default: the shipped one), then run
    the rules; alerts already in the store are not added again."""
    site_tz = site_timezone(store, site_tz)
    loaded = PrivacyPolicy.load(policy)
    explained = explain_accesses(store, loaded, site_tz)
    context = DetectContext(site_tz=site_tz, parameters=dict(loaded.thresholds))
    alerts = run_detectors(
        store, [*builtin_detectors(), BehaviourModel(), SigmaDetector()], context
    )
    return DetectionRun(explained, alerts)
