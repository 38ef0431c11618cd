"""HTTP-facing errors and the one JSON error shape.

    ServerError (status, code)
    ├── BadRequest          400 bad_request
    ├── Unauthorized        401 unauthorized
    ├── Forbidden           403 forbidden
    ├── NotFound            404 not_found
    ├── Conflict            409 conflict
    ├── PreconditionFailed  412 precondition_failed (If-Match did not match)
    ├── TooManyRequests     429 rate_limited (Retry-After)
    ├── UpstreamFailed      502 upstream_error
    └── Unavailable         503 unavailable

Every error response body is `{"error": {"code": str, "message": str, "request_id": str}}`
(`error_body`). Agent and ingest errors become one of these through `to_server_error`, the
one mapping every surface uses: the HTTP exception handlers (`server/app.py`), the chat
stream's error event, and MCP tool errors (`isError` with the same message).
"""

from __future__ import annotations

from typing import Any

from agent import errors as agent_errors
from ingest import errors as ingest_errors


class ServerError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class BadRequest(ServerError):
    status, code = 400, "bad_request"


class Unauthorized(ServerError):
    status, code = 401, "unauthorized"


class Forbidden(ServerError):
    status, code = 403, "forbidden"


class NotFound(ServerError):
    status, code = 404, "not_found"


class Conflict(ServerError):
    status, code = 409, "conflict"


class PreconditionFailed(ServerError):
    status, code = 412, "precondition_failed"


class TooManyRequests(ServerError):
    status, code = 429, "rate_limited"


class UpstreamFailed(ServerError):
    status, code = 502, "upstream_error"


class Unavailable(ServerError):
    """A dependency (index, database) is not reachable right now: 503 unavailable."""

    status, code = 503, "unavailable"


# most specific first
_MAP: tuple[tuple[type[Exception], type[ServerError]], ...] = (
    (agent_errors.QuestionError, BadRequest),
    (agent_errors.ArgumentError, BadRequest),
    (agent_errors.UpstreamError, UpstreamFailed),
    (agent_errors.ApprovalPendingError, Conflict),
    (agent_errors.ApprovalError, NotFound),
    (agent_errors.ConversationNotFoundError, NotFound),
    (agent_errors.LLMError, UpstreamFailed),
    (agent_errors.KeyRequiredError, Unauthorized),
    (agent_errors.AuthenticationError, Unauthorized),
    (agent_errors.KeyNotFoundError, NotFound),
    (agent_errors.KeyConflictError, Conflict),
    (agent_errors.PermissionDeniedError, Forbidden),
    (agent_errors.RateLimitedError, TooManyRequests),
    (agent_errors.BackendError, Unavailable),
    (ingest_errors.ParseError, BadRequest),
    (ingest_errors.FetchError, UpstreamFailed),
    (ingest_errors.DocIndexError, Unavailable),
)


def to_server_error(exc: Exception) -> ServerError:
    """The HTTP error for one of our exceptions (500 internal_error when unmapped)."""
    if isinstance(exc, ServerError):
        return exc
    message = str(exc) or type(exc).__name__
    if isinstance(exc, agent_errors.KeyNameError):
        taken = isinstance(exc, agent_errors.KeyNameTakenError)
        return (Conflict if taken else BadRequest)(message)
    for source, target in _MAP:
        if isinstance(exc, source):
            retry_after = getattr(exc, "retry_after", None)
            return target(message, retry_after=retry_after)
    return ServerError("internal error")


def error_body(error: ServerError, request_id: str) -> dict[str, Any]:
    """The JSON error shape every error response uses."""
    return {"error": {"code": error.code, "message": error.message, "request_id": request_id}}
