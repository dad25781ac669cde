"""The REST API under ``/api/v1``: one service call per route, a permission on each."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from carewarden.errors import CarewardenError
from carewarden.services import alerts as alert_service
from carewarden.services import cases as case_service
from carewarden.services.health import ingestion_health
from carewarden.services.investigate import timeline
from carewarden.services.posture import posture
from carewarden.web.auth import (
    AlertReader,
    AlertTriager,
    IngestReader,
    Investigator,
    JobRunner,
    OverviewReader,
    hub_of,
)
from carewarden.web.models import (
    AlertDetail,
    AlertList,
    CaseList,
    CaseOut,
    CaseStatus,
    EntityKind,
    HealthOut,
    JobOut,
    JobRequest,
    PostureOut,
    Problem,
    Severity,
    StatusFilter,
    TimelineOut,
    TriageRequest,
    TriageResult,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Not authenticated"},
    403: {"model": Problem, "description": "Not permitted for this role or token"},
}
router = APIRouter(prefix="/api/v1", responses=ERRORS)

Text = Annotated[str | None, Query(max_length=200)]
Ident = Annotated[str, Path(min_length=1, max_length=200)]


def alert_filter(
    status: StatusFilter | None,
    severity: Severity | None,
    rule_id: str | None,
    layer: str | None,
    user_id: str | None,
    patient_id: str | None,
    assignee: str | None,
    min_score: int | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> alert_service.AlertFilter:
    def naive(value: dt.datetime | None) -> dt.datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    return alert_service.AlertFilter(
        status=status,
        severity=severity,
        rule_id=rule_id,
        layer=layer,
        user_id=user_id,
        patient_id=patient_id,
        assignee=assignee,
        min_score=min_score,
        since=naive(since),
        until=naive(until),
    )


def shown_patients(items: list[dict[str, Any]]) -> list[str]:
    return sorted({str(i["patient_id"]) for i in items if i.get("patient_id")})


@router.get("/alerts", response_model=AlertList, summary="List alerts (filtered, paged)")
async def list_alerts(
    request: Request,
    principal: AlertReader,
    status: StatusFilter | None = None,
    severity: Severity | None = None,
    rule_id: Text = None,
    layer: Text = None,
    user_id: Text = None,
    patient_id: Text = None,
    assignee: Text = None,
    min_score: Annotated[int | None, Query(ge=0, le=100)] = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=alert_service.MAX_PAGE_SIZE)] = 50,
) -> AlertList:
    hub = hub_of(request)
    filters = alert_filter(
        status, severity, rule_id, layer, user_id, patient_id, assignee, min_score, since, until
    )

    def compute() -> tuple[AlertList, list[str]]:
        with hub.reader() as store:
            found = alert_service.list_alerts(store, filters, page=page, page_size=page_size)
        answer = AlertList.model_validate(
            {
                "total": found.total,
                "page": found.page,
                "page_size": found.page_size,
                "items": found.items,
            }
        )
        return answer, shown_patients(found.items)

    # A page already read is answered on the event loop; a new one is read in a worker thread.
    key = ("api-alerts", filters, page, page_size)
    fresh, cached = hub.peek(key)
    answer, patients = cached if fresh else await run_in_threadpool(hub.cached, key, compute)
    hub.audit(
        principal.actor,
        "view.alerts",
        None,
        {"filters": filters.__dict__, "page": page, "patients": patients},
    )
    return answer


@router.get(
    "/alerts/{alert_id}",
    response_model=AlertDetail,
    responses={404: {"model": Problem}},
    summary="One alert with its explanation, evidence rows and triage history",
)
def get_alert(request: Request, principal: AlertReader, alert_id: Ident) -> AlertDetail:
    hub = hub_of(request)
    with hub.reader() as store:
        found = alert_service.get_alert(store, alert_id)
    if found is None:
        raise HTTPException(404, "no such alert")
    hub.audit(principal.actor, "view.alert", alert_id, {"patient": found["patient_id"]})
    return AlertDetail.model_validate(found)


@router.post(
    "/alerts/triage",
    response_model=TriageResult,
    responses={400: {"model": Problem}},
    summary="Acknowledge, assign, close (with a disposition) or reopen alerts",
)
def triage(request: Request, principal: AlertTriager, body: TriageRequest) -> TriageResult:
    hub = hub_of(request)
    try:
        updated = hub.write(
            lambda store: alert_service.triage(
                store,
                body.alert_ids,
                body.action.value,
                principal.actor,
                assignee=body.assignee,
                disposition=body.disposition.value if body.disposition else None,
                note=body.note,
            )
        )
    except alert_service.TriageError as exc:
        raise HTTPException(400, str(exc)) from None
    hub.audit(
        principal.actor,
        f"alert.{body.action.value}",
        None,
        {
            "alerts": updated,
            "assignee": body.assignee,
            "disposition": body.disposition.value if body.disposition else None,
        },
    )
    return TriageResult(updated=updated)


@router.get(
    "/overview",
    response_model=PostureOut,
    summary="Posture across the defense layers: monitored, open alerts, trend",
)
def overview(request: Request, principal: OverviewReader) -> PostureOut:
    hub = hub_of(request)

    def compute() -> PostureOut:
        with hub.reader() as store:
            found = posture(store)
        return PostureOut(
            layers=[layer.__dict__ for layer in found.layers],  # type: ignore[misc]
            open_by_severity=found.open_by_severity,
            total_alerts=found.total_alerts,
            trend=[
                {"day": d, "severity": s, "alerts": n}  # type: ignore[misc]
                for d, s, n in found.trend
            ],
            last_event=found.last_event,
        )

    return hub.cached("overview", compute)


@router.get("/cases", response_model=CaseList, summary="Cases by risk, filtered")
def list_cases(
    request: Request,
    principal: AlertReader,
    status: CaseStatus | None = None,
    entity_kind: EntityKind | None = None,
    overdue_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CaseList:
    hub = hub_of(request)
    with hub.reader() as store:
        found = case_service.list_cases(
            store, status=status, entity_kind=entity_kind, overdue_only=overdue_only
        )
    shown = found[:limit]
    hub.audit(principal.actor, "view.cases", None, {"cases": [c.case_id for c in shown]})
    return CaseList(total=len(found), items=[c.as_json() for c in shown])


@router.get(
    "/cases/{case_id}",
    response_model=CaseOut,
    responses={404: {"model": Problem}},
    summary="One case with its alerts, playbook tasks, history and breach assessment",
)
def get_case(request: Request, principal: AlertReader, case_id: Ident) -> CaseOut:
    hub = hub_of(request)
    try:
        with hub.reader() as store:
            found = case_service.case_detail(store, case_id)
    except CarewardenError:
        raise HTTPException(404, "no such case") from None
    patients = sorted({a["patient_id"] for a in found.alerts if a["patient_id"]})
    hub.audit(principal.actor, "view.case", case_id, {"patients": patients})
    return CaseOut.model_validate(found.as_json())


@router.get(
    "/investigate/{kind}/{subject_id}",
    response_model=TimelineOut,
    responses={404: {"model": Problem}},
    summary="A user's or a patient's access timeline, each access explained",
)
def investigate(
    request: Request,
    principal: Investigator,
    kind: Literal["user", "patient"],
    subject_id: Ident,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> TimelineOut:
    hub = hub_of(request)
    try:
        with hub.reader() as store:
            found = timeline(store, kind, subject_id, limit=limit)
    except CarewardenError as exc:
        raise HTTPException(404, str(exc)) from None
    hub.audit(principal.actor, f"view.timeline.{kind}", subject_id, {"rows": len(found.rows)})
    return TimelineOut(
        kind=kind, subject_id=subject_id, subject=found.subject, total=found.total, rows=found.rows
    )


@router.get(
    "/ingestion",
    response_model=HealthOut,
    summary="Ingestion health: sources, last event, quarantined records",
)
def ingestion(request: Request, principal: IngestReader) -> HealthOut:
    hub = hub_of(request)
    with hub.reader() as store:
        found = ingestion_health(store)
    return HealthOut.model_validate(found, from_attributes=True)


@router.post(
    "/jobs/detect",
    response_model=JobOut,
    status_code=202,
    summary="Run detection inside the server (how `carewarden detect` works while "
    "the server holds the store)",
)
def start_detect(request: Request, principal: JobRunner, body: JobRequest | None = None) -> JobOut:
    job = request.app.state.jobs.start_detect(site_tz=body.site_tz if body else None)
    hub_of(request).audit(principal.actor, "job.detect", job.job_id)
    return JobOut.model_validate(job, from_attributes=True)


@router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    responses={404: {"model": Problem}},
    summary="A job's state and summary",
)
def get_job(request: Request, principal: JobRunner, job_id: Ident) -> JobOut:
    job = request.app.state.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, "no such job")
    return JobOut.model_validate(job, from_attributes=True)
