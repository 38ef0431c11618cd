"""`server.app:create_app` plus an `X-Worker-Pid` response header, so the scaled tests can
see which uvicorn worker served each request. Nothing else differs from production."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from server.app import create_app as create_production_app


def create_app() -> FastAPI:
    app = create_production_app()

    @app.middleware("http")
    async def tag(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    return app
