"""The console's pages: server-rendered, one service call each, a permission on each."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from carewarden.errors import CarewardenError
from carewarden.iomt.classify import CLASSES
from carewarden.prepare.cases import STATUSES as CASE_STATUSES
from carewarden.prepare.playbooks import ENTITY_KINDS
from carewarden.services import alerts as alert_service
from carewarden.services import assets as asset_service
from carewarden.services import audit
from carewarden.services import cases as case_service
from carewarden.services.health import ingestion_health
from carewarden.services.investigate import UNEXPLAINED, timeline
from carewarden.services.posture import posture
from carewarden.services.roles import Permission
from carewarden.web import charts
from carewarden.web.auth import (
    AlertPage,
    AuditPage,
    IngestPage,
    InvestigatePage,
    OverviewPage,
    Principal,
    TriagePage,
    hub_of,
)
from carewarden.web.routes.api import shown_patients

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query(max_length=200)]


def render(request: Request, template: str, principal: Principal, **context: Any) -> Response:
    from carewarden.web.app import templates

    hub = hub_of(request)

    def zone() -> str:
        with hub.reader() as store:
            return store.setting("site_tz") or "UTC"

    return templates.TemplateResponse(
        request,
        template,
        {
            "principal": principal,
            "csrf": principal.csrf_token or "",
            "P": Permission,
            "tz": ZoneInfo(hub.cached("site_tz", zone)),
            "UNEXPLAINED": UNEXPLAINED,
            **context,
        },
    )


@router.get("/")
def overview_page(request: Request, principal: OverviewPage) -> Response:
    hub = hub_of(request)

    def compute() -> Any:
        with hub.reader() as store:
            return posture(store)

    found = hub.cached("posture", compute)
    return render(
        request,
        "overview.html",
        principal,
        posture=found,
        layer_bars=charts.layer_bars(found),
        trend=charts.trend(found.trend),
    )


def _blank(value: str | None) -> str | None:
    return value or None


@router.get("/alerts")
def alerts_page(
    request: Request,
    principal: AlertPage,
    status: Annotated[str, Query(max_length=20)] = "active",
    severity: Text = None,
    rule_id: Text = None,
    layer: Text = None,
    user_id: Text = None,
    patient_id: Text = None,
    assignee: Text = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=10, le=200)] = 50,
    message: Text = None,
) -> Response:
    hub = hub_of(request)
    if status not in ("active", "open", "acknowledged", "closed", "all"):
        status = "active"
    if severity not in (None, "", *alert_service.SEVERITIES):
        severity = None
    filters = alert_service.AlertFilter(
        status=None if status == "all" else status,
        severity=_blank(severity),
        rule_id=_blank(rule_id),
        layer=_blank(layer),
        user_id=_blank(user_id),
        patient_id=_blank(patient_id),
        assignee=_blank(assignee),
    )

    def compute() -> tuple[alert_service.AlertPage, list[str]]:
        with hub.reader() as store:
            return (
                alert_service.list_alerts(store, filters, page=page, page_size=page_size),
                alert_service.rule_ids(store),
            )

    found, rules = hub.cached(("alerts-page", filters, page, page_size), compute)
    hub.audit(
        principal.actor,
        "view.alerts",
        None,
        {"filters": filters.__dict__, "page": page, "patients": shown_patients(found.items)},
    )
    query = {
        k: v
        for k, v in {
            "status": status,
            "severity": severity,
            "rule_id": rule_id,
            "layer": layer,
            "user_id": user_id,
            "patient_id": patient_id,
            "assignee": assignee,
            "page_size": page_size,
        }.items()
        if v
    }
    return render(
        request,
        "alerts.html",
        principal,
        page=found,
        rules=rules,
        query=query,
        status=status,
        severity=severity or "",
        rule_id=rule_id or "",
        layer=layer or "",
        user_id=user_id or "",
        patient_id=patient_id or "",
        assignee=assignee or "",
        severities=alert_service.SEVERITIES,
        dispositions=list(alert_service.Disposition),
        message=message,
        page_link=lambda n: "/alerts?" + urlencode({**query, "page": n}),
        here="/alerts?" + urlencode({**query, "page": page}),
    )


@router.get("/alerts/{alert_id}")
def alert_page(request: Request, principal: AlertPage, alert_id: str) -> Response:
    hub = hub_of(request)
    with hub.reader() as store:
        found = alert_service.get_alert(store, alert_id)
    if found is None:
        raise HTTPException(404, "There is no alert with this id.")
    hub.audit(principal.actor, "view.alert", alert_id, {"patient": found["patient_id"]})
    return render(
        request,
        "alert.html",
        principal,
        alert=found,
        dispositions=list(alert_service.Disposition),
        message=request.query_params.get("message"),
    )


def _local_next(target: str, fallback: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else fallback


@router.post("/alerts/triage")
def triage_form(
    request: Request,
    principal: TriagePage,
    action: Annotated[str, Form(max_length=20)],
    alert_ids: Annotated[list[str] | None, Form()] = None,
    assignee: Annotated[str, Form(max_length=200)] = "",
    disposition: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/alerts",
) -> Response:
    hub = hub_of(request)
    target = _local_next(next, "/alerts")
    try:
        updated = hub.write(
            lambda store: alert_service.triage(
                store,
                alert_ids or [],
                action,
                principal.actor,
                assignee=assignee or None,
                disposition=disposition or None,
                note=note or None,
            )
        )
    except alert_service.TriageError as exc:
        message = str(exc)
    else:
        hub.audit(
            principal.actor,
            f"alert.{action}",
            None,
            {"alerts": updated, "assignee": assignee or None, "disposition": disposition or None},
        )
        message = f"{action}: {len(updated)} alert(s) updated"
    separator = "&" if "?" in target else "?"
    return RedirectResponse(
        f"{target}{separator}{urlencode({'message': message})}", status_code=303
    )


@router.get("/investigate")
def investigate_page(
    request: Request,
    principal: InvestigatePage,
    kind: Annotated[str, Query(max_length=10)] = "user",
    subject_id: Text = None,
) -> Response:
    if subject_id and kind in ("user", "patient"):
        return RedirectResponse(f"/investigate/{kind}/{subject_id}", status_code=303)
    return render(request, "investigate.html", principal, timeline=None, kind=kind)


@router.get("/investigate/{kind}/{subject_id}")
def timeline_page(
    request: Request,
    principal: InvestigatePage,
    kind: Literal["user", "patient"],
    subject_id: str,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Response:
    hub = hub_of(request)
    try:
        with hub.reader() as store:
            found = timeline(store, kind, subject_id, limit=limit)
    except CarewardenError as exc:
        return render(
            request, "investigate.html", principal, timeline=None, kind=kind, error=str(exc)
        )
    hub.audit(principal.actor, f"view.timeline.{kind}", subject_id, {"rows": len(found.rows)})
    unexplained = sum(1 for r in found.rows if r["explanation"] == UNEXPLAINED)
    return render(
        request, "investigate.html", principal, timeline=found, kind=kind, unexplained=unexplained
    )


@router.get("/cases")
def cases_page(
    request: Request,
    principal: AlertPage,
    status: Text = None,
    entity_kind: Text = None,
    overdue: bool = False,
) -> Response:
    hub = hub_of(request)
    with hub.reader() as store:
        found = case_service.list_cases(
            store, status=status or None, entity_kind=entity_kind or None, overdue_only=overdue
        )
    hub.audit(
        principal.actor,
        "view.cases",
        None,
        {"cases": [c.case_id for c in found[:200]], "status": status, "entity_kind": entity_kind},
    )
    return render(
        request,
        "cases.html",
        principal,
        cases=found,
        status=status or "",
        entity_kind=entity_kind or "",
        overdue=overdue,
        statuses=CASE_STATUSES,
        kinds=ENTITY_KINDS,
    )


@router.get("/cases/{case_id}")
def case_page(request: Request, principal: AlertPage, case_id: str) -> Response:
    hub = hub_of(request)
    try:
        with hub.reader() as store:
            found = case_service.case_detail(store, case_id)
    except CarewardenError as err:
        raise HTTPException(404, "There is no case with this id.") from err
    patients = sorted({a["patient_id"] for a in found.alerts if a["patient_id"]})
    hub.audit(principal.actor, "view.case", case_id, {"patients": patients})
    return render(request, "case.html", principal, detail=found, case=found.case)


@router.get("/assets")
def assets_page(
    request: Request,
    principal: OverviewPage,
    cls: Annotated[str | None, Query(alias="class", max_length=40)] = None,
) -> Response:
    hub = hub_of(request)

    def inventory() -> Any:
        with hub.reader() as store:
            counts = asset_service.inventory_by_class(store)
            devices = asset_service.list_assets(store, cls) if cls in CLASSES else []
            return counts, devices

    def layers() -> Any:
        with hub.reader() as store:
            return posture(store)

    counts, devices = hub.cached(("assets", cls), inventory)
    found = hub.cached("posture", layers)  # the overview page's, shared
    iomt = next((layer for layer in found.layers if layer.key == "iomt"), None)
    return render(
        request,
        "assets.html",
        principal,
        iomt=iomt,
        counts=counts,
        devices=devices,
        cls=cls if cls in CLASSES else None,
    )


@router.get("/assets/{asset_id}")
def asset_page(request: Request, principal: OverviewPage, asset_id: str) -> Response:
    hub = hub_of(request)
    try:
        with hub.reader() as store:
            device = asset_service.show_asset(store, asset_id)
    except CarewardenError as err:
        raise HTTPException(404, "There is no device with this id.") from err
    return render(request, "asset.html", principal, device=device)


@router.get("/ingestion")
def ingestion_page(request: Request, principal: IngestPage) -> Response:
    hub = hub_of(request)
    with hub.reader() as store:
        found = ingestion_health(store)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return render(request, "ingestion.html", principal, health=found, now=now)


@router.get("/audit")
def audit_page(
    request: Request,
    principal: AuditPage,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    hub = hub_of(request)
    with hub.reader() as store:
        records = audit.records(store, limit=100, offset=(page - 1) * 100)
        last_seq, head = audit.head(store)
    return render(
        request, "audit.html", principal, records=records, last_seq=last_seq, head=head, page=page
    )
