"""MCP server (Streamable HTTP) at `/mcp`: GitBook's tools `searchDocumentation`, `getPage`,
`askQuestion`, `sendFeedback`, plus the key tools, each with MCP tool annotations.

Authentication: the same API key headers as every route, verified per tool call.
Confirmation of rotate/revoke is enforced here, never by the model: with a client that
supports elicitation the user is asked to accept or decline; without, the tool stages a
pending action and returns a link to approve it in the web UI.

What the MCP client sees of a secret: a generated or rotated key is shown to the client's
user in an elicitation dialog (whose reply comes back to this server, not to the model);
the tool result carries only id, name and masked key. A client without elicitation gets
the secret in a separate content block annotated `audience: ["user"]`, the protocol's way
to say "show to the user, not to the model" (a client that ignores the annotation would
pass it on). Rotations without elicitation run in the web UI, whose pop-up shows the key.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlencode, urlsplit

import anyio
from fastapi import FastAPI
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import Annotations, CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from agent import tools as agent_tools
from agent.errors import AgentError
from agent.keys.base import Principal
from agent.limits import (
    MAX_COMMENT_CHARS,
    MAX_ID_CHARS,
    MAX_KEY_REF_CHARS,
    MAX_NAME_CHARS,
    MAX_QUESTION_CHARS,
    MAX_URL_CHARS,
)
from agent.models import NewSecret
from agent.redact import redact
from ingest.errors import IngestError
from server import markdown as md
from server.auth import optional_principal
from server.config import Settings
from server.errors import ServerError
from server.problems import to_server_error
from server.routes.ask import base_url, page_markdown
from server.routes.feedback import save_feedback

log = logging.getLogger("docsagent.mcp")
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
ASK = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)
WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
DESTRUCTIVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)


# argument types with their length limits (the SDK builds the input schema from them)
Query = Annotated[str, Field(max_length=MAX_QUESTION_CHARS)]
Url = Annotated[str, Field(max_length=MAX_URL_CHARS)]
Id = Annotated[str, Field(max_length=MAX_ID_CHARS)]
KeyName = Annotated[str, Field(max_length=MAX_NAME_CHARS)]
KeyRef = Annotated[str, Field(max_length=MAX_KEY_REF_CHARS)]


def approve_link(base: str, conversation_id: str, pending_id: str) -> str:
    """Where the user approves a pending action in the web UI."""
    return f"{base}/?{urlencode({'conversation': conversation_id, 'approve': pending_id})}"


class Confirm(BaseModel):
    confirm: bool = Field(description="Yes, go ahead")


class Acknowledge(BaseModel):
    copied: bool = Field(default=True, description="I have copied the key")


def _text(text: str) -> TextContent:
    return TextContent(type="text", text=text)


class McpTools:
    """The tool functions; state (services, answering, limiter) comes from the app."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.app, self.settings = app, settings

    def _request(self, ctx: Context) -> Any:
        return ctx.request_context.request

    def base(self, ctx: Context) -> str:
        request = self._request(ctx)
        if request is None:
            return self.settings.public_url.rstrip("/")
        return base_url(request, self.settings)

    async def principal(self, ctx: Context, *, required: bool) -> Principal | None:
        state = self.app.state
        request = self._request(ctx)
        client = request.client.host if request is not None and request.client else "unknown"
        return await optional_principal(
            ctx.headers or {},
            keys=state.services.keys,
            settings=self.settings,
            limiter=state.limiter,
            client=client,
            required=required,
        )

    async def user(self, ctx: Context) -> Principal:
        principal = await self.principal(ctx, required=True)
        assert principal is not None
        return principal

    @staticmethod
    def can_elicit(ctx: Context) -> bool:
        caps = ctx.client_capabilities
        return caps is not None and caps.elicitation is not None

    async def show_secret(self, ctx: Context, secret: NewSecret, summary: str) -> CallToolResult:
        """Hand a secret to the user, out of the model's way (see the module docstring)."""
        if self.can_elicit(ctx):
            await ctx.elicit(
                f"Your API key '{secret.name}' (shown only this once, copy it now):\n\n"
                f"{secret.api_key}",
                Acknowledge,
            )
            return CallToolResult(
                content=[
                    _text(f"{summary} The full key was shown to the user once; it is not here.")
                ]
            )
        block = TextContent(
            type="text",
            text=f"Your API key '{secret.name}' (shown only this once): {secret.api_key}",
            annotations=Annotations(audience=["user"]),
        )
        return CallToolResult(content=[_text(summary), block])

    # --- docs tools (GitBook-compatible) ---
    async def search_documentation(self, query: Query, ctx: Context) -> list[dict[str, str]]:
        """Search the documentation; returns matching sections with links and excerpts."""
        await self.principal(ctx, required=False)
        base, site = self.base(ctx), self.settings.site_url
        services = self.app.state.services
        found = await anyio.to_thread.run_sync(lambda: agent_tools.search_docs(services, query, 5))
        return [md.search_hit(item, site, base) for item in found]

    async def get_page(self, url: Url, ctx: Context) -> str:
        """The markdown of a documentation page (page URL or its `.md` URL)."""
        await self.principal(ctx, required=False)
        path = urlsplit(url).path if "://" in url else url
        base = self.base(ctx)
        return await anyio.to_thread.run_sync(
            lambda: page_markdown(self.settings, self.app.state.services, base, path)
        )

    async def ask_question(self, question: Query, ctx: Context, goal: Query | None = None) -> str:
        """Ask the documentation a question in natural language; answer with sources."""
        principal = await self.principal(ctx, required=False)
        asked = f"{question.strip()} (goal: {goal.strip()})" if goal and goal.strip() else question
        answer, turn = await self.app.state.answering.answer_turn(
            asked[: self.settings.max_question_chars], principal=principal, channel="mcp"
        )
        base = self.base(ctx)
        text = md.ask_document(
            redact(question, (self.settings.key_prefix,)),
            answer,
            md_url=f"{base}/llms.txt",
            site_url=self.settings.site_url,
            base=base,
        )
        ids = f"conversation_id: {answer.conversation_id}, turn: {turn}"
        return f"{text}\n({ids} — for sendFeedback)\n"

    async def send_feedback(
        self,
        conversation_id: Id,
        turn: Annotated[int, Field(ge=0, le=100_000)],
        rating: Literal["up", "down"],
        ctx: Context,
        comment: Annotated[str, Field(max_length=MAX_COMMENT_CHARS)] = "",
    ) -> str:
        """Rate an answer of askQuestion up or down, with an optional comment."""
        principal = await self.principal(ctx, required=False)
        await anyio.to_thread.run_sync(
            lambda: save_feedback(
                self.app.state.insights,
                principal,
                conversation_id=conversation_id,
                turn=turn,
                rating=rating,
                comment=comment[:2048],
            )
        )
        return "Thanks, your feedback was recorded."

    # --- key tools (agent/tools.py; rotate/revoke staged, then decided by the user) ---
    async def list_api_keys(self, ctx: Context) -> str:
        """List your API keys (names, ids, masked keys)."""
        principal = await self.user(ctx)
        services = self.app.state.services
        answer = await anyio.to_thread.run_sync(
            lambda: agent_tools.list_api_keys(services, principal)
        )
        return answer.answer

    async def generate_api_key(self, name: KeyName, ctx: Context) -> CallToolResult:
        """Generate a new API key with this name; the full key is shown to you once."""
        principal = await self.user(ctx)
        services = self.app.state.services
        answer = await anyio.to_thread.run_sync(
            lambda: agent_tools.generate_api_key(services, principal, name, channel="mcp")
        )
        if answer.secret is None:
            return CallToolResult(content=[_text(answer.answer)], is_error=True)
        self.app.state.metrics.key_events.labels("created", "mcp").inc()
        summary = f"Created the key '{answer.secret.name}' (id {answer.secret.key_id})."
        return await self.show_secret(ctx, answer.secret, summary)

    async def _destructive(self, verb: str, key: str, ctx: Context) -> CallToolResult:
        principal = await self.user(ctx)
        services = self.app.state.services
        stage = agent_tools.rotate_api_key if verb == "rotate" else agent_tools.revoke_api_key
        staged = await anyio.to_thread.run_sync(
            lambda: stage(services, principal, key, channel="mcp")
        )
        pending = staged.pending_action
        if pending is None:  # unknown or ambiguous key: the answer says which keys exist
            return CallToolResult(content=[_text(staged.answer)], is_error=True)
        if not self.can_elicit(ctx):
            link = approve_link(self.base(ctx), staged.conversation_id, pending.id)
            return CallToolResult(
                content=[
                    _text(
                        f"Nothing changed yet. {pending.preview}\nThe user must approve this "
                        f"pending action ({pending.id}) in the web UI: {link}"
                    )
                ]
            )
        reply = await ctx.elicit(f"{pending.preview}\n\nDo you want to go ahead?", Confirm)
        approved = reply.action == "accept" and bool(getattr(reply.data, "confirm", False))
        answer = await self.app.state.answering.decide(
            staged.conversation_id, pending.id, approve=approved, principal=principal, channel="mcp"
        )
        if not approved:
            return CallToolResult(content=[_text(f"Declined by the user. {answer.answer}")])
        self.app.state.metrics.key_events.labels(f"{verb}d", "mcp").inc()
        if answer.secret is not None:
            summary = f"Rotated the key '{answer.secret.name}': the old key no longer works."
            return await self.show_secret(ctx, answer.secret, summary)
        return CallToolResult(content=[_text(answer.answer)])

    async def rotate_api_key(self, key: KeyRef, ctx: Context) -> CallToolResult:
        """Rotate one of your keys (id or name): the old one stops working. Asks the user first."""
        return await self._destructive("rotate", key, ctx)

    async def revoke_api_key(self, key: KeyRef, ctx: Context) -> CallToolResult:
        """Revoke one of your keys (id or name) for good. Needs the user's confirmation."""
        return await self._destructive("revoke", key, ctx)


