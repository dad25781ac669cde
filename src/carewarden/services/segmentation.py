"""Network segmentation use cases: check the observed flows against a policy (writing the
violations as alerts), keep the store's policy, and export the policy as firewall rules.

A store's policy is a copy of the YAML file in the store folder (``segmentation_policy.yaml``,
written by ``carewarden segmentation check --save-policy``). When it is there,
``carewarden detect`` runs the check as one of its phases; when it is not, or when the store
holds no connection records, that phase costs a file lookup or one query.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from carewarden.detect.engine import alerts_table
from carewarden.errors import CarewardenError, RequestError
from carewarden.iomt.segmentation import CheckResult, SegmentationDetector, alerts, check
from carewarden.iomt.segmentation_policy import SegmentationPolicy
from carewarden.store import Store

POLICY_FILE = "segmentation_policy.yaml"


def saved_policy(store: Store) -> Path | None:
    """The policy saved in the store folder, if any."""
    path = store.path / POLICY_FILE
    return path if path.is_file() else None


def save_policy(store: Store, source: Path) -> Path:
    """Validate ``source`` and copy it into the store folder (atomically), where
    ``carewarden detect`` finds it."""
    SegmentationPolicy.load(source)
    target = store.path / POLICY_FILE
    partial = target.with_suffix(".yaml.partial")
    partial.write_bytes(source.read_bytes())
    os.replace(partial, target)
    return target


def load_policy(store: Store | None, path: Path | None) -> tuple[SegmentationPolicy, Path]:
    """The policy at ``path``, else the store's saved one."""
    if path is None and store is not None:
        path = saved_policy(store)
    if path is None:
        raise RequestError(
            "no segmentation policy: give --policy FILE (save it in the store with "
            "--save-policy; an example ships as carewarden/iomt/segmentation_example.yaml)"
        )
    return SegmentationPolicy.load(path), path


@dataclass
class SegmentationRun:
    result: CheckResult
    new_alerts: int
    policy_path: Path


def run_check(
    store: Store,
    policy_path: Path | None,
    *,
    since: dt.datetime | None = None,
    today: dt.date | None = None,
    save: bool = False,
) -> SegmentationRun:
    """Check the store's flows against the policy and record the violations as alerts
    (an alert already stored is refreshed, never repeated)."""
    policy, path = load_policy(store, policy_path)
    if save:
        path = save_policy(store, path)
    result = check(store, policy, today=today, since=since)
    found = alerts(result, policy)
    with store.transaction():
        added = store.add_alerts(alerts_table(found)) if found else 0
    return SegmentationRun(result, added, path)


def detector_for(store: Store) -> SegmentationDetector | None:
    """The detect phase for this store: None when no policy is saved in it."""
    path = saved_policy(store)
    return SegmentationDetector(path) if path is not None else None


@dataclass
class SegmentationSummary:
    """What reports show: whether a policy is saved and the violations found so far."""

    policy: str | None  # the saved policy's name, None when the store has none
    by_rule: dict[str, int]  # alerts per rule id
    open_alerts: int
    top: list[dict[str, object]]  # the highest-scoring alerts: severity, host, explanation…

    @property
    def violations(self) -> int:
        return sum(self.by_rule.values())


def summary(store: Store, *, top: int = 10) -> SegmentationSummary:
    """The segmentation alerts of the store (read-only)."""
    path = saved_policy(store)
    name = None
    if path is not None:
        try:
            name = SegmentationPolicy.load(path).name
        except CarewardenError:
            name = f"{path.name} (invalid)"
    by_rule = {
        str(r): int(n)
        for r, n in store.query(
            "SELECT rule_id, count(*) FROM alert WHERE rule_id LIKE 'segmentation.%' "
            "GROUP BY rule_id ORDER BY rule_id"
        )
    }
    open_alerts = int(
        store.query(
            "SELECT count(*) FROM alert WHERE rule_id LIKE 'segmentation.%' AND status <> 'closed'"
        )[0][0]
    )
    rows = store.arrow(
        "SELECT rule_id, severity, score, host, first_seen, last_seen, explanation, status "
        "FROM alert WHERE rule_id LIKE 'segmentation.%' "
        "ORDER BY score DESC, last_seen DESC, alert_id LIMIT ?",
        [top],
    ).to_pylist()
    return SegmentationSummary(name, by_rule, open_alerts, rows)
