"""How a user or a model refers to a key (its id, its unique name or its masked form,
never its secret value) and the model-safe view of a key record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agent.errors import KeyNameError, KeyNotFoundError
from agent.keys.base import APIKeyRecord, KeyManager, Principal
from agent.keys.format import parse_key

DELIVERY_NOTE = "The new secret was shown to the user once; it is not available to you."


def status_of(record: APIKeyRecord, now: datetime | None = None) -> str:
    """revoked / disabled / expired / active."""
    if record.removed:
        return "revoked"
    if not record.enabled:
        return "disabled"
    if record.expiration_date is not None and record.expiration_date <= (now or datetime.now(UTC)):
        return "expired"
    return "active"


def safe_view(record: APIKeyRecord) -> dict[str, Any]:
    """The model-safe form of a key record: id, name, masked key, status, expiration."""
    return {
        "id": record.id,
        "name": record.name,
        "masked_key": record.api_key,
        "status": status_of(record),
        "expiration_date": record.expiration_date.isoformat() if record.expiration_date else None,
    }


def resolve_key(
    manager: KeyManager, owner: str, ref: str, *, principal: Principal | None = None
) -> APIKeyRecord:
    """The owner's key whose id, unique name or masked form is `ref` (KeyNotFoundError if
    none, KeyNameError if several share it)."""
    ref = (ref or "").strip()
    if parse_key(ref) is not None or len(ref) > 300:
        raise KeyNotFoundError("refer to a key by its id or name, never by its secret value")
    records = manager.list(owner, principal=principal)
    for record in records:
        if record.id == ref:
            return record
    for field in ("name", "api_key"):
        matches = [r for r in records if getattr(r, field) == ref]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise KeyNameError(f"{len(matches)} keys match {ref!r}; use the key id")
    folded = [r for r in records if r.name.casefold() == ref.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise KeyNotFoundError(f"no API key with id or name {ref[:80]!r}")
