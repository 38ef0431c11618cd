"""API-key authentication for every surface, and the one-time bootstrap admin key.

A key arrives as `Authorization: Bearer <key>` or `X-Api-Key: <key>` and is verified by
the one `KeyManager`. Unknown, disabled, expired and revoked keys all get the same 401.
Failed attempts are counted per client address (see `server/ratelimit.py`). Nothing here
logs a key or a header; the bootstrap key is written to the terminal once, never to the log
stream (stdout/stderr).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import TextIO

import anyio

from agent.errors import AuthenticationError
from agent.keys.base import KeyManager, Principal
from server.config import Settings
from server.errors import Unauthorized
from server.ratelimit import RateLimiter

log = logging.getLogger("docsagent.auth")
BOOTSTRAP_OWNER = "admin"
BOOTSTRAP_KEY_NAME = "bootstrap"


def extract_key(headers: Mapping[str, str]) -> str | None:
    """The API key sent with a request, or None when it carries none."""
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    api_key = headers.get("x-api-key", "").strip()
    return api_key or None


def looks_like_api_key(secret: str, settings: Settings) -> bool:
    """Whether `secret` is shaped like a key this server verifies (ours, or with the
    nexos.ai backend a nexos.ai key); anything else is a client's placeholder."""
    prefixes = (settings.key_prefix, "nexos-") if settings.keys_backend == "nexos" else ()
    return secret.startswith(prefixes or (settings.key_prefix,))


def _authenticate_blocking(
    secret: str, keys: KeyManager, settings: Settings, limiter: RateLimiter, client: str
) -> Principal:
    """Verify `secret`; count failures per `client` address and traffic per key (may
    read and write the database: run it in a worker thread)."""
    fail_bucket = f"authfail:{client}"
    if not limiter.check_cached(fail_bucket, settings.rate_limit_failed_auth):
        limiter.check(fail_bucket, settings.rate_limit_failed_auth)
    try:
        principal = keys.verify(secret)
    except AuthenticationError as exc:
        limiter.record(fail_bucket, settings.rate_limit_failed_auth)
        raise Unauthorized("invalid API key") from exc
    principal = _with_role(principal, settings)
    bucket = _traffic_bucket(principal)
    if not limiter.try_hit(bucket, settings.rate_limit_per_key):
        limiter.hit(bucket, settings.rate_limit_per_key)
    return principal


async def authenticate(
    secret: str,
    *,
    keys: KeyManager,
    settings: Settings,
    limiter: RateLimiter,
    client: str,
) -> Principal:
    """The principal of `secret`, answered from memory when nothing changed since this
    worker last saw the key and the address (the common request: no thread, no table),
    otherwise by the same checks against the database in a worker thread."""
    fail_limit = settings.rate_limit_failed_auth
    principal = None
    if limiter.check_cached(f"authfail:{client}", fail_limit):
        principal = keys.verify_cached(secret)
    if principal is None:
        return await anyio.to_thread.run_sync(
            _authenticate_blocking, secret, keys, settings, limiter, client
        )
    principal = _with_role(principal, settings)
    bucket = _traffic_bucket(principal)
    if not limiter.try_hit(bucket, settings.rate_limit_per_key):
        await anyio.to_thread.run_sync(limiter.hit, bucket, settings.rate_limit_per_key)
    return principal


def _with_role(principal: Principal, settings: Settings) -> Principal:
    is_admin = principal.owner in _admins(settings.admins)
    if principal.is_admin == is_admin:
        return principal
    if principal.credential is not None:  # a nexos.ai secret: never kept beyond the request
        return replace(principal, is_admin=is_admin)
    return _as_role(principal, is_admin)


@lru_cache(maxsize=64)
def _admins(listed: str) -> frozenset[str]:
    return frozenset(
        {BOOTSTRAP_OWNER, *(owner.strip() for owner in listed.split(",") if owner.strip())}
    )


@lru_cache(maxsize=4096)
def _as_role(principal: Principal, is_admin: bool) -> Principal:
    return replace(principal, is_admin=is_admin)


def _traffic_bucket(principal: Principal) -> str:
    return f"key:{principal.key_id or principal.owner}"


async def optional_principal(
    headers: Mapping[str, str],
    *,
    keys: KeyManager,
    settings: Settings,
    limiter: RateLimiter,
    client: str,
    required: bool,
) -> Principal | None:
    """The caller, None when anonymous and allowed; 401 when a key is needed or wrong.
    Answered on the event loop when memory suffices (see `authenticate`)."""
    secret = extract_key(headers)
    if secret is None:
        if required or settings.require_auth:
            raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
        return None
    return await authenticate(secret, keys=keys, settings=settings, limiter=limiter, client=client)


def open_terminal() -> TextIO | None:
    """The controlling terminal for writing, or None when there is none (a service
    manager, a container whose output is a log pipe)."""
    try:
        return open("/dev/tty", "w", encoding="utf-8")
    except OSError:
        return None


def bootstrap_admin(
    keys: KeyManager, settings: Settings, *, terminal: Callable[[], TextIO | None] | None = None
) -> str | None:
    """On first start with an empty key store, create the admin's key and show it once on
    the terminal: never on stdout/stderr, where the JSON log stream goes. Without a
    terminal no key is created (a WARNING says how to make one with the CLI).

    The caller holds the database's "startup" lock (`agent.db.exclusive`), so several
    workers starting together create it once. Returns the secret (for the caller to
    forget) or None.
    """
    if settings.keys_backend != "local":
        return None
    if keys.audit(None, limit=1):
        return None
    screen = (terminal or open_terminal)()
    if screen is None:
        log.warning(
            "first start without a terminal: no bootstrap admin key was created; make one "
            "with `docsagent keys create NAME --owner %s` on this host",
            BOOTSTRAP_OWNER,
        )
        return None
    record, secret = keys.create(
        BOOTSTRAP_OWNER, BOOTSTRAP_KEY_NAME, actor=BOOTSTRAP_OWNER, channel="cli"
    )
    with screen:
        screen.write(
            "\n    docsagent: first start, created the admin API key "
            f"{record.name!r} (owner {BOOTSTRAP_OWNER!r}).\n"
            "    Copy it now; it is shown only this once:\n\n"
            f"        {secret}\n\n"
            "    Use it as 'Authorization: Bearer <key>' or in the web UI.\n\n"
        )
        screen.flush()
    log.info("first start: created the bootstrap admin key %r (shown on the terminal)", record.id)
    return secret
