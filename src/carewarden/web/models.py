"""The API's response and request bodies (one schema per direction; nothing stored that
is not listed here leaves the server)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from carewarden.services.alerts import Action, Disposition

Severity = Literal["critical", "high", "medium", "low", "info"]
StatusFilter = Literal["open", "acknowledged", "closed", "active"]


class AlertSummary(BaseModel):
    alert_id: str
    rule_id: str
    title: str
    severity: str
    score: int
    user_id: str | None
    patient_id: str | None
    first_seen: dt.datetime
    last_seen: dt.datetime
    events: int
    explanation: str
    status: str
    assignee: str | None
    disposition: str | None
    updated_at: dt.datetime | None


class AlertList(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[AlertSummary]


class Evidence(BaseModel):
    time: dt.datetime
    event_id: str
    user_id: str
    user_name: str | None
    patient_id: str
    patient_name: str | None
    action: str | None
    outcome: str | None
    workstation: str | None
    purpose: str | None
    reason: str | None


class HistoryEntry(BaseModel):
    changed_at: dt.datetime
    actor: str
    action: str
    status: str
    assignee: str | None
    disposition: str | None
    note: str | None


class AlertDetail(BaseModel):
    alert_id: str
    rule_id: str
    title: str
    severity: str
    score: int
    user_id: str | None
    patient_id: str | None
    first_seen: dt.datetime
    last_seen: dt.datetime
    event_ids: list[str]
    explanation: str
    mapping: list[str] | None
    status: str
    assignee: str | None
    disposition: str | None
    created_at: dt.datetime
    updated_at: dt.datetime | None
    evidence: list[Evidence]
    history: list[HistoryEntry]


class TriageRequest(BaseModel):
    alert_ids: list[str] = Field(min_length=1, max_length=1000)
    action: Action
    assignee: str | None = Field(default=None, max_length=200)
    disposition: Disposition | None = None
    note: str | None = Field(default=None, max_length=2000)


class TriageResult(BaseModel):
    updated: list[str]


class LayerOut(BaseModel):
    key: str
    name: str
    monitored: bool
    rows: dict[str, int]
    note: str
    open_by_severity: dict[str, int]


class TrendPoint(BaseModel):
    day: dt.date
    severity: str
    alerts: int


class PostureOut(BaseModel):
    layers: list[LayerOut]
    open_by_severity: dict[str, int]
    total_alerts: int
    trend: list[TrendPoint]
    last_event: dt.datetime | None


class TimelineOut(BaseModel):
    kind: Literal["user", "patient"]
    subject_id: str
    subject: dict[str, Any]
    total: int
    rows: list[dict[str, Any]]


CaseStatus = Literal["open", "investigating", "contained", "closed"]
EntityKind = Literal["user", "host", "device", "patient"]


class CaseList(BaseModel):
    total: int
    items: list[dict[str, Any]]  # each as `carewarden cases list --format jsonl` prints it


class CaseOut(BaseModel):
    """As `carewarden cases show --format json` prints it."""

    case: dict[str, Any]
    alerts: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    history: list[dict[str, Any]]
    breach: dict[str, Any] | None


class SourceOut(BaseModel):
    kind: str
    files: int
    records: int
    duplicates: int
    quarantined: int
    last_ingested: dt.datetime


class QuarantinedOut(BaseModel):
    quarantined_at: dt.datetime
    kind: str
    path: str
    line: int | None
    error: str


class HealthOut(BaseModel):
    sources: list[SourceOut]
    last_event: dt.datetime | None
    quarantine_total: int
    quarantine_by_error: list[tuple[str, int]]
    quarantine_recent: list[QuarantinedOut]


class JobRequest(BaseModel):
    site_tz: str | None = Field(default=None, max_length=64)


class JobOut(BaseModel):
    job_id: str
    kind: str
    state: Literal["running", "done", "failed"]
    started_at: dt.datetime
    finished_at: dt.datetime | None
    summary: dict[str, Any]
    error: str | None


class Problem(BaseModel):
    detail: str
