"""The behavioural model: robust baselines, the forest, and explained alerts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from carewarden.detect.behaviour import BehaviourModel, robust_scores
from carewarden.services.detect import detect
from carewarden.store import Store
from conftest import access, add, department, encounter, role


def test_robust_scores_ignore_one_outlier_in_the_baseline() -> None:
    """One huge day among ordinary ones scores high and does not inflate the others; a group
    with too few rows gets no score; a constant baseline uses the floor."""
    values = np.array([2.0, 3.0, 2.0, 3.0, 2.0, 90.0])
    keys = np.array(["u"] * 6, dtype=object)
    scores = robust_scores(values, keys, floor=1.0, min_rows=5)
    assert scores[-1] > 50
    assert np.all(np.abs(scores[:-1]) < 2)
    few = robust_scores(values[:3], keys[:3], floor=1.0, min_rows=5)
    assert np.all(np.isnan(few))
    flat = robust_scores(np.array([1.0, 1.0, 4.0]), np.array(["g"] * 3, dtype=object), 0.5,
                         min_rows=1)
    assert list(flat) == [0.0, 0.0, 6.0]


def test_an_unusual_day_is_alerted_with_its_drivers(store: Store, tmp_path: Path) -> None:
    """Twelve nurses with ordinary days; one of them one day opens 30 charts of patients not
    in care, at night. Only that day alerts, naming the features that drove it, and the
    fitted model is saved with its version."""
    resources: list[dict[str, object]] = [department("icu", "Intensive Care Unit")]
    for n in range(12):
        resources.append(role(f"r{n}", f"n{n}", "icu", "nurse"))
    for p in range(12):
        resources.append(encounter(f"e{p}", f"pt{p}", "icu", "2026-03-01T00:00:00Z", None,
                                   participants=tuple((f"n{n}", "PART") for n in range(12))))
    for day in range(1, 15):
        for n in range(12):
            for k in range(6):
                resources.append(access(f"a{day}-{n}-{k}", f"n{n}", f"pt{(n + k) % 12}",
                                        f"2026-03-{day:02d}T{9 + k}:00:00Z"))
    for k in range(30):
        resources.append({"resourceType": "Patient", "id": f"far{k}"})
        resources.append(access(f"x{k}", "n3", f"far{k}", f"2026-03-09T0{k % 5}:{k:02d}:00Z"))
    add(store, tmp_path, "hospital", *resources)
    detect(store, site_tz="UTC")
    rows = store.query(
        "SELECT user_id, first_seen, explanation, len(event_ids) FROM alert "
        "WHERE rule_id = 'privacy.behaviour'"
    )
    assert len(rows) == 1
    user, first_seen, explanation, events = rows[0]
    assert user == "n3" and first_seen.day == 9 and events == 30
    assert "patients not in care 30" in explanation or "unexplained patients 30" in explanation
    versions = store.query("SELECT name, version, rows FROM model")
    assert versions and versions[0][0] == "privacy.behaviour"
    assert versions[0][1].startswith("isolation-forest/sklearn-")


def test_too_little_activity_gives_no_alert(store: Store, tmp_path: Path) -> None:
    """With fewer than 50 user-days the model does not judge anyone."""
    add(store, tmp_path, "small", role("r", "n", None, "nurse"),
        *[access(f"a{k}", "n", f"p{k}", "2026-03-02T10:00:00Z") for k in range(40)])
    from carewarden.detect.engine import DetectContext

    detect(store)
    assert BehaviourModel().run(store, DetectContext()) == []
