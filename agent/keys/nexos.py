"""The nexos.ai backend: the same `KeyManager` over nexos.ai's public key-management API.

Endpoints (base `settings.nexos_base_url`; team keys under `/v1/teams/{teamId}/api_keys`
instead of `/v1/user/api_keys` when `DOCSAGENT_NEXOS_TEAM_ID` is set):
list `GET …/api_keys`, create `POST …/api_keys` (201, the only response with the full
value), update `PATCH …/api_keys/{id}`, revoke `DELETE …/api_keys/{id}` (204),
rotate `PATCH …/api_keys/{id}/regenerate`, rotate-the-calling-key `PATCH /v1/apikey/rotate`.

Whose keys: every call is authorised with `principal.credential` -- in a multi-user
server, the signed-in person's own nexos.ai key, so each person manages only their own
keys. Only without a principal credential (the CLI, a single-user deployment) is
`DOCSAGENT_NEXOS_API_KEY` used.

Rotation semantics on nexos.ai:
- `PATCH /v1/user/api_keys/{id}/regenerate` replaces the key's value: the old value is
  permanently disabled at once (nexos.ai has no grace period, so `grace` must be 0) and
  the response carries the new full value, once. docsagent takes the returned `APIKey`
  as the key's record. nexos.ai marks this endpoint deprecated; it is the only documented
  way to rotate a key other than the calling one.
- `PATCH /v1/apikey/rotate` (`rotate_own`) rotates the very key that authenticated the
  request and returns its new value (401 if the request was not made with an API key).
- The caller's session: rotating or revoking the key you signed in to docsagent with
  ends that sign-in -- the old value stops working on nexos.ai immediately, docsagent
  drops its cached verification of your key, and your next request must use the new key.

Errors: 400/422 → KeyNameError (create/update) or BackendError; 401 → AuthenticationError;
403 → PermissionDeniedError; 404 → KeyNotFoundError; 409 → KeyNameError (name taken) or
KeyConflictError; 429 → RateLimitedError (after retries, honouring Retry-After);
5xx, timeouts, transport errors, malformed JSON → BackendError. Retries: 429 and
connection failures always; 5xx and read timeouts only for GET/DELETE (a repeated POST or
PATCH could create or rotate twice).
"""

from __future__ import annotations

import builtins
import hashlib
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from agent.bounded import put_bounded
from agent.config import AgentSettings
from agent.errors import (
    AuthenticationError,
    BackendError,
    KeyNotFoundError,
    PermissionDeniedError,
)
from agent.keys.audit import AuditLog
from agent.keys.base import _UNSET, APIKeyRecord, AuditEvent, BulkChange, Channel, Principal
from agent.keys.format import clean_name
from agent.keys.nexos_api import (
    backoff,
    error_for,
    iso,
    parse_json,
    parse_record,
    parse_with_secret,
    removed,
    retry_after,
)

IDEMPOTENT = frozenset({"GET", "DELETE"})
MAX_WAIT_SECONDS = 30.0
VERIFY_TTL_SECONDS = 60.0
VERIFY_CACHE_SIZE = 1024
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def make_http_client() -> httpx.Client:
    """The client used when none is passed in: explicit timeouts, no redirects."""
    return httpx.Client(timeout=DEFAULT_TIMEOUT, follow_redirects=False)


