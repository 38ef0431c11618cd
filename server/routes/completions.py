"""OpenAI-compatible chat: `POST /v1/chat/completions` (streaming and not) and
`GET /v1/models` with one model, `docsagent`.

- The last user message is the question. The history before it says which conversation
  this is (`agent.threads`): a client that resends the whole history, as standard
  clients do, continues its conversation (for an anonymous caller the history is what
  opens it, in place of the conversation's token); `user` names a conversation (an id
  this server returned in `docsagent.conversation_id`, an anonymous one with its
  `X-Conversation-Token`) only when no history matches, and one the caller cannot open
  starts a new conversation. `docsagent` in the response (or the stream's last chunk)
  names the conversation, with a new anonymous one's token once. A "yes" approves
  a pending action only if the server's own previous answer in that conversation staged
  it: an assistant turn written by the client is never taken as an approval.
- Any key that is not shaped like a docsagent (or, with that backend, nexos.ai) key —
  the placeholder an SDK insists on — is anonymous: docs questions work, key actions say
  a real key is needed. A wrong real key is a 401.
- A new secret never enters the message (a calling model reads it): the message links to
  a one-time page (`/#secret=<ticket>`, `agent.secret_tickets`) that shows it to the
  owner signed in; docsagent-aware clients also get it in the top-level
  `docsagent_secret` field.
- `max_tokens` / `max_completion_tokens` cut the message (`finish_reason: "length"`),
  never a new key's link; `usage` counts the request's and the reply's tokens
  (`server.tokens`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from agent.errors import KeyRequiredError
from agent.links import is_safe_url
from agent.models import Answer
from agent.threads import Turn
from server.deps import (
    AnsweringDep,
    CompletionCallerDep,
    ConversationToken,
    OpenAIStateDep,
    SettingsDep,
)
from server.errors import BadRequest, NotFound
from server.routes.ask import base_url

router = APIRouter(tags=["openai-compatible"])
MODEL = "docsagent"
STREAM_STEP = 48  # characters per streamed delta


class Message(BaseModel):
    role: str = Field(..., max_length=32)
    content: Annotated[str, Field(max_length=100_000)] | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        parts = [p.get("text", "") for p in self.content or [] if p.get("type") == "text"]
        return "\n".join(str(t) for t in parts)


class StreamOptions(BaseModel):
    include_usage: bool = False


class CompletionRequest(BaseModel):
    model: str = Field(MODEL, max_length=128)
    messages: list[Message] = Field(..., min_length=1, max_length=200)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, le=100_000, description="Longest reply, tokens.")
    max_completion_tokens: int | None = Field(
        None, ge=1, le=100_000, description="Same as max_tokens (the newer name)."
    )
    user: str | None = Field(
        None,
        max_length=64,
        description="A conversation id this server returned (docsagent.conversation_id), "
        "used when the history sent matches no conversation of the caller (an anonymous one "
        "also needs its X-Conversation-Token); one the caller cannot open starts a new "
        "conversation.",
    )

    def split(self) -> tuple[list[Turn], str]:
        """(the user/assistant history before the last user message, that message)."""
        last = next(
            (i for i in range(len(self.messages) - 1, -1, -1) if self.messages[i].role == "user"),
            None,
        )
        if last is None:
            raise BadRequest("no user message to answer")
        history = [
            (m.role, m.text()) for m in self.messages[:last] if m.role in ("user", "assistant")
        ]
        return history, self.messages[last].text()

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


def secret_notice(link: str) -> str:
    """Where a standard client's user gets a new key (never cut by max_tokens)."""
    return (
        f"\n\n**Your new key is not in this message.** Open {link} in a browser and sign in "
        "with your API key to see and copy it: the link works once, within 10 minutes."
    )


