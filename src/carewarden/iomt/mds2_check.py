"""Checking an MDS2 form against a hospital's procurement baseline.

The baseline is one YAML file (the shipped default, ``mds2_baseline.yaml`` beside this
module, documents every field): requirements, each reading one or more MDS2 questions and
saying what answer it expects, how to combine several questions, an optional figure to read
from the note (a patch window in days), how severe a failure is (``must`` or ``should``), and
what N/A, "See Note", a blank or a missing question mean (by default: needs review).

:func:`evaluate` gives each requirement ``pass``, ``fail`` or ``review`` with its reasons
(question id, answer, note), and the form a verdict: ``reject`` when a ``must`` requirement
fails, ``conditional`` when a ``should`` requirement fails or anything needs review, ``accept``
otherwise.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from carewarden.config import load_yaml_model
from carewarden.iomt.mds2 import SECTIONS, Answer, Mds2Answer, Mds2Form

DEFAULT_BASELINE = Path(__file__).parent / "mds2_baseline.yaml"

Outcome = Literal["pass", "fail", "review"]
Verdict = Literal["accept", "conditional", "reject"]
STRICT_ID = re.compile(r"^[A-Z]{3,4}-\d{1,3}(\.\d{1,3})*$")


class NumericCheck(BaseModel):
    """A figure read from the question's note (and any words after the answer).

    ``unit: days`` reads a duration: "30 days", "within 2 weeks", "4 wk", "monthly",
    "quarterly", "1 month" (a week is 7 days, a month 30, a quarter 90, a year 365); the
    largest duration named is the one checked, so "critical 7 days, others 30 days" checks 30.
    ``unit: number`` reads the largest plain number.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    unit: Literal["days", "number"] = "days"
    max: float | None = None
    min: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> NumericCheck:
        if self.max is None and self.min is None:
            raise ValueError("numeric: give max, min or both")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError("numeric: min is above max")
        return self


Treatment = Literal["pass", "fail", "review"]


class Requirement(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)
    description: str = Field(min_length=1)
    severity: Literal["must", "should"]
    questions: list[str] = Field(min_length=1)
    expect: Literal["yes", "no"] = "yes"
    combine: Literal["all", "any"] = "all"
    numeric: NumericCheck | None = None
    not_applicable: Treatment = "review"
    see_note: Treatment = "review"
    missing: Treatment = "review"

    @field_validator("expect", mode="before")
    @classmethod
    def _yaml_boolean(cls, value: object) -> object:
        # YAML reads an unquoted yes/no as a boolean.
        if isinstance(value, bool):
            return "yes" if value else "no"
        return value.lower() if isinstance(value, str) else value

    @field_validator("questions")
    @classmethod
    def _question_ids(cls, value: list[str]) -> list[str]:
        for qid in value:
            if not STRICT_ID.match(qid):
                raise ValueError(
                    f"question id {qid!r} is not of the form SECT-n[.m] (e.g. STCF-1, AUDT-2.1)"
                )
            if qid.split("-")[0] not in SECTIONS:
                raise ValueError(
                    f"question id {qid!r}: unknown MDS2 section {qid.split('-')[0]!r} "
                    f"(known: {', '.join(SECTIONS)})"
                )
        if len(set(value)) != len(value):
            raise ValueError("a question is listed twice")
        return value


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    name: str = "procurement baseline"
    version: int = 1
    requirements: list[Requirement] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Baseline:
        twice = [k for k, n in Counter(r.id for r in self.requirements).items() if n > 1]
        if twice:
            raise ValueError(f"requirements: duplicate id(s) {', '.join(sorted(twice))}")
        return self


def load_baseline(path: Path | None = None) -> Baseline:
    """The baseline in ``path`` (default: the shipped one); a ConfigError names the file
    and each field at fault."""
    return load_yaml_model(Baseline, path or DEFAULT_BASELINE, "MDS2 baseline")


@dataclass(frozen=True)
class Reason:
    question_id: str
    answer: str
    note: str | None
    outcome: Outcome
    why: str

    def __str__(self) -> str:
        note = f" (note: {self.note})" if self.note else ""
        return f"{self.question_id} = {self.answer}{note}: {self.why}"


@dataclass(frozen=True)
class RequirementResult:
    id: str
    description: str
    severity: str
    outcome: Outcome
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Evaluation:
    form: Mds2Form
    baseline: str
    verdict: Verdict
    results: tuple[RequirementResult, ...]
    summary: str

    def counts(self) -> dict[str, int]:
        counted = Counter(f"{r.severity}_{r.outcome}" for r in self.results)
        return {
            f"{severity}_{outcome}": counted.get(f"{severity}_{outcome}", 0)
            for severity in ("must", "should")
            for outcome in ("pass", "fail", "review")
        }

    def to_dict(self) -> dict[str, object]:
        form = self.form
        return {
            "file": form.path,
            "manufacturer": form.manufacturer,
            "device_description": form.device_description,
            "device_model": form.device_model,
            "document_id": form.document_id,
            "release_date": form.release_date,
            "baseline": self.baseline,
            "verdict": self.verdict,
            "summary": self.summary,
            "counts": self.counts(),
            "requirements": [
                {
                    "id": r.id,
                    "description": r.description,
                    "severity": r.severity,
                    "outcome": r.outcome,
                    "reasons": [
                        {
                            "question_id": reason.question_id,
                            "answer": reason.answer,
                            "note": reason.note,
                            "outcome": reason.outcome,
                            "why": reason.why,
                        }
                        for reason in r.reasons
                    ],
                }
                for r in self.results
            ],
            "form_issues": [{"where": i.where, "message": i.message} for i in form.issues],
        }


