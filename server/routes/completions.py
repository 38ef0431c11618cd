"""OpenAI-compatible chat: `POST /v1/chat/completions` (streaming and not) and
`GET /v1/models` with one model, `docsagent`. The last user message is the question;
sources are appended to the message as a markdown list. A new secret (after an approved
key action) never goes into the message content, which a calling model would read: it is
in the extra top-level field `docsagent_secret` of the response (or of the last chunk)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from agent.links import is_safe_url
from agent.models import Answer
from server.deps import AnsweringDep, OptionalPrincipal
from server.errors import BadRequest, NotFound

router = APIRouter(tags=["openai-compatible"])
MODEL = "docsagent"


class Message(BaseModel):
    role: str = Field(..., max_length=32)
    content: Annotated[str, Field(max_length=100_000)] | list[dict[str, Any]] | None = None


class CompletionRequest(BaseModel):
    model: str = Field(MODEL, max_length=128)
    messages: list[Message] = Field(..., min_length=1, max_length=200)
    stream: bool = False
    user: str | None = Field(
        None,
        max_length=64,
        description="A conversation id this server returned (docsagent.conversation_id) to "
        "continue it; anything else starts a new conversation.",
    )

    def question(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user":
                if isinstance(message.content, str):
                    return message.content
                texts = [
                    p.get("text", "") for p in message.content or [] if p.get("type") == "text"
                ]
                return "\n".join(str(t) for t in texts)
        raise BadRequest("no user message to answer")


def render_content(answer: Answer) -> str:
    """The answer (which shows a pending action's preview), how to decide a pending action,
    and sources as a markdown list."""
    text = answer.answer.strip()
    if answer.pending_action:
        text += (
            f"\n\nPending action `{answer.pending_action.id}`: reply yes or no as the next "
            "message of this conversation (the same `user`), or approve or reject it in the "
            "web UI (or POST /v1/chat with approve/reject)."
        )
    safe = [s for s in answer.sources if is_safe_url(s.url)]
    if safe:
        lines = [f"- [{s.title}{' › ' + s.section if s.section else ''}]({s.url})" for s in safe]
        text += "\n\nSources:\n" + "\n".join(lines)
    return text


def _docsagent(answer: Answer) -> dict[str, Any]:
    """Our extra field (the response, or the stream's last chunk): the answer's mode and the
    conversation to continue (`user`), with an anonymous one's token the first time."""
    return {
        "docsagent": {
            "mode": answer.mode,
            "conversation_id": answer.conversation_id,
            "conversation_token": answer.conversation_token,
        }
    }


def _secret(answer: Answer) -> dict[str, Any]:
    return {"docsagent_secret": answer.secret.model_dump()} if answer.secret else {}


@router.get("/v1/models")
async def models(_principal: OptionalPrincipal) -> dict[str, Any]:
    """The one model this server offers."""
    return {
        "object": "list",
        "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "docsagent"}],
    }


@router.post("/v1/chat/completions")
async def completions(
    body: CompletionRequest,
    answering: AnsweringDep,
    principal: OptionalPrincipal,
    x_conversation_token: Annotated[
        str | None,
        Header(max_length=64, description="An anonymous conversation's token."),
    ] = None,
) -> Any:
    """Answer the last user message as an OpenAI chat completion."""
    if body.model != MODEL:
        raise NotFound(f"unknown model {body.model!r}; use {MODEL!r}")
    question = body.question()
    created = int(time.time())
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    where: dict[str, Any] = {
        "conversation_id": body.user,
        "conversation_token": x_conversation_token,
        "principal": principal,
        "start_if_unknown": True,
    }
    if not body.stream:
        answer = await answering.answer(question, **where)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": render_content(answer)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            **_docsagent(answer),
            **_secret(answer),
        }

    def chunk(delta: dict[str, Any], finish: Literal["stop"] | None = None, **extra: Any) -> str:
        return json.dumps(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
        )

    async def stream() -> AsyncIterator[dict[str, str]]:
        yield {"data": chunk({"role": "assistant", "content": ""})}
        async for event, data in answering.events(question, **where):
            if event == "delta":
                yield {"data": chunk({"content": data["text"]})}
            elif event == "done":
                answer = Answer.model_validate(data)
                tail = render_content(answer)[len(answer.answer.strip()) :]
                if tail:
                    yield {"data": chunk({"content": tail})}
                yield {"data": chunk({}, "stop", **_docsagent(answer), **_secret(answer))}
        yield {"data": "[DONE]"}

    return EventSourceResponse(stream(), ping=15)
