"""The server's one path to the agent: every surface (chat, SSE, OpenAI-compatible,
`?ask=`, tools, MCP) calls `Answering`, which calls `agent.service` and records each
answered turn in insights and metrics. Nothing here sees a secret except `Answer.secret`,
which is passed through to the caller and never recorded.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, TypedDict, Unpack

import anyio

from agent import service
from agent.insights import InsightsStore
from agent.keys.base import Channel, Principal
from agent.models import Answer
from server.metrics import Metrics


class Where(TypedDict, total=False):
    """Whose question it is and the conversation it goes to (`agent.service.answer`'s
    keyword arguments)."""

    conversation_id: str | None
    principal: Principal | None
    channel: Channel
    conversation_token: str | None
    start_if_unknown: bool
    by_history: bool


class Answering:
    """answer / answer_stream / answer_events / decide / history, timed and recorded."""

    def __init__(
        self, services: service.AgentServices, insights: InsightsStore, metrics: Metrics
    ) -> None:
        self.services = services
        self.insights = insights
        self.metrics = metrics

    async def _record(
        self,
        question: str,
        answer: Answer,
        started: float,
        principal: Principal | None,
        channel: str,
    ) -> int:
        latency_ms = (time.perf_counter() - started) * 1000
        self.metrics.answers.labels(answer.mode, channel).inc()
        if answer.secret is not None:
            self.metrics.key_events.labels("secret_issued", channel).inc()
        return await anyio.to_thread.run_sync(
            lambda: self.insights.record(
                question=question,
                mode=answer.mode,
                sources=[(s.title, s.url) for s in answer.sources],
                latency_ms=latency_ms,
                conversation_id=answer.conversation_id or "",
                owner=principal.owner if principal else None,
                channel=channel,
            )
        )

    async def answer(self, question: str, **where: Unpack[Where]) -> Answer:
        """Answer one question (the agent's `answer`), then record it."""
        result, _turn = await self.answer_turn(question, **where)
        return result

    async def answer_turn(self, question: str, **where: Unpack[Where]) -> tuple[Answer, int]:
        """`answer`, plus the 0-based turn the answer was recorded as (for feedback)."""
        started = time.perf_counter()
        result = await service.answer(self.services, question, **where)
        principal, channel = where.get("principal"), where.get("channel", "chat")
        turn = await self._record(question, result, started, principal, channel)
        return result, turn

    async def stream(
        self, question: str, **where: Unpack[Where]
    ) -> AsyncGenerator[str | Answer, None]:
        """The agent's `answer_stream`: the model's text as it is written, then the Answer
        (recorded). Closing it cancels the answer and the generation."""
        started = time.perf_counter()
        principal, channel = where.get("principal"), where.get("channel", "chat")
        async with aclosing(service.answer_stream(self.services, question, **where)) as items:
            async for item in items:
                if isinstance(item, Answer):
                    await self._record(question, item, started, principal, channel)
                yield item

    async def events(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        principal: Principal | None = None,
        channel: Channel = "chat",
        conversation_token: str | None = None,
    ) -> AsyncIterator[tuple[str, Any]]:
        """The agent's event stream; the final `done` event is recorded."""
        started = time.perf_counter()
        stream = service.answer_events(
            self.services,
            question,
            conversation_id=conversation_id,
            principal=principal,
            channel=channel,
            conversation_token=conversation_token,
        )
        async for event, data in stream:
            if event == "done":
                await self._record(
                    question, Answer.model_validate(data), started, principal, channel
                )
            yield event, data

    async def decide(
        self,
        conversation_id: str,
        pending_id: str,
        *,
        approve: bool,
        principal: Principal,
        channel: Channel = "chat",
    ) -> Answer:
        """Approve or reject a pending key action; recorded as a turn without arguments."""
        started = time.perf_counter()
        result = await service.decide(
            self.services,
            conversation_id,
            pending_id,
            approve=approve,
            principal=principal,
            channel=channel,
        )
        if approve and result.mode == "action":
            self.metrics.key_events.labels("approved", channel).inc()
        label = "approve pending key action" if approve else "reject pending key action"
        await self._record(label, result, started, principal, channel)
        return result

    async def claim(
        self, conversation_id: str, principal: Principal, token: str | None = None
    ) -> None:
        """Continue a conversation started signed out as the signed-in `principal`'s."""
        await anyio.to_thread.run_sync(
            lambda: service.claim(self.services, conversation_id, principal, token)
        )

    async def history(
        self, conversation_id: str, principal: Principal | None, token: str | None = None
    ) -> list[dict[str, Any]]:
        """A conversation's turns (the agent enforces ownership / the anonymous token)."""
        return await anyio.to_thread.run_sync(
            lambda: service.history(self.services, conversation_id, principal, token)
        )
