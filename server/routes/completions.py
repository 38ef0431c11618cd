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
- `stream: true` sends a grounded model's tokens as it writes them (`server.openai_stream`
  says what follows streamed text the finished answer does not begin with, and how a
  stream is cut); the message is built by `server.openai_reply`, streamed or not.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from agent.threads import Turn
from server.answering import Where
from server.deps import (
    AnsweringDep,
    CompletionCallerDep,
    ConversationToken,
    OpenAIStateDep,
    SettingsDep,
)
from server.errors import BadRequest, NotFound
from server.openai_reply import Exchange, reply_extra
from server.openai_stream import completion_chunks
from server.routes.ask import base_url

router = APIRouter(tags=["openai-compatible"])
MODEL = "docsagent"


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
    exchange = Exchange(
        state=state,
        owner=owner,
        history=history,
        question=question,
        found=found,
        placeholder=caller.placeholder,
        limit=body.token_limit,
        site=base_url(request, settings),
        prompt_tokens=await run(lambda: sum(state.tokens.count(m.text()) for m in body.messages)),
    )
    where: Where = {
        "conversation_id": found or body.user,
        "conversation_token": token,
        "principal": caller.principal,
        "start_if_unknown": True,
        "by_history": found is not None,
    }
    head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": MODEL}
    if body.stream:
        items = answering.stream(question, **where)
        first = await anext(items)  # a question refused before any text is an HTTP error
        chunks = completion_chunks(
            exchange,
            head,
            first,
            items,
            with_usage=bool(body.stream_options and body.stream_options.include_usage),
            request_id=getattr(request.state, "request_id", ""),
        )
        return EventSourceResponse(chunks, ping=15)
    answer = await answering.answer(question, **where)
    content, cut = await exchange.content(answer)
    await exchange.record(answer.conversation_id, content)
    return {
        **head,
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "length" if cut else "stop",
            }
        ],
        "usage": await exchange.usage(content),
        **reply_extra(answer),
    }