def our_errors(name: str, tool: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """`tool` with our errors as MCP tool errors: the client gets our message with
    `isError` (the SDK would show only "Error executing tool …" and log a traceback),
    and the server logs one WARNING line without one."""

    @functools.wraps(tool)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await tool(*args, **kwargs)
        except (ServerError, AgentError, IngestError) as exc:
            error = to_server_error(exc)
            log.warning("MCP tool %s failed: %s (%s)", name, error.message, error.code)
            raise ToolError(error.message) from exc

    return wrapper


def build_server(app: FastAPI, settings: Settings) -> MCPServer:
    """The MCP server with every tool registered and annotated."""
    server: MCPServer = MCPServer(
        name="docsagent",
        instructions="Search and ask this documentation; manage your API keys (needs a key).",
    )
    t = McpTools(app, settings)
    for name, tool, hints in (
        ("searchDocumentation", t.search_documentation, READ_ONLY),
        ("getPage", t.get_page, READ_ONLY),
        ("askQuestion", t.ask_question, ASK),
        ("sendFeedback", t.send_feedback, WRITE),
        ("list_api_keys", t.list_api_keys, READ_ONLY),
        ("generate_api_key", t.generate_api_key, WRITE),
        ("rotate_api_key", t.rotate_api_key, DESTRUCTIVE),
        ("revoke_api_key", t.revoke_api_key, DESTRUCTIVE),
    ):
        server.add_tool(our_errors(name, tool), name=name, annotations=hints)
    return server


class _Endpoint:
    """ASGI endpoint handing `/mcp` requests to the session manager."""

    def __init__(self, server: MCPServer) -> None:
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.server.session_manager.handle_request(scope, receive, send)


def mount(app: FastAPI, settings: Settings) -> None:
    """Build the MCP server, keep it on app.state.mcp and route `/mcp` to it."""
    server = build_server(app, settings)
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    if settings.public_url:
        public = urlsplit(settings.public_url)
        hosts.append(public.netloc)
        origins.append(f"{public.scheme}://{public.netloc}")
    server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
        ),
    )
    app.state.mcp = server
    app.router.routes.append(
        Route(
            "/mcp",
            endpoint=_Endpoint(server),
            methods=["GET", "POST", "DELETE"],
            include_in_schema=False,
        )
    )
