"""`carewarden detect`: explain every access, then run every detection over the store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from carewarden.detect.behaviour import BehaviourModel
from carewarden.detect.engine import DetectContext, DetectSummary, builtin_detectors, run_detectors
from carewarden.detect.explain import ExplainSummary, explain_accesses
from carewarden.detect.policy import PrivacyPolicy
from carewarden.store import Store


@dataclass
class DetectionRun:
    explained: ExplainSummary
    alerts: DetectSummary


def detect(store: Store, *, policy: Path | None = None, site_tz: str = "UTC") -> DetectionRun:
    """Rebuild the access explanations under ``policy`` (default: the shipped one), then run
    the rules; alerts already in the store are not added again."""
    loaded = PrivacyPolicy.load(policy)
    explained = explain_accesses(store, loaded, site_tz)
    parameters = {**loaded.thresholds, "site_tz": site_tz}
    context = DetectContext(site_tz=site_tz, parameters=parameters)
    alerts = run_detectors(store, [*builtin_detectors(), BehaviourModel()], context)
    return DetectionRun(explained, alerts)
