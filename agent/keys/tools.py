"""Key tools for assistants: plain typed functions, also wrapped as LangChain tools.

What a tool returns to a model is model-safe: id, name, masked key and status, never a
secret. A new secret goes to `ctx.on_secret` (the user's screen, once) and nowhere else.
These functions execute; rotate and revoke (`DESTRUCTIVE_TOOLS`) must sit behind the
agent's approval gate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.tools import StructuredTool, ToolException

from agent.errors import KeyError_, KeyNameError, KeyNotFoundError
from agent.keys.base import APIKeyRecord, Channel, KeyManager, Principal, status_of
from agent.keys.format import parse_key
from agent.models import NewSecret

DESTRUCTIVE_TOOLS = frozenset({"rotate_api_key", "revoke_api_key"})
READ_ONLY_TOOLS = frozenset({"list_api_keys"})
DELIVERY_NOTE = "The new secret was shown to the user once; it is not available to you."


@dataclass(frozen=True)
class KeyToolContext:
    """Who acts, through which surface, and where a new secret is delivered."""

    manager: KeyManager
    principal: Principal
    channel: Channel
    on_secret: Callable[[NewSecret], None]
    approval_id: str | None = None


def safe_view(record: APIKeyRecord) -> dict[str, Any]:
    """The model-safe form of a key record."""
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
    """The owner's key whose id, unique name or masked form is `ref` (KeyNotFoundError if none)."""
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


def list_api_keys(ctx: KeyToolContext) -> list[dict[str, Any]]:
    """List the user's API keys (id, name, masked key, status); never shows a secret."""
    owner = ctx.principal.owner
    return [safe_view(r) for r in ctx.manager.list(owner, principal=ctx.principal)]


def generate_api_key(ctx: KeyToolContext, name: str) -> dict[str, Any]:
    """Generate a new API key with this name; the secret is shown to the user once, not to you."""
    record, secret = ctx.manager.create(
        ctx.principal.owner,
        name,
        actor=ctx.principal.owner,
        channel=ctx.channel,
        principal=ctx.principal,
    )
    ctx.on_secret(NewSecret(key_id=record.id, name=record.name, api_key=secret))
    return {**safe_view(record), "note": DELIVERY_NOTE}


def rotate_api_key(ctx: KeyToolContext, key: str) -> dict[str, Any]:
    """Rotate an API key (by id or name): the current key is permanently disabled and replaced."""
    record = resolve_key(ctx.manager, ctx.principal.owner, key, principal=ctx.principal)
    rotated, secret = ctx.manager.rotate(
        ctx.principal.owner,
        record.id,
        actor=ctx.principal.owner,
        channel=ctx.channel,
        approval_id=ctx.approval_id,
        principal=ctx.principal,
    )
    ctx.on_secret(NewSecret(key_id=rotated.id, name=rotated.name, api_key=secret))
    return {**safe_view(rotated), "note": DELIVERY_NOTE}


def revoke_api_key(ctx: KeyToolContext, key: str) -> dict[str, Any]:
    """Revoke an API key (by id or name) permanently; it stops working at once."""
    record = resolve_key(ctx.manager, ctx.principal.owner, key, principal=ctx.principal)
    revoked = ctx.manager.revoke(
        ctx.principal.owner,
        record.id,
        actor=ctx.principal.owner,
        channel=ctx.channel,
        approval_id=ctx.approval_id,
        principal=ctx.principal,
    )
    return safe_view(revoked)


def as_langchain_tools(ctx: KeyToolContext) -> list[StructuredTool]:
    """The four tools bound to `ctx`; key errors become tool errors the model can read."""

    def call(func: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return func(ctx, **kwargs)
        except KeyError_ as exc:  # messages name keys by id/name/mask only
            raise ToolException(str(exc)) from exc

    def list_api_keys_tool() -> Any:
        return call(list_api_keys)

    def generate_api_key_tool(name: str) -> Any:
        return call(generate_api_key, name=name)

    def rotate_api_key_tool(key: str) -> Any:
        return call(rotate_api_key, key=key)

    def revoke_api_key_tool(key: str) -> Any:
        return call(revoke_api_key, key=key)

    plain: tuple[Callable[..., Any], ...] = (
        list_api_keys,
        generate_api_key,
        rotate_api_key,
        revoke_api_key,
    )
    bound: tuple[Callable[..., Any], ...] = (
        list_api_keys_tool,
        generate_api_key_tool,
        rotate_api_key_tool,
        revoke_api_key_tool,
    )
    return [
        StructuredTool.from_function(
            func=wrapper,
            name=func.__name__,
            description=(func.__doc__ or "").strip(),
            handle_tool_error=True,
            metadata={
                "destructive": func.__name__ in DESTRUCTIVE_TOOLS,
                "read_only": func.__name__ in READ_ONLY_TOOLS,
            },
        )
        for func, wrapper in zip(plain, bound, strict=True)
    ]
