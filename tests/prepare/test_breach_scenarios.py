"""Breach scenarios: each incident, its verdict and every obligation with its due date.

The dates are worked out by hand (see the comment on each row), not by the code under test.
The base incident is a breach (unencrypted, unknown recipient, viewed, not mitigated)
discovered Monday 2025-03-03, so that its HIPAA deadline is 2025-05-02 (03-03 + 28 days =
03-31, + 30 = 04-30, + 2 = 05-02) and its annual log is due 2026-03-01 (2025-12-31 + 31 =
01-31, + 28 = 02-28, + 1).
"""

from __future__ import annotations

from typing import Any

import pytest

from carewarden.prepare.breach import Incident, assess

IND = "affected individuals"
HHS = "HHS Secretary"
LOG = "HHS Secretary (annual log)"
SUB10 = "substitute notice (10 or more unreachable)"
SUB_FEW = "substitute notice (fewer than 10 unreachable)"
CDPH = "California Department of Public Health"
CA_PATIENTS = "affected California patients"
CA_AG = "California Attorney General"
CO_RESIDENTS = "affected Colorado residents"
CO_AG = "Colorado Attorney General"
FL_DLA = "Florida Department of Legal Affairs"
TX_AG = "Texas Attorney General"
WA_AG = "Washington Attorney General"


def media(state: str) -> str:
    return f"prominent media outlets serving {state}"


BASE: dict[str, Any] = {
    "discovery_date": "2025-03-03",
    "affected_by_state": {"NY": 10},
    "phi_types": ["name", "diagnosis"],
    "encrypted": False,
    "recipient": "unknown",
    "acquired_or_viewed": True,
    "mitigated": False,
}

SMALL = [("individual", "2025-05-02", IND), ("hhs-annual-log", "2026-03-01", LOG)]
LARGE = [("individual", "2025-05-02", IND), ("hhs", "2025-05-02", HHS)]
# California 1280.15 from Monday 2025-03-03: 15 business days, no holiday in March:
# 03-04..07 (4), 03-10..14 (9), 03-17..21 (14), 03-24 (15).
CA_15 = [
    ("individual", "2025-03-24", CA_PATIENTS),
    ("state-health-department", "2025-03-24", CDPH),
]

