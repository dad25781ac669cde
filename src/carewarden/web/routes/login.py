"""Log-in (password and TOTP code, throttled and locked out on repeated failure) and
log-out. The log-in form's CSRF token is a double-submit cookie (there is no session yet)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from carewarden.services import accounts
from carewarden.web.auth import principal_of, session_cookie_name
from carewarden.web.hub import StoreHub
from carewarden.web.security import same_token

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "cw_login"


def _safe_next(target: str | None) -> str:
    """Only a local path (never another site) is followed after log-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _form(request: Request, error: str | None = None, status: int = 200) -> Response:
    from carewarden.web.app import templates

    token = secrets.token_urlsafe(32)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {
            "principal": None,
            "csrf": token,
            "error": error,
            "next": _safe_next(request.query_params.get("next")),
        },
        status_code=status,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=bool(request.app.state.tls),
        max_age=1800,
    )
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    return _form(request)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    code: Annotated[str, Form(max_length=12)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    hub: StoreHub = request.app.state.hub
    throttle = request.app.state.throttle
    client = request.client.host if request.client else "unknown"
    if not same_token(request.cookies.get(LOGIN_COOKIE), csrf_token):
        return _form(request, "The form expired; please try again.", 400)
    if throttle.blocked(client):
        hub.audit(username, "login.throttled", client)
        return _form(request, "Too many failed log-ins from this address; wait a few minutes.", 429)
    try:
        user = hub.write(lambda store: accounts.authenticate(store, username, password, code))
    except accounts.LoginError as exc:
        throttle.failed(client)
        hub.audit(username, "login.failed", client)
        return _form(request, str(exc), 401)
    throttle.succeeded(client)
    cookie, _ = hub.write(lambda store: accounts.create_session(store, user.username, client))
    hub.audit(user.username, "login", client)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.delete_cookie(LOGIN_COOKIE)
    response.set_cookie(
        session_cookie_name(request),
        cookie,
        httponly=True,
        samesite="strict",
        secure=bool(request.app.state.tls),
        path="/",
        max_age=int(accounts.ABSOLUTE_TIMEOUT.total_seconds()),
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    hub: StoreHub = request.app.state.hub
    principal = principal_of(request)
    cookie = request.cookies.get(session_cookie_name(request))
    if principal is not None and cookie and same_token(principal.csrf_token, csrf_token):
        hub.write(lambda store: accounts.end_session(store, cookie))
        hub.audit(principal.actor, "logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session_cookie_name(request), path="/")
    return response