_UNIT_DAYS = {
    "d": 1,
    "day": 1,
    "days": 1,
    "business day": 1,
    "business days": 1,
    "w": 7,
    "wk": 7,
    "wks": 7,
    "week": 7,
    "weeks": 7,
    "month": 30,
    "months": 30,
    "mo": 30,
    "quarter": 90,
    "quarters": 90,
    "year": 365,
    "years": 365,
    "yr": 365,
}
_ADVERBS = {
    "daily": 1,
    "weekly": 7,
    "biweekly": 14,
    "fortnightly": 14,
    "monthly": 30,
    "quarterly": 90,
    "annually": 365,
    "yearly": 365,
}
_DURATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*-?\s*(business days?|days?|d|wks?|weeks?|w|months?|mo|quarters?|"
    r"years?|yr)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])")


def read_figure(text: str, unit: Literal["days", "number"]) -> float | None:
    """The figure ``text`` gives in ``unit`` (the largest one named), or None."""
    if unit == "number":
        numbers = [float(n) for n in _NUMBER.findall(text)]
        return max(numbers) if numbers else None
    found = [
        float(amount) * _UNIT_DAYS[" ".join(word.lower().split())]
        for amount, word in _DURATION.findall(text)
    ]
    lowered = text.lower()
    found += [days for word, days in _ADVERBS.items() if re.search(rf"\b{word}\b", lowered)]
    return max(found) if found else None


def _check_numeric(check: NumericCheck, answer: Mds2Answer) -> tuple[Outcome, str]:
    figure = read_figure(answer.note or "", check.unit)
    unit = " days" if check.unit == "days" else ""
    if figure is None:
        return "review", f"the note gives no figure in {check.unit} to check"
    shown = f"{figure:g}{unit}"
    if check.max is not None and figure > check.max:
        return "fail", f"{shown} is above the baseline's {check.max:g}{unit}"
    if check.min is not None and figure < check.min:
        return "fail", f"{shown} is below the baseline's {check.min:g}{unit}"
    return "pass", f"{shown} is within the baseline"


def _judge(requirement: Requirement, qid: str, answer: Mds2Answer | None) -> Reason:
    if answer is None or answer.answer is Answer.BLANK:
        why = "not on the form" if answer is None else "left blank"
        outcome = requirement.missing
        return Reason(qid, "(missing)" if answer is None else "(blank)", None, outcome, why)
    shown = answer.shown
    expected = "Yes" if requirement.expect == "yes" else "No"

    def reason(outcome: Outcome, why: str) -> Reason:
        return Reason(qid, shown, answer.note, outcome, why)

    if answer.answer is Answer.UNKNOWN:
        return reason("review", f"answer not understood (expected {expected})")
    if answer.answer is Answer.NOT_APPLICABLE:
        return reason(requirement.not_applicable, "N/A " + _treated(requirement.not_applicable))
    if answer.answer is Answer.SEE_NOTE:
        if requirement.numeric is not None and answer.note:
            outcome, why = _check_numeric(requirement.numeric, answer)
            if outcome != "review":
                return reason(outcome, f"See Note: {why}")
        return reason(requirement.see_note, "See Note " + _treated(requirement.see_note))
    if answer.answer.value != requirement.expect:
        return reason("fail", f"expected {expected}")
    if requirement.numeric is not None:
        return reason(*_check_numeric(requirement.numeric, answer))
    return reason("pass", f"{expected} as expected")


def _treated(outcome: Outcome) -> str:
    return {
        "pass": "is accepted by the baseline",
        "fail": "is a failure in the baseline",
        "review": "needs review",
    }[outcome]


def _combine(combine: str, outcomes: list[Outcome]) -> Outcome:
    if combine == "any":
        if "pass" in outcomes:
            return "pass"
        return "review" if "review" in outcomes else "fail"
    if "fail" in outcomes:
        return "fail"
    return "review" if "review" in outcomes else "pass"


def evaluate(form: Mds2Form, baseline: Baseline) -> Evaluation:
    results = []
    for requirement in baseline.requirements:
        reasons = tuple(
            _judge(requirement, qid, form.get(qid))
            for qid in requirement.questions
        )
        outcome = _combine(requirement.combine, [r.outcome for r in reasons])
        results.append(
            RequirementResult(
                id=requirement.id,
                description=requirement.description,
                severity=requirement.severity,
                outcome=outcome,
                reasons=reasons,
            )
        )
    outcomes = {(r.severity, r.outcome) for r in results}
    verdict: Verdict
    if ("must", "fail") in outcomes:
        verdict = "reject"
    elif outcomes & {("should", "fail"), ("must", "review"), ("should", "review")}:
        verdict = "conditional"
    else:
        verdict = "accept"
    return Evaluation(
        form=form,
        baseline=baseline.name,
        verdict=verdict,
        results=tuple(results),
        summary=_summary(form, baseline.name, verdict, results),
    )


def _summary(
    form: Mds2Form, baseline: str, verdict: Verdict, results: list[RequirementResult]
) -> str:
    product = " ".join(p for p in (form.manufacturer, form.device_model) if p)
    failed = [r.id for r in results if r.outcome == "fail"]
    review = [r.id for r in results if r.outcome == "review"]
    met = sum(r.outcome == "pass" for r in results)
    parts = [
        f"{product or Path(form.path).name}: {verdict.upper()} against {baseline!r}",
        f"{met} of {len(results)} requirements met",
    ]
    if failed:
        parts.append(f"failed: {', '.join(failed)}")
    if review:
        parts.append(f"needs review: {', '.join(review)}")
    if form.issues:
        parts.append(f"{len(form.issues)} form issue(s)")
    return "; ".join(parts) + "."
