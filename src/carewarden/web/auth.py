"""Who is asking, and may they: the principal behind a request (a console session, an API
token, or a local command handing work to the server) and the permission check every route
declares through :class:`Require`. A route without one fails the route-matrix test."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request

from carewarden.services import accounts
from carewarden.services.roles import Permission, permissions
from carewarden.store.store import utcnow
from carewarden.web.hub import StoreHub
from carewarden.web.security import same_token

SESSION_COOKIE = "cw_session"
SECURE_SESSION_COOKIE = "__Host-cw_session"  # over TLS: Secure, host-only, path /
CSRF_HEADER = "x-csrf-token"
LOCAL_HEADER = "x-carewarden-local"
TOKEN_CACHE_SECONDS = 30.0
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Principal:
    name: str  # the console user
    role: str
    permissions: frozenset[Permission]
    kind: Literal["session", "token", "local"]
    csrf_token: str | None = None  # sessions only
    token_id: str | None = None  # tokens only

    @property
    def actor(self) -> str:
        """How the audit log names it."""
        return f"{self.name} (token {self.token_id})" if self.token_id else self.name

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


class NotAuthenticated(Exception):
    """No valid session or token: the API answers 401, a page redirects to the log-in."""

    def __init__(self, page: bool) -> None:
        self.page = page


def hub_of(request: Request) -> StoreHub:
    hub: StoreHub = request.app.state.hub
    return hub


def session_cookie_name(request: Request) -> str:
    return SECURE_SESSION_COOKIE if request.app.state.tls else SESSION_COOKIE


def _token_key(bearer: str) -> tuple[str, str]:
    return ("token", hashlib.sha256(bearer.encode()).hexdigest())


def _from_token(token: accounts.ApiToken | None) -> Principal | None:
    if token is None or token.expires_at <= utcnow():
        return None
    return Principal(
        token.username, token.role, token.permissions, "token", token_id=token.token_id
    )


def _token_principal(hub: StoreHub, bearer: str) -> Principal | None:
    def lookup() -> accounts.ApiToken | None:
        with hub.reader() as store:
            return accounts.verify_token(store, bearer)

    return _from_token(hub.cached(_token_key(bearer), lookup, ttl=TOKEN_CACHE_SECONDS))


def _known_token_principal(request: Request) -> tuple[bool, Principal | None]:
    """A bearer token's principal straight from the cache (no worker thread, no query):
    (True, principal or None) when the token was checked recently, else (False, None)."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return False, None
    fresh, token = hub_of(request).peek(_token_key(header[7:].strip()), TOKEN_CACHE_SECONDS)
    return (True, _from_token(token)) if fresh else (False, None)


def principal_of(request: Request) -> Principal | None:
    """The principal of a request, or None. Bearer tokens first, then the session cookie."""
    hub = hub_of(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return _token_principal(hub, header[7:].strip())
    local = request.headers.get(LOCAL_HEADER)
    if local is not None:
        if same_token(hub.local_secret, local):
            return Principal("local", "local", frozenset({Permission.JOBS_RUN}), "local")
        return None
    cookie = request.cookies.get(session_cookie_name(request))
    if not cookie:
        return None
    with hub.reader() as store:
        session = accounts.load_session(store, cookie)
    if session is None:
        return None
    return Principal(
        session.username,
        session.role,
        permissions(session.role),
        "session",
        csrf_token=session.csrf_token,
    )


class Require:
    """A route's permission check (a FastAPI dependency): authenticated, allowed, and for a
    state-changing request from a browser session, a valid CSRF token."""

    def __init__(self, permission: Permission, *, page: bool = False) -> None:
        self.permission = permission
        self.page = page

    async def __call__(self, request: Request) -> Principal:
        from starlette.concurrency import run_in_threadpool

        known, principal = _known_token_principal(request)
        if not known:
            principal = await run_in_threadpool(principal_of, request)
        if principal is None:
            raise NotAuthenticated(self.page)
        if not principal.can(self.permission):
            raise HTTPException(403, f"your role may not do this ({self.permission.value})")
        if principal.kind == "session" and request.method in UNSAFE:
            given = request.headers.get(CSRF_HEADER)
            if given is None and "form" in request.headers.get("content-type", ""):
                given = str((await request.form()).get("csrf_token") or "")
            if not same_token(principal.csrf_token, given):
                raise HTTPException(403, "missing or invalid CSRF token; reload the page")
        request.state.principal = principal
        return principal


def _need(permission: Permission, page: bool = False) -> Require:
    return Require(permission, page=page)


# Named dependency types, one per permission, for API routes and (page=True) console pages.
OverviewReader = Annotated[Principal, Depends(_need(Permission.OVERVIEW_READ))]
AlertReader = Annotated[Principal, Depends(_need(Permission.ALERTS_READ))]
AlertTriager = Annotated[Principal, Depends(_need(Permission.ALERTS_TRIAGE))]
Investigator = Annotated[Principal, Depends(_need(Permission.PRIVACY_INVESTIGATE))]
IngestReader = Annotated[Principal, Depends(_need(Permission.INGEST_READ))]
AuditReader = Annotated[Principal, Depends(_need(Permission.AUDIT_READ))]
UserAdmin = Annotated[Principal, Depends(_need(Permission.USERS_MANAGE))]
JobRunner = Annotated[Principal, Depends(_need(Permission.JOBS_RUN))]

OverviewPage = Annotated[Principal, Depends(_need(Permission.OVERVIEW_READ, True))]
AlertPage = Annotated[Principal, Depends(_need(Permission.ALERTS_READ, True))]
TriagePage = Annotated[Principal, Depends(_need(Permission.ALERTS_TRIAGE, True))]
InvestigatePage = Annotated[Principal, Depends(_need(Permission.PRIVACY_INVESTIGATE, True))]
IngestPage = Annotated[Principal, Depends(_need(Permission.INGEST_READ, True))]
AuditPage = Annotated[Principal, Depends(_need(Permission.AUDIT_READ, True))]
UsersPage = Annotated[Principal, Depends(_need(Permission.USERS_MANAGE, True))]
