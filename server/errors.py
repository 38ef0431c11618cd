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

Every error response body is `{"error": {"code": str, "message": str, "request_id": str}}`.
Agent and ingest errors are mapped onto these in `server/app.py`'s exception handlers.
"""

from __future__ import annotations


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
