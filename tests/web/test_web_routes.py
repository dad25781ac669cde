"""Every route of the app declares a permission, and enforces it for every role: a new route
without a check, or a check removed from one, fails here."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import Mount

from carewarden.services import accounts
from carewarden.services.roles import MATRIX, Permission, Role, matrix_markdown
from carewarden.web.app import PUBLIC_PATHS
from carewarden.web.auth import Require
from conftest import Web  # type: ignore[import-not-found]


def _requires(dependant: Dependant) -> list[Require]:
    found = [dependant.call] if isinstance(dependant.call, Require) else []
    for sub in dependant.dependencies:
        found += _requires(sub)
    return found  # type: ignore[return-value]


def _flatten(routes: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(path prefix, route) for every route, descending into included routers (FastAPI
    0.165 keeps them as their own objects; older versions copied their routes)."""
    found: list[tuple[str, Any]] = []
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            found += _flatten(original.routes, prefix + route.include_context.prefix)
        else:
            found.append((prefix, route))
    return found


def _routes(web: Web) -> list[tuple[str, str, Permission | None]]:
    routes = []
    for prefix, route in _flatten(web.client.app.routes):  # type: ignore[attr-defined]
        if isinstance(route, Mount):
            assert route.path in PUBLIC_PATHS, f"unexpected mount {route.path}"
            continue
        methods = sorted(getattr(route, "methods", None) or {"GET"})
        checks = _requires(route.dependant) if isinstance(route, APIRoute) else []
        for method in methods:
            if method == "HEAD":
                continue
            perm = checks[0].permission if checks else None
            routes.append((method, prefix + route.path, perm))
    return routes


def test_every_route_declares_a_permission_or_is_public(web: Web) -> None:
    """A route with no Require dependency must be listed as public (log-in, health, the
    OpenAPI document, static files); anything else fails the suite."""
    unprotected = [(m, p) for m, p, perm in _routes(web) if perm is None and p not in PUBLIC_PATHS]
    assert unprotected == []
    assert len(_routes(web)) >= 20


def _fill(path: str, alert_id: str) -> str:
    return (
        path.replace("{alert_id}", alert_id)
        .replace("{kind}", "user")
        .replace("{subject_id}", "pr-alvarez")
        .replace("{job_id}", "nosuchjob")
    )


def _call(web: Web, method: str, path: str, csrf: str, alert_id: str) -> Any:
    url = _fill(path, alert_id)
    if method == "GET":
        return web.client.get(url)
    if path == "/api/v1/alerts/triage":
        return web.client.post(
            url,
            json={"alert_ids": [alert_id], "action": "acknowledge"},
            headers={"x-csrf-token": csrf},
        )
    if path == "/api/v1/jobs/detect":
        return web.client.post(url, json={}, headers={"x-csrf-token": csrf})
    data = {"csrf_token": csrf, "action": "acknowledge", "alert_ids": [alert_id]}
    return web.client.post(url, data=data)


def _wait_for_jobs(web: Web) -> None:
    jobs = web.client.app.state.jobs  # type: ignore[attr-defined]
    deadline = time.time() + 60
    while any(j.state == "running" for j in jobs._jobs.values()) and time.time() < deadline:
        time.sleep(0.1)


@pytest.mark.parametrize("role", list(Role))
def test_role_matrix_route_by_route(web: Web, role: Role) -> None:
    """Each role gets through exactly the routes whose permission it holds (403 elsewhere)."""
    alert_id = web.alert_ids()[0]
    csrf = web.login_as(role)
    for method, path, perm in _routes(web):
        if perm is None:
            continue
        response = _call(web, method, path, csrf, alert_id)
        where = f"{role.value} {method} {path}"
        if perm in MATRIX[role]:
            assert response.status_code not in (401, 403), where
            assert response.status_code < 500, where
        else:
            assert response.status_code == 403, where
    _wait_for_jobs(web)


def test_unauthenticated_requests_get_nothing(web: Web) -> None:
    """Without a session or token the API answers 401 and pages redirect to the log-in."""
    alert_id = web.alert_ids()[0]
    for method, path, perm in _routes(web):
        if perm is None:
            continue
        response = _call(web, method, path, "", alert_id)
        if path.startswith("/api/"):
            assert response.status_code == 401, path
        else:
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next="), path


def test_state_changes_need_the_csrf_token(web: Web) -> None:
    """A session's POST without its CSRF token is refused, for forms and JSON alike."""
    alert_id = web.alert_ids()[0]
    web.login_as(Role.ADMIN)
    form = web.client.post(
        "/alerts/triage", data={"action": "acknowledge", "alert_ids": [alert_id]}
    )
    api = web.client.post(
        "/api/v1/alerts/triage", json={"alert_ids": [alert_id], "action": "acknowledge"}
    )
    wrong = web.client.post(
        "/api/v1/alerts/triage",
        headers={"x-csrf-token": "nope"},
        json={"alert_ids": [alert_id], "action": "acknowledge"},
    )
    assert (form.status_code, api.status_code, wrong.status_code) == (403, 403, 403)
    with web.hub.reader() as store:
        assert store.query("SELECT count(*) FROM alert_history")[0][0] == 0


def test_token_scopes_narrow_the_role(web: Web) -> None:
    """An admin's token scoped to alerts:read lists alerts but cannot triage or see
    ingestion; tokens need no CSRF token (no cookie is involved)."""
    token, _ = web.hub.write(
        lambda s: accounts.create_token(s, "admin-user", ["alerts:read"], days=1)
    )
    web.client.cookies.clear()
    auth = {"authorization": f"Bearer {token}"}
    assert web.client.get("/api/v1/alerts", headers=auth).status_code == 200
    assert web.client.get("/api/v1/ingestion", headers=auth).status_code == 403
    triage = web.client.post(
        "/api/v1/alerts/triage",
        headers=auth,
        json={"alert_ids": web.alert_ids()[:1], "action": "acknowledge"},
    )
    assert triage.status_code == 403
    bad = {"authorization": f"Bearer {token[:-2]}xx"}
    assert web.client.get("/api/v1/alerts", headers=bad).status_code == 401


def test_readme_documents_the_matrix() -> None:
    """The README's permission matrix is the one the code enforces."""
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert matrix_markdown() in readme
