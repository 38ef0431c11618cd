"""Errors raised by the agent layer (answering and key management).

    AgentError
    ├── QuestionError            empty, placeholder or over-long question
    ├── ArgumentError            a tool's arguments do not fit its argument model
    ├── UpstreamError            the docs site's ?ask= failed (timeout, 5xx, garbage, too big)
    │   └── CircuitOpenError     too many recent upstream failures; not tried
    ├── ApprovalError            unknown, expired, used, or someone else's pending action,
    │   │                        or a change tried without the user's approval
    │   └── ApprovalPendingError   the user has not decided yet
    ├── LLMError                 the configured chat model failed
    ├── ProfileError             a site profile file (docsagent.yaml) is malformed
    ├── CalibrationError         the abstention model file is missing or malformed
    └── KeyManagementError   base of every key-management error
        ├── KeyRequiredError     a key tool was called without the caller's API key
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

from collections.abc import Mapping, Sequence
from typing import Any


class AgentError(Exception):
    """Base of every error the agent layer raises on purpose."""


class QuestionError(AgentError):
    """The question cannot be answered as asked (empty or too long)."""


UNREACHABLE_CAUSES = frozenset(
    {"timeout", "deadline", "connect", "transport", "http_status", "circuit_open"}
)
UPSTREAM_CAUSES = (*sorted(UNREACHABLE_CAUSES), "garbage", "too_large", "no_answer")


class ArgumentError(AgentError):
    """A tool's arguments do not fit its argument model; the message names each problem."""

    @classmethod
    def from_errors(cls, errors: Sequence[Mapping[str, Any]]) -> ArgumentError:
        """One message for pydantic's validation errors: `where: what` for the first five
        (FastAPI's request validation is described the same way)."""
        problems = [
            f"{'.'.join(str(part) for part in error.get('loc', ())) or 'arguments'}: "
            f"{error.get('msg', 'invalid')}"
            for error in errors[:5]
        ]
        return cls("; ".join(problems) or "invalid arguments")


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
    """A pending action cannot be approved or rejected by this user now, or a change that
    needs the user's approval was tried without it."""


class ApprovalPendingError(ApprovalError):
    """The pending action asked about is still waiting for the user's decision."""


class LLMError(AgentError):
    """The configured chat model failed."""


class ProfileError(AgentError):
    """A site's optional profile file cannot be used (the message names the file)."""


class CalibrationError(AgentError):
    """The fitted answer-or-fall-back model cannot be loaded (the message names the file)."""


class KeyManagementError(AgentError):
    """Base of key-management errors."""


class KeyRequiredError(KeyManagementError):
    """A key tool was called anonymously; the message says how to send a key."""

    MESSAGE = (
        "Managing API keys needs you to be signed in, so nothing was changed. Send your API "
        "key with the request (`Authorization: Bearer <key>` or `X-Api-Key: <key>`), sign in "
        "to the web chat with it, or use `docsagent keys` on the server."
    )

    def __init__(self, message: str = MESSAGE) -> None:
        super().__init__(message)


class AuthenticationError(KeyManagementError):
    """The API key is unknown, malformed, disabled, expired or revoked (never says which)."""

    def __init__(self, message: str = "invalid API key") -> None:
        super().__init__(message)


class KeyNotFoundError(KeyManagementError):
    """No such key for this owner."""


class KeyNameError(KeyManagementError):
    """The key name is invalid or already used by this owner."""


class KeyNameTakenError(KeyNameError):
    """This owner already has a live key with that name."""


class KeyConflictError(KeyManagementError):
    """A concurrent change to the same key won."""


class PermissionDeniedError(KeyManagementError):
    """The principal may not do this."""


class BackendError(KeyManagementError):
    """The key backend failed (database or remote API)."""


class RateLimitedError(BackendError):
    """The backend rate-limited us; retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConversationNotFoundError(AgentError):
    """No such conversation for this user (someone else's id included)."""
