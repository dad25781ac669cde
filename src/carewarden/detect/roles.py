"""Map each PractitionerRole to one of Carewarden's role categories (physician, nurse,
pharmacist, laboratory…), whatever code system the EHR exported, and report what could not
be mapped so the hospital can extend the policy's ``role_codes`` / ``role_words``."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

from carewarden.detect.policy import PrivacyPolicy
from carewarden.store import Store


@dataclass
class RoleMapping:
    categories: pa.Table  # user_id, role_id, category, department_id, period_start, period_end
    matched_by: Counter[str] = field(default_factory=Counter)  # code | words | department
    unmapped: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    # per unmapped (system, code, display): accesses by users holding it, and how many of
    # those nothing explains (what mapping it would change)
    unmapped_accesses: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)


def words_of(text: str) -> str:
    """Lower-case words separated by single spaces, with a space at each end, so a policy
    word written with a trailing space ("lab ") matches only the whole word."""
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


def service_of_department(policy: PrivacyPolicy, department: str | None) -> str | None:
    """The service category a department's name implies (Radiology, Pharmacy, Lab…), if any:
    a role coded only generically ("doctor") in Radiology still reads images."""
    if not department:
        return None
    text = words_of(department)
    for category, pattern in policy.word_patterns():
        if pattern.search(text):
            return category if category in policy.service_roles else None
    return None


def categorize(
    policy: PrivacyPolicy,
    system: str | None,
    code: str | None,
    display: str | None,
    specialty: str | None,
    department: str | None,
) -> tuple[str, str]:
    """(category, how it was matched) for one role; ("other", "unmapped") when nothing fits."""
    if system and code and f"{system}|{code}" in policy.role_codes:
        return policy.role_codes[f"{system}|{code}"], "code"
    patterns = policy.word_patterns()
    for how, text in (
        ("words", display),
        ("words", code),
        ("specialty", specialty),
        ("department", department),
    ):
        if not text:
            continue
        lowered = words_of(text)
        for category, pattern in patterns:
            if pattern.search(lowered):
                return category, how
    return "other", "unmapped"


def map_roles(store: Store, policy: PrivacyPolicy) -> RoleMapping:
    rows = store.query(
        """
        SELECT r.user_id, r.role_id, r.role_system, r.role_code, r.role_display, r.specialty,
               d.name, r.department_id, r.period_start, r.period_end
        FROM workforce_role r LEFT JOIN department d ON d.department_id = r.department_id
        ORDER BY r.user_id, r.role_id
        """
    )
    mapping = RoleMapping(categories=pa.table({}))
    out: dict[str, list[object]] = {
        k: []
        for k in ("user_id", "role_id", "category", "department_id", "period_start", "period_end")
    }
    for user, role, system, code, display, specialty, dept_name, dept, start, end in rows:
        category, how = categorize(policy, system, code, display, specialty, dept_name)
        mapping.matched_by[how] += 1
        if how == "unmapped":
            mapping.unmapped[(system or "", code or "", display or "")] += 1
        categories = [category]
        service = service_of_department(policy, dept_name)
        if service and service != category:
            categories.append(service)  # also serves that department's patients
        for each in categories:
            for key, value in (
                ("user_id", user),
                ("role_id", role),
                ("category", each),
                ("department_id", dept),
                ("period_start", start),
                ("period_end", end),
            ):
                out[key].append(value)
    mapping.categories = pa.table(
        {
            "user_id": pa.array(out["user_id"], pa.string()),
            "role_id": pa.array(out["role_id"], pa.string()),
            "category": pa.array(out["category"], pa.string()),
            "department_id": pa.array(out["department_id"], pa.string()),
            "period_start": pa.array(out["period_start"], pa.timestamp("us")),
            "period_end": pa.array(out["period_end"], pa.timestamp("us")),
        }
    )
    return mapping
