"""Baselines (validation at load) and the evaluation of MDS2 forms against them."""

from __future__ import annotations

from pathlib import Path

import pytest
from mds2kit import ALL_YES, answers_with, write_csv, write_xlsx

from carewarden.errors import ConfigError
from carewarden.iomt.mds2 import parse_mds2
from carewarden.iomt.mds2_check import (
    DEFAULT_BASELINE,
    Evaluation,
    evaluate,
    load_baseline,
    read_figure,
)


def _evaluate(tmp_path: Path, answers: dict[str, tuple[str, str]]) -> Evaluation:
    return evaluate(parse_mds2(write_xlsx(tmp_path / "form.xlsx", answers)), load_baseline())


def test_shipped_baseline_loads() -> None:
    baseline = load_baseline()
    ids = {r.id for r in baseline.requirements}
    assert {"encryption-at-rest", "sbom-provided", "patch-window", "documented-ports"} <= ids
    assert load_baseline(DEFAULT_BASELINE) == baseline
    assert next(r for r in baseline.requirements if r.id == "no-internet-required").expect == "no"


@pytest.mark.parametrize(
    ("changes", "verdict", "requirement", "outcome", "reason"),
    [
        ({}, "accept", "encryption-at-rest", "pass", "STCF-1 = Yes (note: AES-256)"),
        ({"STCF_1": ("No", "")}, "reject", "encryption-at-rest", "fail", "expected Yes"),
        (
            {"SBOM_1": ("See Note", "available on request")},
            "conditional",
            "sbom-provided",
            "review",
            "SBOM-1 = See Note (note: available on request): See Note needs review",
        ),
        (
            {"CSUP_11_2": ("Yes", "reviewed every 45 days")},
            "conditional",
            "patch-window",
            "fail",
            "45 days is above the baseline's 30 days",
        ),
        (
            {"CSUP_11_2": ("Yes", "monthly")},
            "accept",
            "patch-window",
            "pass",
            "30 days is within the baseline",
        ),
        (
            {"CSUP_11_2": ("Yes", "")},
            "conditional",
            "patch-window",
            "review",
            "the note gives no figure in days",
        ),
        (
            {"CSUP_11_2": ("See Note", "within 2 weeks")},
            "accept",
            "patch-window",
            "pass",
            "See Note: 14 days is within the baseline",
        ),
        ({"CONN_6": ("Yes", "")}, "conditional", "no-internet-required", "fail", "expected No"),
        # Malware: any one of anti-malware, allowlisting or compensating controls will do.
        ({"MLDP_4": ("No", "")}, "reject", "malware-protection", "fail", "MLDP-4 = No"),
        (
            {"MLDP_4": ("No", ""), "MLDP_3": ("Yes", "network isolation")},
            "accept",
            "malware-protection",
            "pass",
            "MLDP-3 = Yes",
        ),
        ({"TXCF_2": ("", "")}, "conditional", "encryption-in-transit", "review", "left blank"),
        ({"AUDT_2": ("Perhaps", "")}, "conditional", "audit-logging", "review", "not understood"),
        # A should requirement failing never rejects; N/A passes where the baseline says so.
        ({"RMOT_1_1": ("N/A", "")}, "accept", "remote-service-controlled", "pass", "accepted"),
        ({"STCF_1_2": ("N/A", "")}, "conditional", "encryption-at-rest-default", "review", ""),
    ],
)
def test_verdicts(
    tmp_path: Path,
    changes: dict[str, tuple[str, str]],
    verdict: str,
    requirement: str,
    outcome: str,
    reason: str,
) -> None:
    evaluation = _evaluate(tmp_path, answers_with(**changes))
    assert evaluation.verdict == verdict, evaluation.summary
    result = next(r for r in evaluation.results if r.id == requirement)
    assert result.outcome == outcome
    assert reason in " | ".join(str(r) for r in result.reasons)
    assert evaluation.summary.startswith(f"Acme Medical AP-100: {verdict.upper()}")


