"""The key tools: the caller's own API keys, listed, generated, rotated and revoked.

What a tool returns is model-safe: id, name, masked key and status, never a secret; a new
secret travels in `ToolResult.secret`, which every surface hands to the user alone.
Rotate and revoke need the user's approval: the registry's gate runs them only with it.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, model_validator

from agent.keys.format import DELIVERY_NOTE, NAME_MAX, safe_view
from agent.models import NewSecret
from agent.toolbox.registry import Approved, ToolArgs, ToolCall, ToolResult, tool

KEY_REF_MAX = 300


class NoArgs(ToolArgs):
    pass


class NewKeyArgs(ToolArgs):
    name: str = Field(
        ...,
        min_length=1,
        max_length=NAME_MAX,
        description=f"A name for the new key, unique among your keys (1-{NAME_MAX} characters).",
    )


class KeyChangeArgs(ToolArgs):
    key: str | None = Field(
        None,
        min_length=1,
        max_length=KEY_REF_MAX,
        description="The key to change: its id or its name (never its secret value).",
    )
    approval_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Instead of `key`: the id of the pending action an earlier call returned, "
        "to learn whether the user approved it.",
    )

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.key is None) == (self.approval_id is None):
            raise ValueError("give either `key` or `approval_id`")
        return self


def _audited(call: ToolCall, change: Approved) -> dict[str, Any]:
    """Who changes the key, through which surface, under which approval (for the audit)."""
    return {
        "actor": call.owner,
        "channel": call.channel,
        "approval_id": change.approval_id,
        "principal": call.principal,
    }


@tool("list_api_keys", NoArgs, read_only=True, idempotent=True, needs_key=True)
def list_api_keys(call: ToolCall, args: NoArgs) -> ToolResult:
    """List your API keys: id, name, masked key, status and expiration; never a secret."""
    records = call.services.keys.list(call.owner, principal=call.principal)
    return ToolResult([safe_view(record) for record in records])


@tool("generate_api_key", NewKeyArgs, needs_key=True)
def generate_api_key(call: ToolCall, args: NewKeyArgs) -> ToolResult:
    """Create a new API key with this name. Its secret is shown to the user once, outside
    this result; you get its id, name and masked form."""
    owner = call.owner
    record, secret = call.services.keys.create(
        owner, args.name, actor=owner, channel=call.channel, principal=call.principal
    )
    return ToolResult(
        {**safe_view(record), "note": DELIVERY_NOTE},
        secret=NewSecret(key_id=record.id, name=record.name, api_key=secret),
    )


@tool("rotate_api_key", KeyChangeArgs, destructive=True, needs_key=True, needs_approval=True)
def rotate_api_key(call: ToolCall, change: Approved) -> ToolResult:
    """Rotate one of your API keys (by id or name): its current secret is permanently
    disabled and replaced by a new one, shown to the user once. Runs only after the
    user's own approval."""
    rotated, secret = call.services.keys.rotate(
        call.owner, change.record.id, **_audited(call, change)
    )
    return ToolResult(
        {**safe_view(rotated), "note": DELIVERY_NOTE},
        secret=NewSecret(key_id=rotated.id, name=rotated.name, api_key=secret),
    )


@tool("revoke_api_key", KeyChangeArgs, destructive=True, needs_key=True, needs_approval=True)
def revoke_api_key(call: ToolCall, change: Approved) -> ToolResult:
    """Revoke one of your API keys (by id or name) for good: it stops working at once.
    Runs only after the user's own approval."""
    revoked = call.services.keys.revoke(call.owner, change.record.id, **_audited(call, change))
    return ToolResult(safe_view(revoked))
