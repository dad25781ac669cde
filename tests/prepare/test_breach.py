"""The assessment's reasoning and its state rule table (the dated scenarios are in
test_breach_scenarios.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from carewarden.errors import ConfigError
from carewarden.prepare.breach import Incident, assess
from carewarden.prepare.state_rules import DEFAULT_RULES, load_state_rules

SHARED = Path(__file__).resolve().parents[3] / "shared"

BREACH: dict[str, Any] = {
    "discovery_date": "2025-03-03",
    "affected_by_state": {"NY": 600, "NV": 2},
    "phi_types": ["name", "ssn"],
    "encrypted": False,
    "recipient": "unknown",
    "acquired_or_viewed": True,
    "mitigated": False,
}


def reasons(**change: Any) -> str:
    return "\n".join(assess(Incident.model_validate({**BREACH, **change})).reasoning)


def test_breach_reasoning_cites_the_rule() -> None:
    """A breach's reasoning walks the presumption, the four factors and each notice."""
    text = reasons()
    for cited in ("164.402(2)", "Factor 1", "Factor 2", "Factor 3", "Factor 4", "164.404(b)"):
        assert cited in text
    assert "164.406" in text and "164.408(b)" in text
    assert "ssn" in text  # the sensitive element named in factor 1
    assert "No state rules on file for NV, NY" in text


def test_small_breach_reasons_with_the_annual_log() -> None:
    """Under 500, the reasoning gives the annual log's rule and date."""
    text = reasons(affected_by_state={"NY": 10})
    assert "164.408(c)" in text and "2026-03-01" in text
    assert "164.406" not in text


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        ({"encrypted": True, "key_compromised": False}, "Safe harbor"),
        ({"encrypted": True, "key_compromised": True}, "key was compromised"),
        ({"exception": "good-faith-workforce", "recipient": "workforce"}, "164.402(1)(i)"),
        ({"exception": "inadvertent-internal", "recipient": "workforce"}, "164.402(1)(ii)"),
        ({"exception": "unable-to-retain"}, "164.402(1)(iii)"),
        ({"exception": "good-faith-workforce"}, "it is not applied"),
        ({"acquired_or_viewed": False, "mitigated": True}, "low probability of compromise"),
        ({"law_enforcement_delay_until": "2025-04-01"}, "164.412"),
        (
            {
                "law_enforcement_delay_until": "2025-06-01",
                "law_enforcement_delay_oral": True,
            },
            "at most 30 days",
        ),
        ({"reported_by_business_associate": True}, "164.410(b)"),
        ({"reported_by_business_associate": True}, "imputed"),
        ({"unreachable_individuals": 12}, "164.404(d)(2)(ii)"),
        ({"unreachable_individuals": 2}, "164.404(d)(2)(i)"),
        (
            {"affected_by_state": {"CA": 3}, "acquired_or_viewed": False, "mitigated": True},
            "confirm with counsel",
        ),
    ],
)
def test_each_branch_explains_itself(change: dict[str, Any], phrase: str) -> None:
    """Each decision the assessment takes appears in its reasoning."""
    assert phrase in reasons(**change)


def test_late_business_associate_notice_is_flagged() -> None:
    """A business associate that told the covered entity after its own 60 days is late."""
    text = reasons(
        reported_by_business_associate=True,
        business_associate_notified_on="2025-05-10",
    )
    assert "was late (after 2025-05-02)" in text


def test_json_shape() -> None:
    """The JSON form has the verdict, the reasons and dated obligations."""
    result = assess(Incident.model_validate(BREACH)).as_json()
    assert result["breach"] is True
    assert all(isinstance(r, str) for r in result["reasoning"])
    for obligation in result["obligations"]:
        assert set(obligation) >= {"kind", "due", "recipient"}
        dt.date.fromisoformat(obligation["due"])


def test_shipped_state_rules_are_dated_and_cited() -> None:
    """Every state rule shipped has a citation, a confidence and a review date."""
    table = load_state_rules()
    assert table.reviewed_on >= dt.date(2026, 1, 1)
    assert {"CA", "CO", "FL", "WA"} <= set(table.included)
    for rules in table.states.values():
        for notice in rules.notices:
            assert notice.citation and notice.confidence in ("high", "medium")
    california = {n.citation for n in table.states["CA"].notices}
    assert "Cal. Health & Safety Code 1280.15(b)(1)" in california


def test_a_custom_rule_table_is_used(tmp_path: Path) -> None:
    """The assessment reads its state deadlines from data: a 10-day Nevada rule applies."""
    data = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    data["included"] = ["NV"]
    data["states"] = {
        "NV": {
            "name": "Nevada (test)",
            "notices": [
                {
                    "kind": "state-attorney-general",
                    "recipient": "Nevada test office",
                    "trigger": "hipaa-breach",
                    "min_residents": 2,
                    "deadline": {"days": 10, "unit": "business"},
                    "after_law_enforcement_delay": "toll",
                    "citation": "test",
                    "confidence": "medium",
                }
            ],
        }
    }
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = assess(Incident.model_validate(BREACH), load_state_rules(path))
    nevada = [o for o in result.obligations if o.recipient == "Nevada test office"]
    assert [o.due for o in nevada] == [dt.date(2025, 3, 17)]  # ten weekdays after 03-03


def test_a_bad_rule_table_names_file_and_field(tmp_path: Path) -> None:
    """A rule with neither days nor 'with' is refused, naming the file and the place."""
    data = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    data["states"]["CA"]["notices"][0]["deadline"] = {"unit": "business"}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rules.yaml: states.CA.notices.0.deadline"):
        load_state_rules(path)


@pytest.mark.skipif(
    not (SHARED / "reference" / "hipaa_security_rule.yaml").exists(),
    reason="shared HIPAA reference data not present",
)
def test_agrees_with_the_shared_hipaa_reference() -> None:
    """The shared reference's summary of Subpart D (60 days; 500 or more to HHS) matches."""
    reference = yaml.safe_load(
        (SHARED / "reference" / "hipaa_security_rule.yaml").read_text(encoding="utf-8")
    )
    subpart_d = next(
        p for p in reference["related_provisions"] if p["citation"] == "45 CFR 164.400-414"
    )
    assert "60 days" in subpart_d["note"] and "500 or more" in subpart_d["note"]
    result = assess(Incident.model_validate(BREACH))
    hhs = next(o for o in result.obligations if o.kind == "hhs")
    assert hhs.due - dt.date(2025, 3, 3) == dt.timedelta(days=60)