def test_missing_question_needs_review(tmp_path: Path) -> None:
    answers = dict(ALL_YES)
    del answers["SBOM-1"]
    evaluation = _evaluate(tmp_path, answers)
    assert evaluation.verdict == "conditional"
    sbom = next(r for r in evaluation.results if r.id == "sbom-provided")
    assert sbom.outcome == "review"
    assert str(sbom.reasons[0]) == "SBOM-1 = (missing): not on the form"
    assert "needs review: sbom-provided" in evaluation.summary


def test_all_yes_csv_accepts_and_counts(tmp_path: Path) -> None:
    evaluation = evaluate(parse_mds2(write_csv(tmp_path / "f.csv", ALL_YES)), load_baseline())
    assert evaluation.verdict == "accept"
    counts = evaluation.counts()
    assert counts["must_fail"] == counts["must_review"] == counts["should_review"] == 0
    assert counts["must_pass"] + counts["should_pass"] == len(load_baseline().requirements)
    payload = evaluation.to_dict()
    assert payload["verdict"] == "accept" and payload["device_model"] == "AP-100"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "baseline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BASELINE = """
name: Test baseline
requirements:
  - id: at-rest
    description: Encryption at rest.
    severity: {severity}
    questions: [{question}]
    expect: yes
"""


@pytest.mark.parametrize(
    ("severity", "question", "message"),
    [
        ("must", "STCF1", "question id 'STCF1' is not of the form SECT-n"),
        ("must", "stcf-1", "question id 'stcf-1' is not of the form"),
        ("must", "ABCD-1", "unknown MDS2 section 'ABCD'"),
        ("critical", "STCF-1", "requirements.0.severity"),
    ],
)
def test_baseline_validation_errors(
    tmp_path: Path, severity: str, question: str, message: str
) -> None:
    path = _write(tmp_path, BASELINE.format(severity=severity, question=question))
    with pytest.raises(ConfigError, match=message) as caught:
        load_baseline(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("requirements: []", "requirements"),
        (
            "requirements:\n  - {id: a, description: d, severity: must, questions: [STCF-1],"
            " colour: red}",
            "colour",
        ),
        (
            "requirements:\n  - {id: a, description: d, severity: must, questions: [STCF-1]}\n"
            "  - {id: a, description: e, severity: should, questions: [SBOM-1]}",
            "duplicate id",
        ),
        (
            "requirements:\n  - {id: a, description: d, severity: must, questions: [CSUP-11.2],"
            " numeric: {unit: days}}",
            "give max, min or both",
        ),
        (
            "requirements:\n  - {id: a, description: d, severity: must, questions: [STCF-1],"
            " not_applicable: ignore}",
            "not_applicable",
        ),
        ("requirements: [: bad", "not valid YAML"),
    ],
)
def test_baseline_schema_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_baseline(_write(tmp_path, text))


def test_custom_baseline_numbers_and_treatments(tmp_path: Path) -> None:
    """A hospital's own baseline: See Note accepted, a number of days read from a note."""
    path = _write(
        tmp_path,
        """
name: Strict
requirements:
  - id: sbom
    description: SBOM
    severity: must
    questions: [SBOM-1]
    see_note: pass
  - id: patches
    description: Patch window of at most 10 days
    severity: must
    questions: [CSUP-11.2]
    numeric: {unit: days, max: 10}
""",
    )
    answers = answers_with(SBOM_1=("See Note", "on request"))
    evaluation = evaluate(parse_mds2(write_xlsx(tmp_path / "f.xlsx", answers)), load_baseline(path))
    assert [r.outcome for r in evaluation.results] == ["pass", "fail"]
    assert evaluation.verdict == "reject"
    assert "14 days is above the baseline's 10 days" in str(evaluation.results[1].reasons[0])


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("30 days", 30),
        ("within 2 weeks", 14),
        ("critical in 7 days, others in 45 days", 45),
        ("monthly", 30),
        ("Quarterly review", 90),
        ("1 month", 30),
        ("every 10 business days", 10),
        ("no figure here", None),
        ("version 3.2", None),
    ],
)
def test_read_figure_days(text: str, days: float | None) -> None:
    assert read_figure(text, "days") == days


def test_read_figure_number() -> None:
    assert read_figure("ports 443 and 104", "number") == 443
    assert read_figure("none", "number") is None
