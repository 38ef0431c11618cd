"""Finding one of an owner's keys by how a user or a model refers to it: its id, its
unique name (any case) or its masked form, never its secret value. (Which key a chat
message's words mean is `agent/key_refs.py`'s job; this is the exact look-up after it.)"""

from __future__ import annotations

from agent.errors import KeyNameError, KeyNotFoundError
from agent.keys.base import APIKeyRecord, KeyManager, Principal
from agent.keys.format import parse_key


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