def render_content(answer: Answer, *, placeholder_key: bool = False) -> str:
    """The answer (which shows a pending action's preview), how to decide a pending action
    here, and sources as a markdown list."""
    text = answer.answer.strip()
    if answer.pending_action:
        text += (
            f"\n\nPending action `{answer.pending_action.id}`: reply yes or no as your next "
            "message in this conversation, or approve or reject it in the web chat."
        )
    if placeholder_key and KeyRequiredError.MESSAGE in answer.answer:
        text += (
            "\n\n(Your client sent a placeholder instead of a docsagent API key, so you were "
            "answered as signed out. Set the client's API key to your docsagent key to manage "
            "keys.)"
        )
    safe = [s for s in answer.sources if is_safe_url(s.url)]
    if safe:
        lines = [f"- [{s.title}{' › ' + s.section if s.section else ''}]({s.url})" for s in safe]
        text += "\n\nSources:\n" + "\n".join(lines)
    return text


@router.get("/v1/models")
async def models(_caller: CompletionCallerDep) -> dict[str, Any]:
    """The one model this server offers."""
    return {
        "object": "list",
        "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "docsagent"}],
    }


@router.post("/v1/chat/completions")
async def completions(
    body: CompletionRequest,
    request: Request,
    answering: AnsweringDep,
    settings: SettingsDep,
    caller: CompletionCallerDep,
    state: OpenAIStateDep,
    token: ConversationToken = None,
) -> Any:
    """Answer the last user message, in the conversation its history describes."""
    if body.model != MODEL:
        raise NotFound(f"unknown model {body.model!r}; use {MODEL!r}")
    run = anyio.to_thread.run_sync
    history, question = body.split()
    owner = caller.principal.owner if caller.principal else ""
    found = await run(lambda: state.threads.find(owner, history))
    answer = await answering.answer(
        question,
        conversation_id=found or body.user,
        conversation_token=token,
        principal=caller.principal,
        start_if_unknown=True,
        by_history=found is not None,
    )
    content, finish = render_content(answer, placeholder_key=caller.placeholder), "stop"
    if body.token_limit is not None:
        limit = body.token_limit
        content, was_cut = await run(lambda: state.tokens.truncate(content, limit))
        finish = "length" if was_cut else "stop"
    if answer.secret is not None:
        secret = answer.secret
        ticket = await run(lambda: state.tickets.seal(owner, secret))
        content += secret_notice(f"{base_url(request, settings)}/#secret={ticket}")
    replied = [*history, ("user", question), ("assistant", content)]
    await run(lambda: state.threads.advance(answer.conversation_id, owner, replied))
    prompt = await run(lambda: sum(state.tokens.count(m.text()) for m in body.messages))
    completion = await run(lambda: state.tokens.count(content))
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    extra: dict[str, Any] = {
        "docsagent": {
            "mode": answer.mode,
            "conversation_id": answer.conversation_id,
            "conversation_token": answer.conversation_token,
        }
    }
    if answer.secret:
        extra["docsagent_secret"] = answer.secret.model_dump()
    created, completion_id = int(time.time()), f"chatcmpl-{uuid.uuid4().hex}"
    head = {"id": completion_id, "created": created, "model": MODEL}
    if not body.stream:
        return {
            **head,
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish,
                }
            ],
            "usage": usage,
            **extra,
        }
    with_usage = bool(body.stream_options and body.stream_options.include_usage)
    return EventSourceResponse(_chunks(head, content, finish, extra, usage, with_usage), ping=15)


async def _chunks(
    head: dict[str, Any],
    content: str,
    finish: str,
    extra: dict[str, Any],
    usage: dict[str, int],
    with_usage: bool,
) -> AsyncIterator[dict[str, str]]:
    """A finished reply as `chat.completion.chunk` events, `[DONE]` last."""

    def chunk(choices: list[dict[str, Any]], **more: Any) -> dict[str, str]:
        return {
            "data": json.dumps(
                {**head, "object": "chat.completion.chunk", "choices": choices, **more}
            )
        }

    def delta(value: dict[str, Any], reason: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": value, "finish_reason": reason}]

    yield chunk(delta({"role": "assistant", "content": ""}))
    for start in range(0, len(content), STREAM_STEP):
        yield chunk(delta({"content": content[start : start + STREAM_STEP]}))
    yield chunk(delta({}, finish), **extra)
    if with_usage:
        yield chunk([], usage=usage)
    yield {"data": "[DONE]"}
