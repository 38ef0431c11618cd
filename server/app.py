"""The FastAPI app: `create_app(settings, services=None)`.

Start-up (lifespan): build the agent's services (unless given), migrate the database,
ingest `docs_cache/` when the index is empty, create the bootstrap admin key on a first
start, and run the MCP session manager. Every error leaves as the one JSON error shape.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.db import exclusive
from agent.errors import AgentError, ArgumentError
from agent.insights import InsightsStore
from agent.service import AgentServices, build_services, close
from ingest.errors import IngestError
from ingest.pipeline import ingest_sync
from server import errors as http
from server import openapi, version
from server.answering import Answering
from server.auth import bootstrap_admin
from server.config import Settings, get_settings
from server.db import migrate
from server.deps import doc_index
from server.limits import RequestLimits
from server.logging import LOGGER, RequestContextMiddleware, configure_logging
from server.metrics import Metrics
from server.openai_state import OpenAIState
from server.ratelimit import RateLimiter
from server.routes import (
    apidocs,
    ask,
    chat,
    completions,
    feedback,
    keys,
    mcp,
    ops,
    secrets,
    tools,
)

log = logging.getLogger(f"{LOGGER}.app")
_STATUS_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 415: "bad_request"}


def ensure_index(settings: Settings, services: AgentServices) -> None:
    """Ingest the docs cache when the index is empty (first start)."""
    index = doc_index(services)
    if index.count() > 0 or not settings.docs_cache.exists():
        return
    log.info("index is empty: ingesting %s", settings.docs_cache)
    report = ingest_sync(settings, [str(settings.docs_cache)], index=index)
    log.info("ingested docs cache: %s", report.as_dict())


def first_start(settings: Settings, services: AgentServices) -> None:
    """One-time start-up work, done once however many workers start together."""
    migrate(services.engine)
    with exclusive(services.engine, "startup"):
        ensure_index(settings, services)
        bootstrap_admin(services.keys, settings)


async def _prepare(settings: Settings, services: AgentServices) -> None:
    await anyio.to_thread.run_sync(lambda: first_start(settings, services))


def _error_response(request: Request, error: http.ServerError) -> JSONResponse:
    request_id = getattr(request.state, "request_id", "")
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(int(max(1, error.retry_after)))
    return JSONResponse(
        http.error_body(error, request_id), status_code=error.status, headers=headers
    )


def _install_error_handlers(app: FastAPI) -> None:
    async def ours(request: Request, exc: Exception) -> JSONResponse:
        return _error_response(request, http.to_server_error(exc))

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        described = ArgumentError.from_errors(list(exc.errors()))
        return _error_response(request, http.BadRequest(str(described)))

    async def starlette_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        error = http.ServerError(str(exc.detail))
        error.status, error.code = exc.status_code, _STATUS_CODES.get(exc.status_code, "error")
        response = _error_response(request, error)
        response.headers.update(exc.headers or {})  # 405's Allow among them
        return response

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s", type(exc).__name__, exc_info=exc)
        return _error_response(request, http.ServerError("internal error"))

    for kind in (http.ServerError, AgentError, IngestError):
        app.add_exception_handler(kind, ours)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, starlette_http)
    app.add_exception_handler(Exception, unexpected)


def create_app(
    settings: Settings | None = None, *, services: AgentServices | None = None
) -> FastAPI:
    """The docsagent app; `services` lets tests and embedders pass pre-built agent services."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        built: AgentServices = (
            services
            if services is not None
            else await anyio.to_thread.run_sync(lambda: build_services(settings))
        )
        await _prepare(settings, built)
        app.state.services = built
        app.state.insights = InsightsStore(
            built.engine, key_prefixes=(settings.key_prefix, "nexos-")
        )
        app.state.limiter = RateLimiter(built.engine)
        app.state.answering = Answering(built, app.state.insights, metrics)
        app.state.openai = await anyio.to_thread.run_sync(lambda: OpenAIState.build(built))
        metrics.watch_fallback(built.fallback)
        # a local model reads the prompts' common beginning now, not on the first question
        # (a hosted provider is not sent a request no one asked for)
        local = built.writer is not None and settings.llm == "local"
        warming = asyncio.create_task(built.writer.warm()) if local and built.writer else None
        log.info("docsagent ready")
        try:
            async with app.state.mcp.session_manager.run():
                yield
        finally:
            log.info("docsagent shutting down")
            if warming is not None:
                warming.cancel()
            app.state.limiter.close()
            if owned:
                await close(built)
                built.engine.dispose()

    app = FastAPI(
        title="docsagent",
        version=version(),
        description="Documentation agent: chat, GitBook-compatible ask proxy, key API, MCP.",
        lifespan=lifespan,
        docs_url=None,  # server/routes/apidocs.py serves /docs from packaged assets
        redoc_url=None,
        # off unless asked for: even with no provider set up, FastAPI asks OpenTelemetry for
        # three providers (environment look-ups) on every request
        telemetry=None if settings.otel else {"tracing": False, "metrics": False, "logs": False},
    )
    openapi.install(app)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.listing_bodies = keys.ListingBodies()
    _install_error_handlers(app)
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)  # outermost: ids, access log
    # the key API first: routes are matched in order, and it is the hot authenticated path
    for router in (
        keys.router,
        ops.router,
        chat.router,
        completions.router,
        feedback.router,
        secrets.router,
    ):
        _add_routes(app, router)
    _add_routes(app, tools.router)
    mcp.mount(app, settings)
    if importlib.util.find_spec("server.routes.ui") is not None:
        from server.routes import ui

        _add_routes(app, ui.router)
    _docs_routes_last(app)
    _add_routes(app, apidocs.router)
    _add_routes(app, ask.router)  # last: its `/{path}.md` catch-all must not shadow others
    return app


# every option `add_api_route` takes that an APIRoute keeps as an attribute of the same name
_ROUTE_OPTIONS = tuple(
    name
    for name in inspect.signature(APIRouter.add_api_route).parameters
    if name not in ("self", "path", "endpoint", "route_class_override")
)


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """Put a router's routes on the app itself, rebuilt by `app.router.add_api_route` from
    their own options. `include_router` (FastAPI 0.16x) keeps the router as one lazily
    resolved entry that every request passing it matches twice through a context layer
    (~15 µs on the authenticated key listing, 50 µs before the `.md` catch-all); appending
    the router's route objects as they are avoids that but leaves them without the app as
    their dependency-overrides provider, so `app.dependency_overrides` would not reach
    them. Rebuilt on the app, a route is both: matched once, and overridable."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            options = {name: getattr(route, name) for name in _ROUTE_OPTIONS}
            app.router.add_api_route(route.path, route.endpoint, **options)
        else:
            app.router.routes.append(route)


def _docs_routes_last(app: FastAPI) -> None:
    """FastAPI registers /openapi.json, /docs and /redoc first; routes are matched in
    order, so move them behind the API, whose requests are the frequent ones."""
    builtin = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    routes = app.router.routes
    docs = [r for r in routes if getattr(r, "path", None) in builtin]
    routes[:] = [r for r in routes if r not in docs] + docs


def app_factory() -> Any:
    """`uvicorn --factory server.app:app_factory` entry point (settings from the environment)."""
    return create_app()
