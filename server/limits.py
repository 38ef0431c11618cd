"""Request limits every route gets, before any parsing: a body size cap (413 in the one
JSON error shape, from `Content-Length` or while a chunked body arrives), a 400 for a JSON
body that escapes a lone UTF-16 surrogate (`"\ud800"`: valid JSON, but no text can be
stored, encoded or sent on from it), and the request's work cancelled when its client goes
away (no answer is computed for nobody).

The body is read here (at most `max_body_bytes`) and replayed to the app; after it, this
middleware alone listens for the client's disconnect and hands it on to the app (SSE
responses and MCP streams see it as usual). Messages an app sends after its response is
complete, or after the client left, are dropped instead of raising in the server.
"""

from __future__ import annotations

import json
import logging
import re

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import BadRequest, ServerError, error_body

log = logging.getLogger("docsagent.limits")
# answered from memory in microseconds: nothing to cancel, so no watcher task for them
_QUICK = frozenset({"/v1/user/api_keys", "/healthz", "/readyz", "/metrics", "/v1/me"})


# a \uD800-\uDFFF escape (after an even number of backslashes) that is not half of a pair
_LONE_SURROGATE = re.compile(
    rb"(?<!\\)(?:\\\\)*\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\)(?:\\\\)*(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


class PayloadTooLarge(ServerError):
    status, code = 413, "too_large"


def has_lone_surrogate(body: bytes) -> bool:
    """Whether a JSON text escapes a UTF-16 surrogate that is not half of a pair."""
    return b"\\u" in body and _LONE_SURROGATE.search(body) is not None


class RequestLimits:
    """ASGI middleware: body cap and cancel-on-disconnect (see the module docstring)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(scope, send)
            return
        body, disconnected = await self._read_body(receive)
        if body is None:
            if disconnected:
                return
            await self._too_large(scope, send)
            return
        if has_lone_surrogate(body):
            await _reject(scope, send, BadRequest(SURROGATE_MESSAGE))
            return
        quick = scope["method"] in ("GET", "HEAD") and scope["path"] in _QUICK
        await self._run(scope, receive, send, body, watch=not quick)

    async def _read_body(self, receive: Receive) -> tuple[bytes | None, bool]:
        """(the whole body, or None when it is too large or the client left; left?)"""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None, True
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None, False
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), False

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, body: bytes, watch: bool
    ) -> None:
        gone = anyio.Event()
        finished = False
        replayed = False

        async def app_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            if not watch:
                return await receive()
            await gone.wait()
            return {"type": "http.disconnect"}

        async def app_send(message: Message) -> None:
            nonlocal finished
            if finished or gone.is_set():
                log.debug("dropped %s after the response ended", message["type"])
                return
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
            await send(message)

        if not watch:
            await self.app(scope, app_receive, app_send)
            return
        async with anyio.create_task_group() as group:

            async def watcher() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                gone.set()
                if not finished:
                    log.info("client went away: request cancelled")
                    group.cancel_scope.cancel()

            group.start_soon(watcher)
            await self.app(scope, app_receive, app_send)
            group.cancel_scope.cancel()

    async def _too_large(self, scope: Scope, send: Send) -> None:
        error = PayloadTooLarge(f"the request body is larger than {self.max_body_bytes} bytes")
        await _reject(scope, send, error)


SURROGATE_MESSAGE = (
    "the request contains a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), "
    "which is not text; send valid Unicode"
)


async def _reject(scope: Scope, send: Send, error: ServerError) -> None:
    """Answer `error` in the one JSON error shape, before the app saw the request."""
    request_id = scope.get("state", {}).get("request_id", "")
    payload = json.dumps(error_body(error, request_id)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
