"""The server's side of a tool call (`agent.toolbox.host.ToolHost`), the same for
`/v1/tools` and MCP: docs links point at this server's `.md` pages, pages and answers come
in GitBook's shapes, questions are answered through `Answering` (recorded in insights, so
they can be rated), feedback goes to insights, and a staged change is approved in the
web chat. `run_tool` is how both surfaces run a tool."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode, urlsplit

from agent.insights import InsightsStore
from agent.keys.base import Channel, Principal
from agent.models import Answer
from agent.service import AgentServices
from agent.toolbox.docs import FeedbackArgs
from agent.toolbox.registry import ToolCall, ToolResult, ToolSpec, invoke
from server import markdown as md
from server.answering import Answering
from server.config import Settings
from server.metrics import Metrics


def approve_link(base: str, conversation_id: str, pending_id: str) -> str:
    """Where the user approves a pending action in the web UI."""
    return f"{base}/?{urlencode({'conversation': conversation_id, 'approve': pending_id})}"


class ServerHost:
    """`ToolHost` for requests to this server at `base` (its public URL)."""

    def __init__(
        self,
        settings: Settings,
        base: str,
        answering: Answering | None = None,
        insights: InsightsStore | None = None,
    ) -> None:
        self.settings, self.base = settings, base.rstrip("/")
        self.answering, self.insights = answering, insights

    def link(self, url: str) -> str:
        return md.local_md_url(url, self.settings.site_url, self.base)

    def page(self, url: str, title: str, markdown: str) -> str:
        md_url = f"{self.base}{urlsplit(url).path}.md"
        return md.page_document(
            markdown, md_url=md_url, site_url=self.settings.site_url, base=self.base
        )

    def missing_page(self, path: str, closest: Sequence[tuple[str, str]]) -> str:
        near = [(title, self.link(url)) for title, url in closest]
        return md.not_found_document(f"{path}.md", near, self.base)

    def answer(self, question: str, answer: Answer) -> str:
        return md.ask_document(
            question,
            answer,
            md_url=f"{self.base}/llms.txt",
            site_url=self.settings.site_url,
            base=self.base,
        )

    async def ask(
        self, question: str, principal: Principal | None, channel: Channel
    ) -> tuple[Answer, int | None]:
        assert self.answering is not None, "a host for questions needs Answering"
        return await self.answering.answer_turn(question, principal=principal, channel=channel)

    def feedback(self, principal: Principal | None, rating: FeedbackArgs) -> None:
        assert self.insights is not None, "a host for feedback needs the insights store"
        self.insights.rate(
            principal.owner if principal else None,
            conversation_id=rating.conversation_id,
            turn=rating.turn,
            rating=rating.rating,
            comment=rating.comment,
        )

    def approve_url(self, conversation_id: str, pending_id: str) -> str | None:
        return approve_link(self.base, conversation_id, pending_id)


async def run_tool(
    spec: ToolSpec,
    arguments: object,
    *,
    services: AgentServices,
    principal: Principal | None,
    channel: Channel,
    host: ServerHost,
    metrics: Metrics,
) -> ToolResult:
    """A client's tool call (REST, MCP): `registry.invoke`, a change without approval
    staged for the user; a new secret counted (it goes to the user alone, once)."""
    call = ToolCall(services, principal, channel, host, unapproved="stage")
    result = await invoke(spec, call, arguments)
    if result.secret is not None:
        metrics.key_events.labels("secret_issued", channel).inc()
    return result
