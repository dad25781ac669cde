"""The application factory: routers, static files, templates, security headers, and error
pages that never show a stack trace."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from carewarden import __version__
from carewarden.errors import CarewardenError
from carewarden.services import accounts
from carewarden.services.watch import WatchConfig
from carewarden.web.auth import NotAuthenticated
from carewarden.web.hub import StoreHub
from carewarden.web.jobs import Jobs
from carewarden.web.security import LoginThrottle, SecurityHeaders
from carewarden.web.watching import HostedWatch

HERE = Path(__file__).parent
log = logging.getLogger("carewarden.web")
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["utc"] = dt.UTC
# Paths any client may fetch: no patient data, no state change.
PUBLIC_PATHS = frozenset({"/login", "/logout", "/healthz", "/api/v1/openapi.json", "/static"})


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": message}, status_code=status)
    return templates.TemplateResponse(
        request,
        "error.html",
        {"title": title, "message": message, "principal": None},
        status_code=status,
    )


def create_app(
    store: Path,
    *,
    tls: bool = False,
    hub: StoreHub | None = None,
    watch: WatchConfig | None = None,
) -> FastAPI:
    """The console and API over the store in folder ``store`` (held by this process); with
    ``watch``, the live watcher runs in the server too (see :mod:`carewarden.web.watching`)."""
    accounts.prepare_logins()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hosted = None
        if watch is not None:
            hosted = HostedWatch(app.state.hub, app.state.jobs, watch)
            hosted.start()
        app.state.watch = hosted
        yield
        if hosted is not None:
            hosted.stop()
        if hub is None:  # the app opened it, the app closes it
            app.state.hub.close()

    app = FastAPI(
        title="Carewarden",
        version=__version__,
        description="Carewarden's REST API. Authenticate with `Authorization: Bearer <token>` "
        "(tokens: `carewarden users token`) or a console session.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.hub = hub or StoreHub(store)
    app.state.jobs = Jobs(app.state.hub)
    app.state.tls = tls
    app.state.throttle = LoginThrottle()
    app.add_middleware(SecurityHeaders, tls=tls)

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        if exc.page and not _is_api(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return JSONResponse(
            {"detail": "not authenticated"}, status_code=401, headers={"www-authenticate": "Bearer"}
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        titles = {403: "Not permitted", 404: "Not found", 400: "Bad request"}
        return error_page(
            request, exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail)
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"detail": "invalid request", "errors": exc.errors()[:20]},
                status_code=422,
            )
        return error_page(request, 400, "Bad request", "Some of the values given are invalid.")

    @app.exception_handler(CarewardenError)
    async def carewarden_error(request: Request, exc: CarewardenError) -> Response:
        return error_page(request, 503, "Unavailable", str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return error_page(
            request,
            500,
            "Something went wrong",
            "The server could not complete this request; it has been logged.",
        )

    from carewarden.web.routes import api, login, pages

    app.include_router(api.router)
    app.include_router(login.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
