"""Builds the configured key backend: local (default) or nexos.ai."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from agent.config import AgentSettings
from agent.keys.base import KeyManager


def make_key_manager(
    settings: AgentSettings,
    *,
    engine: Engine | None = None,
    http_client: httpx.Client | httpx.AsyncClient | None = None,
) -> KeyManager:
    """The `KeyManager` for `settings.keys_backend`.

    Without `engine` one is made from the settings and migrated; a passed-in engine is
    used as is (the caller has run `agent.db.migrate`). The nexos.ai backend uses the
    database only for its audit log, and speaks to nexos.ai through a synchronous
    `httpx.Client` (the `KeyManager` protocol is synchronous): an `httpx.AsyncClient` passed
    here is not used, a client with the backend's own timeouts is made instead.
    """
    from agent.db import make_engine, migrate
    from agent.keys.audit import AuditLog
    from agent.keys.local import LocalKeyManager, utcnow
    from agent.keys.nexos import NexosKeyManager

    if engine is None:
        engine = make_engine(settings)
        migrate(engine)
    if settings.keys_backend == "nexos":
        client = http_client if isinstance(http_client, httpx.Client) else None
        return NexosKeyManager(settings, http_client=client, audit=AuditLog(engine, utcnow))
    return LocalKeyManager(engine, settings)
