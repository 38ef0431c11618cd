"""What a surface provides its tools beyond the agent's services: how docs links and
documents look there, how a question is answered and recorded, where feedback goes, and
where a user approves a staged change. `PlainHost` is LLM mode's: the docs site's own
links, plain markdown, answers without insights; the server has its own
(`server/toolhost.py`: this server's `.md` links, GitBook's page and answer shapes,
answers recorded in insights, the web chat's approval link)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from agent.errors import AgentError
from agent.keys.base import Channel, Principal
from agent.models import Answer

if TYPE_CHECKING:
    from agent.service import AgentServices
    from agent.toolbox.docs import FeedbackArgs


class ToolHost(Protocol):
    def link(self, url: str) -> str:
        """A docs-site URL (with an optional #anchor) as this surface shows it."""
        ...

    def page(self, url: str, title: str, markdown: str) -> str:
        """A page's document, from its markdown (docs-site links in it)."""
        ...

    def missing_page(self, path: str, closest: Sequence[tuple[str, str]]) -> str:
        """What an unknown page path gets: the closest (title, docs-site URL) pages."""
        ...

    def answer(self, question: str, answer: Answer) -> str:
        """An answer as a document: the answer, follow-ups, sources."""
        ...

    async def ask(
        self, question: str, principal: Principal | None, channel: Channel
    ) -> tuple[Answer, int | None]:
        """Answer a question like the chat does; the turn it was recorded as, if it was."""
        ...

    def feedback(self, principal: Principal | None, rating: FeedbackArgs) -> None:
        """Record a rating of a recorded answer (blocking)."""
        ...

    def approve_url(self, conversation_id: str, pending_id: str) -> str | None:
        """Where the user approves a pending action, if this surface has such a place."""
        ...


class PlainHost:
    """The docs site's links and plain markdown; nothing recorded."""

    def __init__(self, services: AgentServices) -> None:
        self.services = services

    def link(self, url: str) -> str:
        return url

    def page(self, url: str, title: str, markdown: str) -> str:
        return markdown

    def missing_page(self, path: str, closest: Sequence[tuple[str, str]]) -> str:
        lines = [f"There is no page at {path}.", *(f"- {t}: {u}" for t, u in closest)]
        return "\n".join(lines)

    def answer(self, question: str, answer: Answer) -> str:
        sources = [f"- {s.title}: {s.url}" for s in answer.sources]
        return "\n".join([answer.answer, *(["", "Sources:", *sources] if sources else [])])

    async def ask(
        self, question: str, principal: Principal | None, channel: Channel
    ) -> tuple[Answer, int | None]:
        from agent.service import answer  # the service builds on the tools

        return await answer(self.services, question, principal=principal, channel=channel), None

    def feedback(self, principal: Principal | None, rating: FeedbackArgs) -> None:
        raise AgentError("feedback is recorded by the server's insights, not here")

    def approve_url(self, conversation_id: str, pending_id: str) -> str | None:
        return None
