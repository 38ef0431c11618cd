"""The answer contract every surface (CLI, chat API, ask proxy, MCP) returns."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Mode = Literal["local", "fallback", "none", "action"]


class Source(BaseModel):
    title: str
    url: str  # carries the section anchor: https://docs.nexos.ai/.../api-keys#rotate-api-key
    section: str = ""
    excerpt: str = ""


class PendingAction(BaseModel):
    id: str
    tool: str  # rotate_api_key / revoke_api_key
    args: dict[str, Any]  # key id and name only, never a secret
    preview: str  # "The key 'Production' (dak_…ab12) will be permanently disabled and replaced…"
    expires_at: str = ""  # ISO 8601
    # in a conversation's history: pending / approved / rejected / cancelled / expired
    status: str = "pending"


class DecidedAction(BaseModel):
    """A pending action this turn decided (a typed yes/no, a button, or moving on): the
    web chat turns that action's card into this outcome at once."""

    id: str
    status: Literal["approved", "rejected", "cancelled"]


class NewSecret(BaseModel):
    """The only place a freshly created or rotated secret ever appears."""

    key_id: str
    name: str
    api_key: str


class Answer(BaseModel):
    answer: str  # markdown
    mode: Mode
    sources: list[Source] = Field(default_factory=list)
    followups: list[str] = Field(default_factory=list)
    # who wrote a local answer: "extractive", "llm", or "extractive: <why not the model>"
    generation: str = "extractive"
    pending_action: PendingAction | None = None
    decided_action: DecidedAction | None = None
    secret: NewSecret | None = None
    conversation_id: str = ""
    # set once, when an anonymous conversation is created: what opens it again
    conversation_token: str | None = None
