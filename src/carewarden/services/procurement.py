"""Procurement checks: an MDS2 form evaluated against a baseline, optionally kept in the store
so the products evaluated can be listed later (``carewarden procurement list``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from blake3 import blake3

from carewarden.iomt.mds2 import parse_mds2
from carewarden.iomt.mds2_check import Evaluation, evaluate, load_baseline
from carewarden.store import Store
from carewarden.store.store import utcnow

EVALUATION_FIELDS = (
    "evaluation_id",
    "form_path",
    "manufacturer",
    "device_model",
    "device_description",
    "document_id",
    "release_date",
    "baseline",
    "verdict",
    "must_fail",
    "should_fail",
    "needs_review",
    "summary",
    "evaluated_at",
)


def check_form(form: Path, baseline: Path | None = None) -> Evaluation:
    """The evaluation of the MDS2 form ``form`` against ``baseline`` (default: shipped)."""
    rules = load_baseline(baseline)
    return evaluate(parse_mds2(form), rules)


def save_evaluation(store: Store, evaluation: Evaluation) -> str:
    """Keep ``evaluation`` in the store; the same form checked against the same baseline
    replaces its earlier row. Returns the evaluation id."""
    form_bytes = Path(evaluation.form.path).read_bytes()
    form_hash = blake3(form_bytes).hexdigest()
    detail = evaluation.to_dict()
    rules = orjson.dumps(
        {k: v for k, v in detail.items() if k in ("baseline", "requirements")},
        option=orjson.OPT_SORT_KEYS,
    )
    evaluation_id = "mds2:" + blake3(form_bytes + b"\0" + rules).hexdigest()[:32]
    counts = evaluation.counts()
    form = evaluation.form
    row = {
        "evaluation_id": evaluation_id,
        "form_path": form.path,
        "form_hash": form_hash,
        "manufacturer": form.manufacturer,
        "device_model": form.device_model,
        "device_description": form.device_description,
        "document_id": form.document_id,
        "release_date": form.release_date,
        "baseline": evaluation.baseline,
        "verdict": evaluation.verdict,
        "must_fail": counts["must_fail"],
        "should_fail": counts["should_fail"],
        "needs_review": counts["must_review"] + counts["should_review"],
        "summary": evaluation.summary,
        "detail": orjson.dumps(detail).decode(),
        "evaluated_at": utcnow(),
    }
    schema = pa.schema(
        [
            (
                name,
                pa.int32()
                if name in ("must_fail", "should_fail", "needs_review")
                else pa.timestamp("us")
                if name == "evaluated_at"
                else pa.string(),
            )
            for name in row
        ]
    )
    with store.transaction():
        store.replace_rows("mds2_evaluation", "evaluation_id", pa.Table.from_pylist([row], schema))
    return evaluation_id


def evaluations(store: Store, *, verdict: str | None = None) -> list[dict[str, Any]]:
    """The evaluations kept, newest first (optionally only those with ``verdict``)."""
    columns = ", ".join(EVALUATION_FIELDS)
    where = "WHERE verdict = ?" if verdict else ""
    rows: list[dict[str, Any]] = store.arrow(
        f"SELECT {columns} FROM mds2_evaluation {where} ORDER BY evaluated_at DESC, evaluation_id",
        [verdict] if verdict else None,
    ).to_pylist()
    return rows
