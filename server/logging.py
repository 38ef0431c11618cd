"""JSON logs with request ids, plus the ASGI middleware that assigns ids, times requests,
counts them in Prometheus and writes one access line each.

The access line holds method, path (never the query string), status, duration, request id
and the owner when known: never a header, a key or a request body.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.redact import redact
from server.metrics import Metrics

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LOGGER = "docsagent"
# third-party loggers that write whole payloads at DEBUG (sse_starlette logs every SSE chunk)
PAYLOAD_LOGGERS = ("sse_starlette", "sse_starlette.sse")
# third-party loggers whose INFO lines are start-up chatter ("Context impl SQLiteImpl.")
CHATTY_LOGGERS = ("alembic",)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, extras. The
    message, the text extras (a path) and any traceback are redacted (`agent.redact`): a
    library that logs a URL or an argument cannot put a pasted secret into the log
    stream."""

    _EXTRAS = ("method", "path", "status", "duration_ms", "owner", "route")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", "") or request_id_var.get(),
        }
        for name in self._EXTRAS:
            if hasattr(record, name):
                value = getattr(record, name)
                entry[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str) -> None:
    """One JSON handler (stderr) on the root logger, so our, uvicorn's and the MCP SDK's
    records all come out as JSON lines (and the SDK's `basicConfig` becomes a no-op).
    Idempotent: a second app in the same process adds nothing."""
    logging.getLogger(LOGGER).setLevel(level.upper())
    for name in PAYLOAD_LOGGERS:  # they log response bodies (secrets) at DEBUG
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(level.upper())))
    for name in CHATTY_LOGGERS:  # their details only when DEBUG is asked for
        logging.getLogger(name).setLevel(
            logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
        )
    root = logging.getLogger()
    if not any(getattr(h, "_docsagent", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler.setLevel(level.upper())
        handler._docsagent = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)


class RequestContextMiddleware:
    """Request id (X-Request-Id in and out), access log line and request metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger(f"{LOGGER}.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next(
            (v for k, v in scope.get("headers", ()) if k == b"x-request-id"), b""
        ).decode("latin-1")
        # 128 random bits as 32 hex digits, like uuid4().hex at a fifth of its cost
        request_id = incoming if _INCOMING_ID.match(incoming) else os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                "/mcp" if scope["path"].startswith("/mcp") else "<unmatched>"
            )
            self.metrics.observe_request(template, scope["method"], status, elapsed)
            if self.log.isEnabledFor(logging.INFO):  # no record built when access lines are off
                self._access_line(scope, status, template, elapsed, request_id)
            request_id_var.reset(token)

    def _access_line(
        self, scope: Scope, status: int, template: str, elapsed: float, request_id: str
    ) -> None:
        principal = scope["state"].get("principal")
        self.log.info(
            "%s %s %s",
            scope["method"],
            scope["path"],
            status,
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "route": template,
                "duration_ms": round(elapsed * 1000, 2),
                "owner": getattr(principal, "owner", None),
                "request_id": request_id,
            },
        )
