"""The shipped healthcare policy set, case by case: each rule and its edges.

Every case is an AuthZEN request against the hand-written hospital of conftest.py (a compliant
device and a 10-minute-old MFA at 2026-03-02 10:00 UTC unless the case says otherwise), the
expected decision and, where the case is about one rule, the policy that must decide it.
"""

from __future__ import annotations

from typing import Any

import pytest

from carewarden.access.decision import DecisionPoint
from conftest import request

OK_DEVICE = {"managed": True, "encrypted": True, "patched": True, "patch_age_days": 3}
BTG = {"purpose_of_use": "ETREAT", "reason": "Unresponsive on arrival, checking allergies"}

# (case id, user, patient, action, context overrides, permitted, policy that decides or None)
CASES: list[tuple[str, str, str, str, dict[str, Any], bool, str | None]] = [
    # Treatment relationships: the audit's own (encounter, care team, department, colleague)
    ("attending reads", "doc", "pat", "read", {}, True, "treatment-read"),
    ("attending searches", "doc", "pat", "search", {}, True, "treatment-read"),
    ("attending updates", "doc", "pat", "update", {}, True, "treatment-update"),
    ("attending cannot export", "doc", "pat", "export", {}, False, None),
    ("attending 23 h before admission", "doc", "pat", "read",
     {"time": "2026-02-28T09:00:00Z"}, True, "treatment-read"),
    ("attending 25 h before admission", "doc", "pat", "read",
     {"time": "2026-02-28T07:00:00Z"}, False, None),
    ("attending 6 days after discharge", "doc", "pat", "read",
     {"time": "2026-03-11T10:00:00Z"}, True, "treatment-read"),
    ("repeat of an explained access", "doc", "pat", "read",
     {"time": "2026-03-25T10:00:00Z"}, True, "treatment-read"),
    ("past the repeat window", "doc", "pat", "read",
     {"time": "2026-04-10T10:00:00Z"}, False, None),
    ("same-department colleague reads", "cover", "pat", "read", {}, True, "treatment-read"),
    ("same-department physician updates", "cover", "pat", "update", {}, True,
     "treatment-update"),
    ("cross-cover colleague of the attending", "cover", "boarder", "read", {}, True,
     "treatment-read"),
    ("other department's nurse", "ednurse", "pat", "read", {}, False, None),
    ("other department's nurse, boarder", "ednurse", "boarder", "read", {}, False, None),
    ("care-team member reads", "ednurse", "ctpat", "read", {}, True, "treatment-read"),
    ("care-team nurse updates", "ednurse", "ctpat", "update", {}, True, "treatment-update"),
    ("no relationship", "doc", "nobody", "read", {}, False, None),
    ("no relationship, search", "doc", "nobody", "search", {}, False, None),
    ("unregistered patient", "doc", "ghost", "read", {}, False, "patient-must-exist"),
    ("unknown user", "stranger", "pat", "read", {}, False, "employment-required"),
    ("unknown action", "doc", "pat", "delete", {}, False, None),
    # Ancillary roles: the service relationship of their role
    ("pharmacist during the stay", "pharm", "pat", "read", {}, True, "service-read"),
    ("pharmacist updates during the stay", "pharm", "pat", "update", {}, True,
     "service-update"),
    ("pharmacist cannot export", "pharm", "pat", "export", {}, False, None),
    ("pharmacist weeks after discharge", "pharm", "pat", "read",
     {"time": "2026-04-20T10:00:00Z"}, False, None),
    ("lab technician during the stay", "labtech", "pat", "read", {}, True, "service-read"),
    ("billing after discharge", "bill", "pat", "read", {"time": "2026-03-20T10:00:00Z"},
     True, "service-read"),
    ("billing past its window", "bill", "pat", "read", {"time": "2026-05-20T10:00:00Z"},
     False, None),
    ("billing cannot update", "bill", "pat", "update", {"time": "2026-03-20T10:00:00Z"},
     False, None),
    ("HIM exports after discharge", "him", "pat", "export",
     {"time": "2026-03-20T10:00:00Z", "mfa_age_s": 300}, True, "him-export"),
    ("HIM export needs a 15-minute MFA", "him", "pat", "export",
     {"time": "2026-03-20T10:00:00Z", "mfa_age_s": 901}, False, "mfa-age-export"),
    ("HIM export at exactly 15 minutes", "him", "pat", "export",
     {"time": "2026-03-20T10:00:00Z", "mfa_age_s": 900}, True, "him-export"),
    ("registration at admission", "reg", "pat", "read", {"time": "2026-03-01T08:30:00Z"},
     True, "service-read"),
    ("registration days later", "reg", "walkin", "read", {"time": "2026-03-13T08:30:00Z"},
     False, None),
    ("registration searches anyone", "reg", "nobody", "search", {}, True,
     "registration-search"),
    ("IT analyst reads", "it", "pat", "read", {}, False, None),
    ("IT analyst searches", "it", "pat", "search", {}, False, None),
    # Restricted and VIP patients: an explicit relationship (encounter, care team)
    ("attending reads a VIP", "doc", "vip", "read", {}, True, "treatment-read"),
    ("department colleague, VIP", "cover", "vip", "read", {}, False,
     "restricted-needs-explicit-relationship"),
    ("pharmacist, VIP", "pharm", "vip", "read", {}, False,
     "restricted-needs-explicit-relationship"),
    ("registration searches a VIP", "reg", "vip", "search", {}, False,
     "restricted-needs-explicit-relationship"),
    ("attending reads a restricted chart", "doc", "res", "read", {}, True, "treatment-read"),
    ("department colleague, restricted", "cover", "res", "read", {}, False,
     "restricted-needs-explicit-relationship"),
    ("break the glass on a VIP", "cover", "vip", "read", BTG, True, "break-glass"),
    ("break the glass on a VIP without reason", "cover", "vip", "read",
     {"purpose_of_use": "ETREAT"}, False, "break-glass-needs-reason"),
    ("break the glass to update a VIP", "cover", "vip", "update", BTG, False,
     "break-glass-reads-only"),
    # Break the glass: emergency reads with a reason, physicians and nurses only
    ("ED nurse in an emergency", "ednurse", "walkin", "read",
     {**BTG, "time": "2026-03-10T04:00:00Z"}, True, None),
    ("break the glass, no relationship", "doc", "nobody", "read", BTG, True, "break-glass"),
    ("break the glass, empty reason", "doc", "nobody", "read",
     {"purpose_of_use": "ETREAT", "reason": ""}, False, "break-glass-needs-reason"),
    ("break the glass, blank reason", "doc", "nobody", "read",
     {"purpose_of_use": "ETREAT", "reason": "   "}, False, "break-glass-needs-reason"),
    ("break the glass, lower-case purpose", "doc", "nobody", "read",
     {**BTG, "purpose_of_use": "etreat"}, True, "break-glass"),
    ("pharmacist cannot break the glass", "pharm", "nobody", "read", BTG, False, None),
    ("IT cannot break the glass", "it", "nobody", "read", BTG, False, None),
    ("break the glass to update", "doc", "nobody", "update", BTG, False,
     "break-glass-reads-only"),
    ("break the glass to export", "doc", "nobody", "export", BTG, False,
     "break-glass-reads-only"),
    ("former employee breaks the glass", "former", "nobody", "read", BTG, False,
     "employment-required"),
    # Employment: a role whose period covers the request
    ("expired employment", "former", "pat", "read", {}, False, "employment-required"),
    ("employment not started", "future", "pat", "read", {}, False, "employment-required"),
    ("inactive practitioner", "gone", "pat", "read", {}, False, "employment-required"),
    ("pharmacist before a transfer", "transfer", "pat", "read",
     {"time": "2026-03-01T12:00:00Z"}, True, "service-read"),
    ("after the transfer to IT", "transfer", "pat", "read",
     {"time": "2026-03-04T10:00:00Z"}, False, None),
    # Device posture and MFA
    ("unmanaged device", "doc", "pat", "read", {"device": {**OK_DEVICE, "managed": False}},
     False, "device-posture"),
    ("unencrypted disk", "doc", "pat", "read", {"device": {**OK_DEVICE, "encrypted": False}},
     False, "device-posture"),
    ("unpatched device", "doc", "pat", "read", {"device": {**OK_DEVICE, "patched": False}},
     False, "device-posture"),
    ("patch 31 days old", "doc", "pat", "read",
     {"device": {**OK_DEVICE, "patch_age_days": 31}}, False, "device-posture"),
    ("patch 30 days old", "doc", "pat", "read",
     {"device": {**OK_DEVICE, "patch_age_days": 30}}, True, "treatment-read"),
    ("no device posture", "doc", "pat", "read", {"device": None}, False, "device-posture"),
    ("break the glass on an unmanaged device", "doc", "nobody", "read",
     {**BTG, "device": {**OK_DEVICE, "managed": False}}, False, "device-posture"),
    ("MFA 12 hours old", "doc", "pat", "read", {"mfa_age_s": 43200}, True, "treatment-read"),
    ("MFA older than 12 hours", "doc", "pat", "read", {"mfa_age_s": 43201}, False, "mfa-age"),
    ("no MFA", "doc", "pat", "read", {"mfa_age_s": None}, False, "mfa-age"),
    # Risk: open alerts and session risk
    ("high risk is denied", "risky", "pat", "read", {}, False, "risk-deny"),
    ("high risk, even after step-up", "risky", "pat", "read", {"mfa_age_s": 10}, False,
     "risk-deny"),
    ("raised risk needs a step-up", "medium", "pat", "read", {}, False, "risk-step-up"),
    ("raised risk after a step-up", "medium", "pat", "read", {"mfa_age_s": 120}, True,
     "treatment-read"),
    ("step-up exactly at the rise", "medium", "pat", "read", {"mfa_age_s": 300}, False,
     "risk-step-up"),
]


@pytest.mark.parametrize(
    ("user", "patient", "action", "context", "permitted", "policy"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_policy_case(
    point: DecisionPoint, user: str, patient: str, action: str, context: dict[str, Any],
    permitted: bool, policy: str | None,
) -> None:
    """The request gets the expected decision, and the named policy is among its reasons."""
    answer = point.evaluate_authzen(request(user, patient, action, **context))
    assert answer["decision"] is permitted, answer
    reasons = [r["policy"] for r in answer["context"]["reasons"]]
    if policy is not None:
        assert policy in reasons, answer
    if not permitted and policy is None:
        # Denied by default: nothing permitted it, or it could not be evaluated.
        assert not any(r["effect"] == "permit" for r in answer["context"]["reasons"])


def test_the_suite_covers_every_shipped_policy(point: DecisionPoint) -> None:
    """Every policy of the shipped set decides at least one case above (so a new policy
    needs a case), and there are at least 60 cases."""
    named = {case[6] for case in CASES if case[6]}
    assert set(point.policies.current.files) <= named
    assert len(CASES) >= 60