class NexosKeyManager:
    """`KeyManager` backed by nexos.ai; `audit` (our database) records every change."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        http_client: httpx.Client | None = None,
        audit: AuditLog | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = settings.nexos_base_url.rstrip("/")
        team = settings.nexos_team_id
        self._keys_path = (
            f"/v1/teams/{quote(team, safe='')}/api_keys" if team else "/v1/user/api_keys"
        )
        self._default_credential = settings.nexos_api_key
        self._client = http_client or make_http_client()
        self._retries = settings.fetch_retries
        self._audit = audit
        self._sleep = sleep
        self._monotonic = monotonic
        self._verified: dict[bytes, tuple[float, str]] = {}  # sha256(key) -> (until, owner)
        self._lock = threading.Lock()

    # -- reading -----------------------------------------------------------------------

    def verify(self, secret: str) -> Principal:
        """Check a person's nexos.ai key against nexos.ai; a success is cached briefly."""
        if not isinstance(secret, str) or not 16 <= len(secret) <= 512 or not secret.isascii():
            raise AuthenticationError()
        if any(char.isspace() for char in secret):
            raise AuthenticationError()
        fingerprint = hashlib.sha256(secret.encode()).digest()
        cached = self._cached(fingerprint, secret)
        if cached is not None:
            return cached
        now = self._monotonic()
        try:
            self._request("GET", "/v1/user/api_keys", secret)
        except (AuthenticationError, PermissionDeniedError):
            raise AuthenticationError() from None
        owner = "nexos:" + fingerprint.hex()[:16]
        with self._lock:
            put_bounded(
                self._verified, fingerprint, (now + VERIFY_TTL_SECONDS, owner), VERIFY_CACHE_SIZE
            )
        return Principal(owner=owner, credential=secret)

    def verify_cached(self, secret: str) -> Principal | None:
        """A success of the last VERIFY_TTL_SECONDS for this secret, or None."""
        return self._cached(hashlib.sha256(secret.encode()).digest(), secret)

    def _cached(self, fingerprint: bytes, secret: str) -> Principal | None:
        with self._lock:
            hit = self._verified.get(fingerprint)
        if hit is not None and hit[0] > self._monotonic():
            return Principal(owner=hit[1], credential=secret)
        return None

    def close(self) -> None:
        """Nothing buffered; the HTTP client belongs to whoever built it."""

    def list_cached(self, owner: str) -> tuple[APIKeyRecord, ...] | None:
        """Always None: the listing lives at nexos.ai."""
        return None

    def list(
        self, owner: str, *, principal: Principal | None = None
    ) -> builtins.list[APIKeyRecord]:
        """The account's keys that are not removed (values masked by nexos.ai)."""
        return [r for r in self._all(owner, principal) if not r.removed]

    def get(self, owner: str, key_id: str, *, principal: Principal | None = None) -> APIKeyRecord:
        for record in self._all(owner, principal):
            if record.id == key_id:
                return record
        raise KeyNotFoundError(f"no API key {key_id[:80]!r}")

    def audit(self, owner: str | None = None, limit: int = 100) -> builtins.list[AuditEvent]:
        return self._audit.list(owner, limit) if self._audit else []

    # -- changing ----------------------------------------------------------------------

    def create(
        self,
        owner: str,
        name: str,
        expires_at: datetime | None = None,
        *,
        actor: str | None = None,
        channel: Channel = "cli",
        principal: Principal | None = None,
    ) -> tuple[APIKeyRecord, str]:
        body = {"name": clean_name(name), "expiration_date": iso(expires_at)}
        response = self._request(
            "POST", self._keys_path, self._credential(principal), json=body, names=True
        )
        record, secret = parse_with_secret(parse_json(response), owner)
        self._log("created", owner, actor, channel, record.id)
        return record, secret

    def update(
        self,
        owner: str,
        key_id: str,
        *,
        name: str | None = None,
        enabled: bool | None = None,
        expiration_date: datetime | object | None = _UNSET,
        actor: str | None = None,
        channel: Channel = "cli",
        principal: Principal | None = None,
    ) -> APIKeyRecord:
        current = self.get(owner, key_id, principal=principal)
        expiry = current.expiration_date if expiration_date is _UNSET else expiration_date
        body = {
            "name": clean_name(name) if name is not None else current.name,
            "enabled": current.enabled if enabled is None else enabled,
            "expiration_date": iso(expiry),  # type: ignore[arg-type]
        }
        path = f"{self._keys_path}/{quote(current.id, safe='')}"
        response = self._request(
            "PATCH", path, self._credential(principal), json=body, names=True, ref=current
        )
        record = parse_record(parse_json(response), owner)
        self._log("updated", owner, actor, channel, record.id)
        return record

    def bulk(
        self,
        owner: str,
        changes: builtins.list[BulkChange],
        *,
        actor: str | None = None,
        channel: Channel = "cli",
        principal: Principal | None = None,
    ) -> builtins.list[APIKeyRecord]:
        """nexos.ai's own `POST …/api_keys/bulk` (it decides all or nothing there)."""
        items: builtins.list[dict[str, Any]] = []
        for change in changes:
            item: dict[str, Any] = {"id": change.id}
            if change.remove:
                item["remove"] = True
            if change.name is not None:
                item["name"] = clean_name(change.name)
            if change.enabled is not None:
                item["enabled"] = change.enabled
            if change.expiration_date is not _UNSET:
                item["expiration_date"] = iso(change.expiration_date)  # type: ignore[arg-type]
            items.append(item)
        response = self._request(
            "POST",
            f"{self._keys_path}/bulk",
            self._credential(principal),
            json={"items": items},
            names=True,
        )
        data = parse_json(response)
        records = [parse_record(entry, owner) for entry in (data if isinstance(data, list) else [])]
        for change in changes:
            self._log("revoked" if change.remove else "updated", owner, actor, channel, change.id)
        return records

    def rotate(
        self,
        owner: str,
        key_id: str,
        grace: int = 0,
        *,
        actor: str | None = None,
        channel: Channel = "cli",
        approval_id: str | None = None,
        principal: Principal | None = None,
        expected_version: int | None = None,  # local-only; nexos.ai has no versions
    ) -> tuple[APIKeyRecord, str]:
        """Regenerate a key's value on nexos.ai; the old value stops working at once."""
        if grace:
            raise BackendError(
                "nexos.ai disables the old key at once; a grace period needs grace=0"
            )
        current = self.get(owner, key_id, principal=principal)
        path = f"{self._keys_path}/{quote(current.id, safe='')}/regenerate"
        credential = self._credential(principal)
        response = self._request("PATCH", path, credential, ref=current)
        self._forget(credential)
        record, secret = parse_with_secret(parse_json(response), owner)
        self._log("rotated", owner, actor, channel, current.id, approval_id)
        return record, secret

    def rotate_own(
        self, principal: Principal, *, channel: Channel = "cli", approval_id: str | None = None
    ) -> str:
        """Rotate the key `principal` signed in with (`PATCH /v1/apikey/rotate`); the new value."""
        credential = self._credential(principal)
        data = parse_json(self._request("PATCH", "/v1/apikey/rotate", credential))
        self._forget(credential)
        secret = data.get("api_key") if isinstance(data, dict) else None
        if not isinstance(secret, str) or not secret:
            raise BackendError("nexos.ai returned no new key value")
        key_id = str(data.get("id") or principal.key_id or "self")
        self._log("rotated", principal.owner, None, channel, key_id, approval_id)
        return secret

    def revoke(
        self,
        owner: str,
        key_id: str,
        *,
        actor: str | None = None,
        channel: Channel = "cli",
        approval_id: str | None = None,
        principal: Principal | None = None,
    ) -> APIKeyRecord:
        """Delete the key on nexos.ai (permanent; nexos.ai keeps it soft-deleted)."""
        current = self.get(owner, key_id, principal=principal)
        credential = self._credential(principal)
        path = f"{self._keys_path}/{quote(current.id, safe='')}"
        self._request("DELETE", path, credential, ref=current)
        self._forget(credential)
        self._log("revoked", owner, actor, channel, current.id, approval_id)
        return removed(current)

    # -- helpers -----------------------------------------------------------------------

    def _all(self, owner: str, principal: Principal | None) -> builtins.list[APIKeyRecord]:
        data = parse_json(self._request("GET", self._keys_path, self._credential(principal)))
        if not isinstance(data, list):
            raise BackendError("nexos.ai returned an unexpected key list")
        return [parse_record(item, owner) for item in data]

    def _credential(self, principal: Principal | None) -> str:
        if principal is not None and principal.credential:
            return principal.credential
        if self._default_credential:
            return self._default_credential
        raise AuthenticationError(
            "no nexos.ai API key: sign in with your nexos.ai key or set DOCSAGENT_NEXOS_API_KEY"
        )

    def _forget(self, credential: str) -> None:
        with self._lock:
            self._verified.pop(hashlib.sha256(credential.encode()).digest(), None)

    def _log(
        self,
        event: str,
        owner: str,
        actor: str | None,
        channel: str,
        key_id: str,
        approval_id: str | None = None,
    ) -> None:
        if self._audit is not None:
            self._audit.write(
                event=event,
                owner=owner,
                actor=actor or owner,
                channel=channel,
                key_id=key_id,
                approval_id=approval_id,
            )

    def _request(
        self,
        method: str,
        path: str,
        credential: str,
        *,
        json: dict[str, Any] | None = None,
        names: bool = False,
        ref: APIKeyRecord | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {credential}", "Accept": "application/json"}
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                response = self._client.request(
                    method, self._base + path, json=json, headers=headers
                )
            except httpx.TransportError as exc:
                unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if not last and (unsent or method in IDEMPOTENT):
                    self._sleep(backoff(attempt))
                    continue
                if isinstance(exc, httpx.TimeoutException):
                    raise BackendError(
                        f"nexos.ai did not answer in time ({method} {path})"
                    ) from exc
                raise BackendError(f"cannot reach nexos.ai: {type(exc).__name__}") from exc
            status = response.status_code
            retryable = status == 429 or (status >= 500 and method in IDEMPOTENT)
            if retryable and not last:
                wait = retry_after(response)
                if wait is None or wait <= MAX_WAIT_SECONDS:
                    self._sleep(backoff(attempt) if wait is None else wait)
                    continue
            if status < 400:
                return response
            raise error_for(response, credential, names, ref)
        raise AssertionError("unreachable")  # pragma: no cover
