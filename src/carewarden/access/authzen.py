"""The decision point over HTTP, following the OpenID AuthZEN Authorization API 1.0.

``POST /access/v1/evaluation``: one request ``{subject: {type: "user", id}, action: {name},
resource: {type: "patient", id}, context: {...}}`` answered ``{decision, context}``.
``POST /access/v1/evaluations``: a batch; top-level ``subject``, ``action``, ``resource`` and
``context`` are defaults an item's own replace whole, ``options.evaluations_semantic`` is
``execute_all`` (default), ``deny_on_first_deny`` or ``permit_on_first_permit``; answers come
in request order as ``{evaluations: [...]}``. ``GET /.well-known/authzen-configuration``
describes the endpoints; ``GET /healthz`` the snapshot and policies in force.

Bodies are parsed with orjson and decisions made on the event loop (each takes well under a
millisecond), without a thread hop; the store snapshot is refreshed by a background thread.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from carewarden.access.decision import DecisionPoint, RequestError

SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")
PARTS = ("subject", "action", "resource", "context")


def _json(content: Any, status: int = 200, request_id: str | None = None) -> Response:
    headers = {"X-Request-ID": request_id} if request_id else None
    return Response(orjson.dumps(content), status, headers, media_type="application/json")


def _error(message: str, request_id: str | None) -> Response:
    return _json({"error": message}, 400, request_id)


def evaluate_batch(point: DecisionPoint, body: Any) -> dict[str, Any]:
    """An AuthZEN ``evaluations`` request answered; raises RequestError when malformed."""
    if not isinstance(body, dict):
        raise RequestError("an evaluations request is a JSON object")
    items = body.get("evaluations")
    if items is None:
        return point.evaluate_authzen(body)
    if not isinstance(items, list):
        raise RequestError("evaluations must be an array")
    options = body.get("options") or {}
    semantic = options.get("evaluations_semantic", "execute_all") if isinstance(
        options, dict) else None
    if semantic not in SEMANTICS:
        raise RequestError(f"options.evaluations_semantic must be one of {list(SEMANTICS)}")
    defaults = {part: body[part] for part in PARTS if part in body}
    answers = []
    for item in items:
        merged = {**defaults, **item} if isinstance(item, dict) else item
        try:
            answer = point.evaluate_authzen(merged)
        except RequestError as exc:
            answer = {"decision": False, "context": {"error": {"status": 400,
                                                               "message": str(exc)}}}
        answers.append(answer)
        if (semantic == "deny_on_first_deny" and not answer["decision"]) or (
            semantic == "permit_on_first_permit" and answer["decision"]
        ):
            break
    return {"evaluations": answers}


def create_app(point: DecisionPoint, *, refresh_s: float = 60.0) -> Starlette:
    """The AuthZEN app over ``point``; with ``refresh_s`` > 0 a background thread refreshes
    the store snapshot and the policies that often while the app runs."""
    stop = threading.Event()

    def refresher() -> None:
        while not stop.wait(refresh_s):
            point.refresh()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if point.snapshot is None:
            point.refresh()
        thread = None
        if refresh_s > 0:
            thread = threading.Thread(target=refresher, name="pdp-refresh", daemon=True)
            thread.start()
        yield
        stop.set()
        if thread is not None:
            thread.join(timeout=5)

    async def evaluation(request: Request) -> Response:
        request_id = request.headers.get("x-request-id")
        try:
            answer = point.evaluate_authzen(orjson.loads(await request.body()))
        except orjson.JSONDecodeError as exc:
            return _error(f"invalid JSON: {exc}", request_id)
        except RequestError as exc:
            return _error(str(exc), request_id)
        return _json(answer, request_id=request_id)

    async def evaluations(request: Request) -> Response:
        request_id = request.headers.get("x-request-id")
        try:
            answer = evaluate_batch(point, orjson.loads(await request.body()))
        except orjson.JSONDecodeError as exc:
            return _error(f"invalid JSON: {exc}", request_id)
        except RequestError as exc:
            return _error(str(exc), request_id)
        return _json(answer, request_id=request_id)

    async def configuration(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return _json(
            {
                "policy_decision_point": base,
                "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
                "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
            }
        )

    async def health(request: Request) -> Response:
        snapshot = point.snapshot
        return _json(
            {
                "ready": snapshot is not None,
                "snapshot_loaded_at": snapshot.loaded_at.isoformat() + "Z" if snapshot else None,
                "counts": snapshot.counts if snapshot else {},
                "policies": str(point.policies.folder),
                "policy_count": len(point.policies.current.files),
                "problem": point.last_error,
            },
            200 if snapshot is not None else 503,
        )

    # Plain Starlette routes: the endpoints read and write raw JSON, so FastAPI's validation
    # and middleware layers would only add time to every decision (bench/pdp.py).
    return Starlette(
        routes=[
            Route("/access/v1/evaluation", evaluation, methods=["POST"]),
            Route("/access/v1/evaluations", evaluations, methods=["POST"]),
            Route("/.well-known/authzen-configuration", configuration, methods=["GET"]),
            Route("/healthz", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
