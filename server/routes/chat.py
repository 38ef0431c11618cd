"""Chat: `POST /v1/chat` (JSON, or SSE with `Accept: text/event-stream`), approvals of
pending key actions, `GET /v1/conversations/{id}` (its owner; an anonymous one with its
token) and `POST /v1/conversations/{id}/claim` (signing in keeps an anonymous
conversation whose token the tab holds)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sse_starlette import EventSourceResponse

from agent.errors import AgentError
from agent.limits import MAX_ID_CHARS
from agent.models import Answer
from agent.service import events_of
from ingest.errors import IngestError
from server.answering import Answering
from server.deps import AnsweringDep, ConversationToken, CurrentPrincipal, OptionalPrincipal
from server.errors import ServerError, Unauthorized, error_body, to_server_error

router = APIRouter(tags=["chat"])


class ChatRequest(BaseModel):
    """A question, or a decision on a pending action of the conversation: exactly one of
    `message`, `approve` or `reject` (the last two with the `conversation_id`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["message"],
                    "properties": {"message": {"type": "string", "maxLength": 20_000}},
                },
                {
                    "required": ["approve", "conversation_id"],
                    "properties": {
                        "approve": {"type": "string", "maxLength": 64},
                        "conversation_id": {"type": "string", "minLength": 1, "maxLength": 64},
                    },
                },
                {
                    "required": ["reject", "conversation_id"],
                    "properties": {
                        "reject": {"type": "string", "maxLength": 64},
                        "conversation_id": {"type": "string", "minLength": 1, "maxLength": 64},
                    },
                },
            ]
        }
    )

    message: str | None = Field(None, max_length=20_000, description="The question.")
    conversation_id: str | None = Field(
        None, max_length=64, description="Continue this conversation (an id the server returned)."
    )
    conversation_token: str | None = Field(
        None,
        max_length=64,
        description="The token an anonymous conversation was created with (needed to continue it).",
    )
    approve: str | None = Field(None, max_length=64, description="Pending action id to approve.")
    reject: str | None = Field(None, max_length=64, description="Pending action id to reject.")

    @model_validator(mode="after")
    def _one_intent(self) -> ChatRequest:
        given = [v for v in (self.message, self.approve, self.reject) if v is not None]
        if len(given) != 1:
            raise ValueError("send exactly one of 'message', 'approve' or 'reject'")
        deciding = self.approve is not None or self.reject is not None
        if deciding and not self.conversation_id:
            raise ValueError("'approve' and 'reject' need the 'conversation_id'")
        return self


class ConversationOut(BaseModel):
    id: str
    turns: list[dict[str, Any]]


def _wants_sse(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


async def _sse(
    request: Request, events: AsyncIterator[tuple[str, Any]]
) -> AsyncIterator[dict[str, str]]:
    request_id = getattr(request.state, "request_id", "")
    try:
        async for event, data in events:
            yield {"event": event, "data": json.dumps(jsonable_encoder(data))}
    except (AgentError, IngestError, ServerError) as exc:
        error = to_server_error(exc)
        yield {"event": "error", "data": json.dumps(error_body(error, request_id))}


@router.post("/v1/chat", response_model=Answer)
async def chat(
    body: ChatRequest, request: Request, answering: AnsweringDep, principal: OptionalPrincipal
) -> Any:
    """Answer a question (JSON, or SSE events delta/sources/pending_action/secret/done)."""
    if body.message is not None:
        where: dict[str, Any] = {
            "conversation_id": body.conversation_id,
            "conversation_token": body.conversation_token,
            "principal": principal,
        }
        if _wants_sse(request):
            stream = answering.events(body.message, **where)
            return EventSourceResponse(_sse(request, stream), ping=15)
        return await answering.answer(body.message, **where)
    if principal is None:
        raise Unauthorized("approving or rejecting a key action needs your API key")
    assert body.conversation_id is not None
    pending_id = body.approve or body.reject or ""
    if _wants_sse(request):
        return EventSourceResponse(
            _sse(request, _decide_stream(answering, body, pending_id, principal)), ping=15
        )
    return await answering.decide(
        body.conversation_id, pending_id, approve=body.approve is not None, principal=principal
    )


async def _decide_stream(
    answering: Answering, body: ChatRequest, pending_id: str, principal: Any
) -> AsyncIterator[tuple[str, Any]]:
    assert body.conversation_id is not None
    answer = await answering.decide(
        body.conversation_id, pending_id, approve=body.approve is not None, principal=principal
    )
    async for item in events_of(answer):
        yield item


ConversationId = Annotated[str, Path(max_length=MAX_ID_CHARS)]


@router.get("/v1/conversations/{conversation_id}", response_model=ConversationOut)
async def conversation(
    conversation_id: ConversationId,
    answering: AnsweringDep,
    principal: OptionalPrincipal,
    token: ConversationToken = None,
) -> ConversationOut:
    """A conversation's turns (secrets never stored): only to its owner, or for an
    anonymous conversation to whoever holds the token it was created with."""
    turns = await answering.history(conversation_id, principal, token)
    return ConversationOut(id=conversation_id, turns=turns)


@router.post("/v1/conversations/{conversation_id}/claim", response_model=ConversationOut)
async def claim_conversation(
    conversation_id: ConversationId,
    answering: AnsweringDep,
    principal: CurrentPrincipal,
    token: ConversationToken = None,
) -> ConversationOut:
    """Keep the conversation a tab started signed out when its user signs in: with the
    anonymous conversation's token it becomes theirs (404 without it, for an unknown id or
    someone else's conversation); returns its turns."""
    await answering.claim(conversation_id, principal, token)
    turns = await answering.history(conversation_id, principal)
    return ConversationOut(id=conversation_id, turns=turns)
