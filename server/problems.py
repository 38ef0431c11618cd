"""Agent and ingest errors mapped onto the HTTP errors of `server/errors.py`, and the one
JSON error body: `{"error": {"code", "message", "request_id"}}`."""

from __future__ import annotations

from typing import Any

from agent import errors as agent_errors
from ingest import errors as ingest_errors
from server import errors as http

# most specific first
_MAP: tuple[tuple[type[Exception], type[http.ServerError]], ...] = (
    (agent_errors.QuestionError, http.BadRequest),
    (agent_errors.UpstreamError, http.UpstreamFailed),
    (agent_errors.ApprovalError, http.NotFound),
    (agent_errors.ConversationNotFoundError, http.NotFound),
    (agent_errors.LLMError, http.UpstreamFailed),
    (agent_errors.AuthenticationError, http.Unauthorized),
    (agent_errors.KeyNotFoundError, http.NotFound),
    (agent_errors.KeyConflictError, http.Conflict),
    (agent_errors.PermissionDeniedError, http.Forbidden),
    (agent_errors.RateLimitedError, http.TooManyRequests),
    (agent_errors.BackendError, http.Unavailable),
    (ingest_errors.ParseError, http.BadRequest),
    (ingest_errors.FetchError, http.UpstreamFailed),
    (ingest_errors.IndexError_, http.Unavailable),
)


def to_server_error(exc: Exception) -> http.ServerError:
    """The HTTP error for one of our exceptions (500 internal_error when unmapped)."""
    if isinstance(exc, http.ServerError):
        return exc
    message = str(exc) or type(exc).__name__
    if isinstance(exc, agent_errors.KeyNameError):
        taken = isinstance(exc, agent_errors.KeyNameTakenError)
        return (http.Conflict if taken else http.BadRequest)(message)
    for source, target in _MAP:
        if isinstance(exc, source):
            retry_after = getattr(exc, "retry_after", None)
            return target(message, retry_after=retry_after)
    return http.ServerError("internal error")


def error_body(error: http.ServerError, request_id: str) -> dict[str, Any]:
    """The JSON error shape every error response uses."""
    return {"error": {"code": error.code, "message": error.message, "request_id": request_id}}
