"""Console roles and what each may do: the permission matrix the web console and the API
enforce on every route, documented in the README ("Web console")."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    PRIVACY_OFFICER = "privacy-officer"
    AUDITOR = "auditor"


class Permission(StrEnum):
    OVERVIEW_READ = "overview:read"  # posture overview, cases, assets
    ALERTS_READ = "alerts:read"  # the alert queue and alert pages (patient ids, explanations)
    ALERTS_TRIAGE = "alerts:triage"  # acknowledge, assign, close, reopen
    PRIVACY_INVESTIGATE = "privacy:investigate"  # user and patient access timelines
    INGEST_READ = "ingest:read"  # ingestion health: sources, quarantine
    AUDIT_READ = "audit:read"  # the console's own audit log
    USERS_MANAGE = "users:manage"  # accounts and API tokens
    JOBS_RUN = "jobs:run"  # run detection through the server


_READ = {
    Permission.OVERVIEW_READ,
    Permission.ALERTS_READ,
}

MATRIX: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.ANALYST: frozenset(
        _READ | {Permission.ALERTS_TRIAGE, Permission.INGEST_READ, Permission.JOBS_RUN}
    ),
    Role.PRIVACY_OFFICER: frozenset(
        _READ | {Permission.ALERTS_TRIAGE, Permission.PRIVACY_INVESTIGATE, Permission.AUDIT_READ}
    ),
    # Read-only: sees what the others see, changes nothing.
    Role.AUDITOR: frozenset(
        _READ | {Permission.PRIVACY_INVESTIGATE, Permission.INGEST_READ, Permission.AUDIT_READ}
    ),
}


def permissions(role: str) -> frozenset[Permission]:
    """The permissions of ``role`` (none for an unknown role)."""
    try:
        return MATRIX[Role(role)]
    except ValueError:
        return frozenset()


def matrix_markdown() -> str:
    """The matrix as a Markdown table (the README's copy is checked against it)."""
    roles = list(Role)
    lines = [
        "| permission | " + " | ".join(r.value for r in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for perm in Permission:
        marks = ["yes" if perm in MATRIX[r] else "-" for r in roles]
        lines.append(f"| `{perm.value}` | " + " | ".join(marks) + " |")
    return "\n".join(lines)
