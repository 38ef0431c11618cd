"""The nexos.ai wire format: its errors as ours, Retry-After, and its `APIKey` objects.

Error mapping: 400/422 → KeyNameError (create/update) or BackendError; 401 →
AuthenticationError; 403 → PermissionDeniedError; 404 → KeyNotFoundError; 409 →
KeyNameError (name taken) or KeyConflictError; 429 → RateLimitedError; 5xx → BackendError.
Messages never carry the caller's key (an echoed key is cut out).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from agent.errors import (
    AuthenticationError,
    BackendError,
    KeyConflictError,
    KeyManagementError,
    KeyNameError,
    KeyNameTakenError,
    KeyNotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from agent.keys.base import APIKeyRecord
from agent.keys.format import mask_secret


def error_for(
    response: httpx.Response, credential: str, names: bool, ref: APIKeyRecord | None
) -> KeyManagementError:
    status = response.status_code
    detail = message(response).replace(credential, "…")
    key = f"API key '{ref.name}' ({ref.id})" if ref else "API key"
    if status in (400, 422):
        return (
            KeyNameError(detail or "invalid key name")
            if names
            else BackendError(f"nexos.ai refused the request (HTTP {status}): {detail}")
        )
    if status == 401:
        return AuthenticationError("nexos.ai rejected the API key")
    if status == 403:
        return PermissionDeniedError("nexos.ai does not allow this API key to do that")
    if status == 404:
        return KeyNotFoundError(f"nexos.ai has no {key}")
    if status == 409:
        if names:
            return KeyNameTakenError(detail or "an API key with this name already exists")
        return KeyConflictError(f"{key} was changed at the same time on nexos.ai: {detail}")
    if status == 429:
        wait = retry_after(response)
        hint = f"; retry after {wait:.0f} s" if wait is not None else ""
        return RateLimitedError(f"nexos.ai is rate limiting requests{hint}", retry_after=wait)
    return BackendError(f"nexos.ai failed with HTTP {status}")


def message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    if isinstance(data, dict):
        for field in ("message", "error", "detail"):
            value = data.get(field)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str):
                return value[:200]
    return ""


def parse_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise BackendError("nexos.ai returned malformed JSON") from exc


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def backoff(attempt: int) -> float:
    return min(0.5 * 2**attempt, 8.0)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_record(data: Any, owner: str, display: str | None = None) -> APIKeyRecord:
    """An `APIKey` object from nexos.ai; any value that is not masked gets masked."""
    try:
        value = str(data["api_key"] or "")
        if display is None:
            display = value if ("*" in value or "…" in value) else mask_secret(value)
        created = parse_time(data["created_at"])
        if created is None:
            raise ValueError("created_at is null")
        return APIKeyRecord(
            id=str(data["id"]),
            name=str(data["name"]),
            api_key=display,
            enabled=bool(data.get("enabled", True)),
            removed=bool(data.get("removed", False)),
            created_at=created,
            updated_at=parse_time(data.get("updated_at")) or created,
            last_used_at=parse_time(data.get("last_used_at")),
            expiration_date=parse_time(data.get("expiration_date")),
            owner=owner,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BackendError("nexos.ai returned an unexpected API key object") from exc


def parse_with_secret(data: Any, owner: str) -> tuple[APIKeyRecord, str]:
    secret = data.get("api_key") if isinstance(data, dict) else None
    if not isinstance(secret, str) or not secret or "*" in secret:
        raise BackendError("nexos.ai returned no full key value")
    return parse_record(data, owner, display=mask_secret(secret)), secret


def removed(record: APIKeyRecord) -> APIKeyRecord:
    return replace(record, enabled=False, removed=True)
