"""Schemathesis over the API's own OpenAPI document: generated requests to every operation
never get a 5xx, and none is answered without credentials.

Each operation is called with examples Hypothesis draws from its schema (path, query and
body), first with an admin token holding every scope, then with no credentials at all.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_web_routes import _routes as app_routes

from carewarden.services import accounts
from carewarden.services.roles import Permission
from conftest import Web

EXAMPLES = 30


def _operations(web: Web) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", web.client.app)
    return [result.ok() for result in schema.get_all_operations()]


def test_the_document_lists_every_api_route(web: Web) -> None:
    documented = {(op.method.upper(), op.path) for op in _operations(web)}
    api = {
        (method, path)
        for method, path, permission in app_routes(web)
        if path.startswith("/api/v1/") and permission is not None
    }
    assert api, "the app has no protected API routes"
    assert api <= documented, f"API routes missing from the OpenAPI document: {api - documented}"


def _run(operation: Any, headers: dict[str, str], seen: dict[str, set[int]]) -> None:
    """Call one operation with EXAMPLES generated requests."""
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy())
        response = case.call(headers=headers)
        seen.setdefault(label, set()).add(response.status_code)
        assert response.status_code < 500, f"{label}: {case.as_curl_command()}"
        if not headers:
            assert response.status_code == 401, f"{label} answered without credentials"

    check()


@pytest.mark.parametrize("authenticated", [True, False], ids=["admin-token", "anonymous"])
def test_generated_requests_get_no_server_error_and_no_anonymous_access(
    web: Web, authenticated: bool
) -> None:
    token, _ = web.hub.write(
        lambda s: accounts.create_token(s, "admin-user", [p.value for p in Permission], days=1)
    )
    web.client.cookies.clear()
    headers = {"authorization": f"Bearer {token}"} if authenticated else {}
    seen: dict[str, set[int]] = {}
    for operation in _operations(web):
        _run(operation, headers, seen)
    assert len(seen) == len(_operations(web)), "an API operation was not exercised"
    if authenticated:  # the token was accepted: the run tested more than refusals
        assert any(code < 400 for codes in seen.values() for code in codes)
