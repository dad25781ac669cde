"""Which unsupervised model for the behavioural detector? Measured on labelled hospitals.

    python bench/behaviour_models.py [--seeds 2 3 4] [--beds 200] [--days 14]

For each seed, generates a synthetic hospital, ingests it, explains the accesses, builds the
per-user-day features of :mod:`carewarden.detect.behaviour`, and scores every user-day with
each candidate. A user-day is positive when the labels put a planted violation there. Prints
average precision and precision at k (k = the number of positive days) per candidate; the
detector uses the best one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.covariance import EllipticEnvelope
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score
from sklearn.neighbors import LocalOutlierFactor

from carewarden.connectors.fhir import FhirConnector
from carewarden.detect.behaviour import FEATURES, RISK_FEATURES, BehaviourModel
from carewarden.detect.explain import explain_accesses
from carewarden.detect.policy import PrivacyPolicy
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.synth import SynthConfig, generate

Scorer = Callable[[np.ndarray], np.ndarray]
RISK = [list(FEATURES).index(n) for n in RISK_FEATURES]


def isolation_forest(matrix: np.ndarray) -> np.ndarray:
    model = IsolationForest(n_estimators=200, random_state=0).fit(matrix)
    return np.asarray(-model.score_samples(matrix))


def local_outlier_factor(matrix: np.ndarray) -> np.ndarray:
    model = LocalOutlierFactor(n_neighbors=35).fit(matrix)
    return np.asarray(-model.negative_outlier_factor_)


def elliptic_envelope(matrix: np.ndarray) -> np.ndarray:
    model = EllipticEnvelope(random_state=0, support_fraction=0.9).fit(matrix)
    return np.asarray(-model.score_samples(matrix))


def max_robust_score(matrix: np.ndarray) -> np.ndarray:
    return np.asarray(matrix[:, RISK].max(axis=1))


CANDIDATES: dict[str, Scorer] = {
    "IsolationForest": isolation_forest,
    "LocalOutlierFactor": local_outlier_factor,
    "EllipticEnvelope": elliptic_envelope,
    "max robust z (no model)": max_robust_score,
}


def positives(store: Store, labels: Path, data: dict[str, list[object]]) -> np.ndarray:
    events = {
        e for line in labels.read_text().splitlines() if line for e in json.loads(line)["event_ids"]
    }
    days = {
        (str(u), d)
        for u, d in store.query(
            "SELECT user_id, timezone('America/Chicago', time::TIMESTAMPTZ)::DATE "
            "FROM access_explanation WHERE event_id IN (SELECT unnest(?::VARCHAR[]))",
            [sorted(events)],
        )
    }
    return np.array(
        [(str(u), d) in days for u, d in zip(data["user_id"], data["day"], strict=True)]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--beds", type=int, default=200)
    parser.add_argument("--days", type=int, default=14)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in CANDIDATES}
    for seed in args.seeds:
        work = Path(tempfile.mkdtemp(prefix="carewarden-bench-models-"))
        out = generate(work / "h", SynthConfig(beds=args.beds, days=args.days, seed=seed))
        with Store.open(work / "s") as store:
            ingest(store, FhirConnector(timezone="America/Chicago"), [out.out_dir])
            explain_accesses(store, PrivacyPolicy.load(), "America/Chicago")
            data, matrix, _ = BehaviourModel().features(store)
            truth = positives(store, out.labels_path, data)
        k = int(truth.sum())
        for name, scorer in CANDIDATES.items():
            scores = scorer(matrix)
            top = np.argsort(-scores)[:k]
            results[name].append(
                (float(average_precision_score(truth, scores)), float(truth[top].mean()))
            )
        print(f"seed {seed}: {len(truth):,} user-days, {k} with a planted violation")
    print(f"\n{'model':26} {'average precision':>18} {'precision at k':>15}  (medians)")
    for name, figures in results.items():
        ap = statistics.median(f[0] for f in figures)
        pk = statistics.median(f[1] for f in figures)
        print(f"{name:26} {ap:>18.3f} {pk:>15.3f}")


if __name__ == "__main__":
    main()
