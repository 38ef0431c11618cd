"""Errors raised by the agent layer (answering and key management).

    AgentError
    ├── QuestionError            empty, placeholder or over-long question
    ├── UpstreamError            the docs site's ?ask= failed (timeout, 5xx, garbage, too big)
    │   └── CircuitOpenError     too many recent upstream failures; not tried
    ├── ApprovalError            unknown, expired, used, or someone else's pending action
    ├── LLMError                 the configured chat model failed
    └── KeyError_                base of every key-management error
        ├── AuthenticationError  a key did not verify (same error for every reason)
        ├── KeyNotFoundError     no such key for this owner (another owner's key included)
        ├── KeyNameError         name empty, too long, control characters, or duplicate
        │   └── KeyNameTakenError  the owner already has a key with that name
        ├── KeyConflictError     a concurrent change won (e.g. two rotations of one key)
        ├── PermissionDeniedError  authenticated but not allowed
        └── BackendError         the key backend (database, nexos.ai API) failed
            └── RateLimitedError   the backend asked us to slow down (retry_after seconds)

Library errors are translated at the boundary with `raise OurError(...) from exc`.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error the agent layer raises on purpose."""


class QuestionError(AgentError):
    """The question cannot be answered as asked (empty or too long)."""


UNREACHABLE_CAUSES = frozenset(
    {"timeout", "deadline", "connect", "transport", "http_status", "circuit_open"}
)
UPSTREAM_CAUSES = (*sorted(UNREACHABLE_CAUSES), "garbage", "too_large", "no_answer")


class UpstreamError(AgentError):
    """The docs site's ask endpoint failed; `cause` names why, for metrics and answers:
    timeout, deadline, connect, transport, http_status, garbage, too_large, no_answer,
    circuit_open."""

    cause = "error"

    def __init__(self, message: str, *, cause: str | None = None) -> None:
        super().__init__(message)
        if cause is not None:
            self.cause = cause

    @property
    def unreachable(self) -> bool:
        """The docs site could not be reached (as opposed to answering without an answer)."""
        return self.cause in UNREACHABLE_CAUSES


class CircuitOpenError(UpstreamError):
    """The fallback circuit breaker is open after repeated failures."""

    cause = "circuit_open"


class ApprovalError(AgentError):
    """A pending action cannot be approved or rejected by this user now."""


class LLMError(AgentError):
    """The configured chat model failed."""


class KeyError_(AgentError):  # noqa: N801 - avoid shadowing the builtin KeyError
    """Base of key-management errors."""


class AuthenticationError(KeyError_):
    """The API key is unknown, malformed, disabled, expired or revoked (never says which)."""

    def __init__(self, message: str = "invalid API key") -> None:
        super().__init__(message)


class KeyNotFoundError(KeyError_):
    """No such key for this owner."""


class KeyNameError(KeyError_):
    """The key name is invalid or already used by this owner."""


class KeyNameTakenError(KeyNameError):
    """This owner already has a live key with that name."""


class KeyConflictError(KeyError_):
    """A concurrent change to the same key won."""


class PermissionDeniedError(KeyError_):
    """The principal may not do this."""


class BackendError(KeyError_):
    """The key backend failed (database or remote API)."""


class RateLimitedError(BackendError):
    """The backend rate-limited us; retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConversationNotFoundError(AgentError):
    """No such conversation for this user (someone else's id included)."""
