"""The one interface every key backend implements, and the record it speaks.

Records follow the nexos.ai `APIKey` shape so the local store, the nexos.ai backend and
the REST API speak one language. A full secret is returned only by `create` and `rotate`
(as the second element of the tuple), never inside a record.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

Channel = Literal["cli", "rest", "ui", "chat", "mcp"]

# Owner of the keys the local administrator manages with `docsagent keys` (no --owner).
LOCAL_OWNER = "local"


@dataclass(frozen=True)
class Principal:
    """Who is acting: the owner of keys, and via which key (None for the local CLI)."""

    owner: str
    key_id: str | None = None
    is_admin: bool = False
    # local backend: the key's version when its secret was verified (binds self-rotation)
    key_version: int | None = None
    # nexos backend only: the caller's own nexos.ai key, kept in memory for this request.
    credential: str | None = None

    def __repr__(self) -> str:  # never print a credential
        return f"Principal(owner={self.owner!r}, key_id={self.key_id!r}, is_admin={self.is_admin})"


@dataclass(frozen=True)
class APIKeyRecord:
    """nexos.ai APIKey shape; `api_key` is always the masked form here."""

    id: str
    name: str
    api_key: str  # masked, e.g. "dak_AbCd…wXyZ"
    enabled: bool
    removed: bool
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None
    expiration_date: datetime | None
    owner: str = ""
    version: int = 0  # bumped by every change (local store; 0 = unknown, e.g. nexos.ai)

    def to_json(self) -> dict[str, object]:
        """The nexos.ai JSON shape (ISO 8601 times)."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "name": self.name,
            "api_key": self.api_key,
            "enabled": self.enabled,
            "removed": self.removed,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "last_used_at": iso(self.last_used_at),
            "expiration_date": iso(self.expiration_date),
        }


@dataclass(frozen=True)
class AuditEvent:
    """One key change; never holds a secret."""

    id: int
    event: str  # created / updated / rotated / revoked
    owner: str
    actor: str
    channel: str
    key_id: str
    approval_id: str | None
    at: datetime


_UNSET = object()


@dataclass(frozen=True)
class BulkChange:
    """One item of a bulk update: rename / enable / change expiry, or revoke (`remove`)."""

    id: str
    name: str | None = None
    enabled: bool | None = None
    expiration_date: datetime | object | None = _UNSET
    remove: bool = False


@runtime_checkable
class KeyManager(Protocol):
    """Generate, list, rotate, revoke and verify API keys for an owner.

    Every mutating method takes `actor` and `channel` for the audit log, and
    `approval_id` when a user's approval authorised it.
    """

    def create(
        self,
        owner: str,
        name: str,
        expires_at: datetime | None = None,
        *,
        actor: str | None = None,
        channel: Channel = "cli",
        principal: Principal | None = None,
    ) -> tuple[APIKeyRecord, str]: ...

    def list(self, owner: str, *, principal: Principal | None = None) -> list[APIKeyRecord]: ...

    def get(
        self, owner: str, key_id: str, *, principal: Principal | None = None
    ) -> APIKeyRecord: ...

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
    ) -> APIKeyRecord: ...

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
        expected_version: int | None = None,
    ) -> tuple[APIKeyRecord, str]: ...

    def revoke(
        self,
        owner: str,
        key_id: str,
        *,
        actor: str | None = None,
        channel: Channel = "cli",
        approval_id: str | None = None,
        principal: Principal | None = None,
    ) -> APIKeyRecord: ...

    def bulk(
        self,
        owner: str,
        changes: builtins.list[BulkChange],
        *,
        actor: str | None = None,
        channel: Channel = "cli",
        principal: Principal | None = None,
    ) -> builtins.list[APIKeyRecord]:
        """Apply every change or none (an unknown id or a taken name changes nothing)."""
        ...

    def verify(self, secret: str) -> Principal: ...

    def verify_cached(self, secret: str) -> Principal | None:
        """`verify` from memory, without I/O that could block (event-loop safe), or None
        when only `verify` can decide."""
        ...

    def list_cached(self, owner: str) -> tuple[APIKeyRecord, ...] | None:
        """`list` from memory without blocking I/O, or None when only `list` can answer.
        While nothing changes, the same (immutable) tuple is returned each time."""
        ...

    def audit(self, owner: str | None = None, limit: int = 100) -> builtins.list[AuditEvent]: ...

    def close(self) -> None:
        """Write what is buffered and release connections (at shutdown)."""
        ...