Row = tuple[str, dict[str, Any], bool, list[tuple[str, str, str]]]
SCENARIOS: list[Row] = [
    ("small breach, one state", {}, True, SMALL),
    (
        "exactly 500 in one state: HHS now, no media",
        {"affected_by_state": {"NY": 500}},
        True,
        LARGE,
    ),
    (
        "501 in one state: media too",
        {"affected_by_state": {"NY": 501}},
        True,
        [*LARGE, ("media", "2025-05-02", media("NY"))],
    ),
    (
        "500 spread over two states: HHS now, no media",
        {"affected_by_state": {"NY": 250, "NJ": 250}},
        True,
        LARGE,
    ),
    ("499: annual log", {"affected_by_state": {"NY": 499}}, True, SMALL),
    (
        "1,000 over three states, none over 500: no media",
        {"affected_by_state": {"NY": 400, "NJ": 400, "PA": 200}},
        True,
        LARGE,
    ),
    (
        "media in each state over 500 only",
        {"affected_by_state": {"NY": 600, "NJ": 501, "PA": 500}},
        True,
        [*LARGE, ("media", "2025-05-02", media("NJ")), ("media", "2025-05-02", media("NY"))],
    ),
    (
        "501 in a territory: media there",
        {"affected_by_state": {"PR": 501}},
        True,
        [*LARGE, ("media", "2025-05-02", media("PR"))],
    ),
    (
        # 2025-12-31 + 60 = 2026-03-01; the 2025 log is due the same day.
        "discovered Dec 31",
        {"discovery_date": "2025-12-31"},
        True,
        [("individual", "2026-03-01", IND), ("hhs-annual-log", "2026-03-01", LOG)],
    ),
    (
        # 2023-12-31 + 31 = 2024-01-31, + 29 = 02-29 (leap year).
        "discovered Dec 31 before a leap year",
        {"discovery_date": "2023-12-31"},
        True,
        [("individual", "2024-02-29", IND), ("hhs-annual-log", "2024-02-29", LOG)],
    ),
    (
        # 01-01 + 30 = 01-31, + 28 = 02-28, + 2 = 03-02.
        "discovered Jan 1",
        {"discovery_date": "2025-01-01"},
        True,
        [("individual", "2025-03-02", IND), ("hhs-annual-log", "2026-03-01", LOG)],
    ),
    (
        # 02-29 + 1 = 03-01, + 30 = 03-31, + 29 = 04-29; 2024 log: 2025-03-01.
        "discovered Feb 29",
        {"discovery_date": "2024-02-29"},
        True,
        [("individual", "2024-04-29", IND), ("hhs-annual-log", "2025-03-01", LOG)],
    ),
    (
        # 01-15 + 16 = 01-31, + 29 = 02-29, + 15 = 03-15.
        "discovered in January of a leap year",
        {"discovery_date": "2024-01-15"},
        True,
        [("individual", "2024-03-15", IND), ("hhs-annual-log", "2025-03-01", LOG)],
    ),
    (
        "encrypted laptop with the key stored on it",
        {"encrypted": True, "key_compromised": True},
        True,
        SMALL,
    ),
    ("encrypted, key safe: safe harbor", {"encrypted": True, "key_compromised": False}, False, []),
    (
        "encrypted, key safe, California patients: nothing to report",
        {"encrypted": True, "key_compromised": False, "affected_by_state": {"CA": 50}},
        False,
        [],
    ),
    (
        "good-faith workforce access exception",
        {"exception": "good-faith-workforce", "recipient": "workforce"},
        False,
        [],
    ),
    (
        "good-faith exception claimed for a public recipient: refused",
        {"exception": "good-faith-workforce", "recipient": "public"},
        True,
        SMALL,
    ),
    (
        "inadvertent internal disclosure exception",
        {"exception": "inadvertent-internal", "recipient": "workforce"},
        False,
        [],
    ),
    (
        "inadvertent internal disclosure, California: statute's internal carve-out",
        {
            "exception": "inadvertent-internal",
            "recipient": "workforce",
            "affected_by_state": {"CA": 5},
        },
        False,
        [],
    ),
    (
        "inadvertent internal exception claimed for an unknown recipient: refused",
        {"exception": "inadvertent-internal", "recipient": "unknown"},
        True,
        SMALL,
    ),
    (
        "unable to retain exception",
        {"exception": "unable-to-retain", "recipient": "public"},
        False,
        [],
    ),
    (
        "good-faith workforce access, California: 1280.15 still reports",
        {
            "exception": "good-faith-workforce",
            "recipient": "workforce",
            "affected_by_state": {"CA": 1},
        },
        False,
        CA_15,
    ),
    (
        "four factors: not viewed and mitigated, low probability",
        {"acquired_or_viewed": False, "mitigated": True},
        False,
        [],
    ),
    (
        "four factors: demographics to another covered entity, destroyed",
        {"recipient": "covered-entity", "mitigated": True, "phi_types": ["name", "address"]},
        False,
        [],
    ),
    (
        "four factors: diagnosis viewed by another covered entity stays a breach",
        {"recipient": "covered-entity", "mitigated": True},
        True,
        SMALL,
    ),
    (
        "four factors: not mitigated stays a breach even unviewed",
        {"recipient": "covered-entity", "acquired_or_viewed": False},
        True,
        SMALL,
    ),
    (
        "four factors: workforce snooping, sanctioned, is a breach",
        {"recipient": "workforce", "mitigated": True, "phi_types": ["name", "address"]},
        True,
        SMALL,
    ),
    (
        "low probability under HIPAA, California 1280.15 still reports",
        {
            "recipient": "covered-entity",
            "acquired_or_viewed": False,
            "mitigated": True,
            "affected_by_state": {"CA": 3},
        },
        False,
        CA_15,
    ),
    (
        # Delay 03-03..04-01 = 29 days: 05-02 + 29 = 05-31; the log is past the delay.
        "law-enforcement delay from discovery tolls the 60 days",
        {"law_enforcement_delay_until": "2025-04-01"},
        True,
        [("individual", "2025-05-31", IND), ("hhs-annual-log", "2026-03-01", LOG)],
    ),
    (
        # Statement 04-15, delay to 05-15 = 30 days: 05-02 + 30 = 06-01.
        "law-enforcement delay stated mid-clock",
        {
            "affected_by_state": {"NY": 600},
            "law_enforcement_statement_date": "2025-04-15",
            "law_enforcement_delay_until": "2025-05-15",
        },
        True,
        [
            ("individual", "2025-06-01", IND),
            ("hhs", "2025-06-01", HHS),
            ("media", "2025-06-01", media("NY")),
        ],
    ),
    (
        # Oral on 03-10: at most 30 days, to 04-09; 05-02 + 30 = 06-01.
        "oral law-enforcement statement capped at 30 days",
        {
            "law_enforcement_statement_date": "2025-03-10",
            "law_enforcement_delay_until": "2025-06-30",
            "law_enforcement_delay_oral": True,
        },
        True,
        [("individual", "2025-06-01", IND), ("hhs-annual-log", "2026-03-01", LOG)],
    ),
    (
        "law-enforcement statement after the deadline changes nothing",
        {
            "law_enforcement_statement_date": "2025-05-10",
            "law_enforcement_delay_until": "2025-06-10",
        },
        True,
        SMALL,
    ),
    (
        # 2025-12-01 + 60 = 2026-01-30; delay 12-01..04-15 = 135 days: 06-14. The 2025 log
        # (03-01) falls inside the delay: due when it ends, 04-15.
        "law-enforcement delay past the annual log's date",
        {"discovery_date": "2025-12-01", "law_enforcement_delay_until": "2026-04-15"},
        True,
        [("hhs-annual-log", "2026-04-15", LOG), ("individual", "2026-06-14", IND)],
    ),
    (
        # Thu 2025-11-20: 11-21 (1), 11-24..26 (4), Thanksgiving 11-27 skipped, 11-28 (5,
        # a California-only holiday, counted), 12-01..05 (10), 12-08..12 (15).
        # HIPAA: 11-20 + 10 = 11-30, + 31 = 12-31, + 19 = 2026-01-19.
        "California 15 business days over Thanksgiving",
        {"discovery_date": "2025-11-20", "affected_by_state": {"CA": 10}},
        True,
        [
            ("individual", "2025-12-12", CA_PATIENTS),
            ("state-health-department", "2025-12-12", CDPH),
            ("individual", "2026-01-19", IND),
            ("hhs-annual-log", "2026-03-01", LOG),
        ],
    ),
    (
        # Fri 2025-12-19: 12-22..24 (3), Christmas, 12-26 (4), 12-29..31 (7), New Year,
        # 01-02 (8), 01-05..09 (13), 01-12, 01-13 (15). HIPAA: 12-19 + 12 = 12-31, + 31 =
        # 01-31, + 17 = 02-17. The 2025 log: 2026-03-01.
        "California 15 business days over Christmas and New Year",
        {"discovery_date": "2025-12-19", "affected_by_state": {"CA": 20}},
        True,
        [
            ("individual", "2026-01-13", CA_PATIENTS),
            ("state-health-department", "2026-01-13", CDPH),
            ("individual", "2026-02-17", IND),
            ("hhs-annual-log", "2026-03-01", LOG),
        ],
    ),
    (
        # July 4 2026 is a Saturday: federal offices close Fri 07-03, California does not
        # move it. Fri 06-26: 06-29..07-03 (5), 07-06..10 (10), 07-13..17 (15).
        # HIPAA: 06-26 + 4 = 06-30, + 31 = 07-31, + 25 = 08-25; 2026 log: 2027-03-01.
        "California business days: a Saturday holiday is not moved to Friday",
        {"discovery_date": "2026-06-26", "affected_by_state": {"CA": 5}},
        True,
        [
            ("individual", "2026-07-17", CA_PATIENTS),
            ("state-health-department", "2026-07-17", CDPH),
            ("individual", "2026-08-25", IND),
            ("hhs-annual-log", "2027-03-01", LOG),
        ],
    ),
    (
        # California restarts: 15 business days after Tue 04-01: 04-02..04 (3), 04-07..11
        # (8), 04-14..18 (13), 04-21, 04-22 (15). HIPAA tolled 29 days: 05-31.
        "California after a law-enforcement delay: 15 business days from its end",
        {"affected_by_state": {"CA": 10}, "law_enforcement_delay_until": "2025-04-01"},
        True,
        [
            ("individual", "2025-04-22", CA_PATIENTS),
            ("state-health-department", "2025-04-22", CDPH),
            ("individual", "2025-05-31", IND),
            ("hhs-annual-log", "2026-03-01", LOG),
        ],
    ),
    (
        "California, 501 residents: media and the Attorney General's sample copy",
        {"affected_by_state": {"CA": 501}},
        True,
        [
            *CA_15,
            *LARGE,
            ("media", "2025-05-02", media("CA")),
            ("state-attorney-general", "2025-05-02", CA_AG),
        ],
    ),
    (
        "California, exactly 500 residents: no media, no Attorney General",
        {"affected_by_state": {"CA": 500}},
        True,
        [*CA_15, *LARGE],
    ),
    (
        # 03-03 + 30 = 04-02.
        "Colorado: 30 days for residents",
        {"affected_by_state": {"CO": 100}},
        True,
        [("individual", "2025-04-02", CO_RESIDENTS), *SMALL],
    ),
    (
        "Colorado, 500 residents: the Attorney General within 30 days too",
        {"affected_by_state": {"CO": 500}},
        True,
        [
            ("individual", "2025-04-02", CO_RESIDENTS),
            ("state-attorney-general", "2025-04-02", CO_AG),
            *LARGE,
        ],
    ),
    (
        "Colorado rules do not apply when HIPAA finds no breach",
        {"affected_by_state": {"CO": 900}, "acquired_or_viewed": False, "mitigated": True},
        False,
        [],
    ),
    (
        "Florida, 500 residents: Department of Legal Affairs within 30 days",
        {"affected_by_state": {"FL": 500}},
        True,
        [("state-attorney-general", "2025-04-02", FL_DLA), *LARGE],
    ),
    ("Florida, 499 residents: no state notice", {"affected_by_state": {"FL": 499}}, True, SMALL),
    (
        "Texas, 250 residents: Attorney General within 30 days",
        {"affected_by_state": {"TX": 250}},
        True,
        [("state-attorney-general", "2025-04-02", TX_AG), *SMALL],
    ),
    ("Texas, 249 residents: no state notice", {"affected_by_state": {"TX": 249}}, True, SMALL),
    (
        # Florida tolls: 03-03 + 30 = 04-02, + 29 days of delay = 05-01.
        "Florida with a law-enforcement delay: tolled",
        {"affected_by_state": {"FL": 500}, "law_enforcement_delay_until": "2025-04-01"},
        True,
        [
            ("state-attorney-general", "2025-05-01", FL_DLA),
            ("individual", "2025-05-31", IND),
            ("hhs", "2025-05-31", HHS),
        ],
    ),
    (
        "Washington, 501 residents: Attorney General with the HHS notice",
        {"affected_by_state": {"WA": 501}},
        True,
        [
            *LARGE,
            ("media", "2025-05-02", media("WA")),
            ("state-attorney-general", "2025-05-02", WA_AG),
        ],
    ),
    ("Washington, 500 residents: no state notice", {"affected_by_state": {"WA": 500}}, True, LARGE),
    (
        "multi-state incident",
        {"affected_by_state": {"CA": 600, "CO": 20, "FL": 700, "TX": 300, "WA": 10, "NY": 5}},
        True,
        [
            *CA_15,
            ("individual", "2025-04-02", CO_RESIDENTS),
            ("state-attorney-general", "2025-04-02", FL_DLA),
            ("state-attorney-general", "2025-04-02", TX_AG),
            *LARGE,
            ("media", "2025-05-02", media("CA")),
            ("media", "2025-05-02", media("FL")),
            ("state-attorney-general", "2025-05-02", CA_AG),
        ],
    ),
    (
        "reported by a business associate acting as agent: clock from its discovery",
        {"reported_by_business_associate": True, "business_associate_notified_on": "2025-04-20"},
        True,
        SMALL,
    ),
    (
        # 04-20 + 10 = 04-30, + 31 = 05-31, + 19 = 06-19.
        "reported by an independent-contractor business associate: clock from its notice",
        {
            "reported_by_business_associate": True,
            "business_associate_is_agent": False,
            "business_associate_notified_on": "2025-04-20",
        },
        True,
        [("individual", "2025-06-19", IND), ("hhs-annual-log", "2026-03-01", LOG)],
    ),
    (
        # Clock 2026-01-10: + 21 = 01-31, + 28 = 02-28, + 11 = 03-11; 2026 log: 2027-03-01.
        "business associate's notice in the next year: next year's log",
        {
            "discovery_date": "2025-12-15",
            "reported_by_business_associate": True,
            "business_associate_is_agent": False,
            "business_associate_notified_on": "2026-01-10",
        },
        True,
        [("individual", "2026-03-11", IND), ("hhs-annual-log", "2027-03-01", LOG)],
    ),
    (
        "independent contractor without a notice date: counted from its discovery",
        {"reported_by_business_associate": True, "business_associate_is_agent": False},
        True,
        SMALL,
    ),
    (
        # Clock 04-20: Colorado 04-20 + 30 = 05-20; HIPAA 06-19.
        "independent contractor, Colorado residents: state clock from the notice too",
        {
            "affected_by_state": {"CO": 10},
            "reported_by_business_associate": True,
            "business_associate_is_agent": False,
            "business_associate_notified_on": "2025-04-20",
        },
        True,
        [
            ("individual", "2025-05-20", CO_RESIDENTS),
            ("individual", "2025-06-19", IND),
            ("hhs-annual-log", "2026-03-01", LOG),
        ],
    ),
    (
        "10 without contact information: web or media substitute notice",
        {"affected_by_state": {"NY": 100}, "unreachable_individuals": 10},
        True,
        [("individual", "2025-05-02", IND), ("individual", "2025-05-02", SUB10), SMALL[1]],
    ),
    (
        "9 without contact information: alternative substitute notice",
        {"affected_by_state": {"NY": 100}, "unreachable_individuals": 9},
        True,
        [("individual", "2025-05-02", IND), ("individual", "2025-05-02", SUB_FEW), SMALL[1]],
    ),
    (
        "substitute notice is not needed when it is not a breach",
        {"unreachable_individuals": 10, "exception": "unable-to-retain"},
        False,
        [],
    ),
]


@pytest.mark.parametrize(
    ("overrides", "breach", "expected"),
    [pytest.param(o, b, e, id=name) for name, o, b, e in SCENARIOS],
)
def test_scenario(
    overrides: dict[str, Any], breach: bool, expected: list[tuple[str, str, str]]
) -> None:
    """The verdict and the full list of obligations, due dates and recipients."""
    result = assess(Incident.model_validate({**BASE, **overrides}))
    assert result.breach is breach, result.reasoning
    got = [(o.kind, o.due.isoformat(), o.recipient) for o in result.obligations]
    assert got == expected, "\n".join(result.reasoning)


def test_the_table_is_large_and_covers_each_verdict() -> None:
    """At least 40 scenarios, with breaches and non-breaches both represented."""
    assert len(SCENARIOS) >= 40
    assert {b for _, _, b, _ in SCENARIOS} == {True, False}
    assert len({name for name, *_ in SCENARIOS}) == len(SCENARIOS)
