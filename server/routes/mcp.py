"""MCP server (Streamable HTTP) at `/mcp` and at `/~gitbook/mcp` (where GitBook serves
its own, so clients configured for a GitBook site work unchanged): every tool of the
catalog (`agent/toolbox`) with its description, its input schema (parameter descriptions
and limits), its annotations; each call is `registry.invoke`, like `/v1/tools` and LLM
mode, and a failure is a tool result with `isError` and our message (the one mapping of
`server/errors.py`).

Authentication: the same API key headers as every route, verified per tool call.
Approval of a change (rotate, revoke) is enforced here, never by the model: with a client
that supports elicitation the user is asked to accept or decline the staged change;
without, the tool result says where the user approves it in the web UI.

What the MCP client sees of a secret: a generated or rotated key is shown to the client's
user in an elicitation dialog (whose reply comes back to this server, not to the model);
the tool result carries only id, name and masked key. A client without elicitation gets
the secret in a separate content block annotated `audience: ["user"]`, the protocol's way
to say "show to the user, not to the model" (a client that ignores the annotation would
pass it on). Rotations without elicitation run in the web UI, whose pop-up shows the key.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import Annotations, CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from agent.errors import AgentError
from agent.keys.base import Principal
from agent.models import NewSecret
from agent.toolbox.catalog import FOR_CLIENTS
from agent.toolbox.registry import ToolResult, ToolSpec
from ingest.errors import IngestError
from server import version
from server.auth import optional_principal
from server.config import Settings
from server.errors import ServerError, to_server_error
from server.routes.ask import base_url
from server.toolhost import ServerHost, run_tool

log = logging.getLogger("docsagent.mcp")
PATHS = ("/mcp", "/~gitbook/mcp")


class Confirm(BaseModel):
    confirm: bool = Field(description="Yes, go ahead")


class Acknowledge(BaseModel):
    copied: bool = Field(default=True, description="I have copied the key")


class _Arguments(ArgModelBase):
    """Takes the arguments as they came: the registry checks them, so a bad argument gets
    the same message here as on every other surface."""

    model_config = ConfigDict(extra="allow")

    def model_dump_one_level(self) -> dict[str, Any]:
        return {"arguments": dict(self.model_extra or {})}


def _text(text: str, *, for_user: bool = False) -> TextContent:
    annotations = Annotations(audience=["user"]) if for_user else None
    return TextContent(type="text", text=text, annotations=annotations)


class McpTools:
    """Runs catalog tools for MCP requests; state (services, answering, limiter) comes
    from the app."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.app, self.settings = app, settings

    def _base(self, ctx: Context) -> str:
        request = ctx.request_context.request
        if request is None:
            return self.settings.public_url.rstrip("/")
        return base_url(request, self.settings)  # never the Host header

    async def call(self, spec: ToolSpec, arguments: dict[str, Any], ctx: Context) -> CallToolResult:
        state = self.app.state
        request = ctx.request_context.request
        client = request.client.host if request is not None and request.client else "unknown"
        try:
            principal = await optional_principal(
                ctx.headers or {},
                keys=state.services.keys,
                settings=self.settings,
                limiter=state.limiter,
                client=client,
                required=False,
            )
            host = ServerHost(self.settings, self._base(ctx), state.answering, state.insights)
            result = await run_tool(
                spec,
                arguments,
                services=state.services,
                principal=principal,
                channel="mcp",
                host=host,
                metrics=state.metrics,
            )
            if result.pending is not None and self._can_elicit(ctx):
                assert principal is not None  # only a signed-in caller's change is staged
                result = await self._confirm(result, principal, ctx)
            return await self._deliver(result, ctx)
        except (ServerError, AgentError, IngestError) as exc:  # ours: the caller reads why
            error = to_server_error(exc)
            # one line, no traceback: an anticipated failure, not a crash
            log.warning("MCP tool %s failed: %s (%s)", spec.name, error.message, error.code)
            return CallToolResult(content=[_text(error.message)], is_error=True)

    @staticmethod
    def _can_elicit(ctx: Context) -> bool:
        caps = ctx.client_capabilities
        return caps is not None and caps.elicitation is not None

    async def _confirm(self, staged: ToolResult, principal: Principal, ctx: Context) -> ToolResult:
        """Ask the user to accept or decline the staged change, then decide it."""
        pending, conversation = staged.pending, staged.conversation_id
        assert pending is not None and conversation is not None
        reply = await ctx.elicit(f"{pending.preview}\n\nDo you want to go ahead?", Confirm)
        approved = reply.action == "accept" and bool(getattr(reply.data, "confirm", False))
        answer = await self.app.state.answering.decide(
            conversation, pending.id, approve=approved, principal=principal, channel="mcp"
        )
        text = answer.answer if approved else f"Declined by the user. {answer.answer}"
        return ToolResult({"approved": approved, "answer": answer.answer}, text, answer.secret)

    async def _deliver(self, result: ToolResult, ctx: Context) -> CallToolResult:
        """The result for the model; a new secret for the user alone (module docstring)."""
        secret: NewSecret | None = result.secret
        if secret is None:
            return CallToolResult(content=[_text(result.rendered)])
        shown = f"Your API key '{secret.name}' (shown only this once"
        if self._can_elicit(ctx):
            await ctx.elicit(f"{shown}, copy it now):\n\n{secret.api_key}", Acknowledge)
            note = "The full key was shown to the user once; it is not here."
            return CallToolResult(content=[_text(f"{result.rendered}\n{note}")])
        block = _text(f"{shown}): {secret.api_key}", for_user=True)
        return CallToolResult(content=[_text(result.rendered), block])


def _annotations(spec: ToolSpec) -> ToolAnnotations:
    return ToolAnnotations(
        read_only_hint=spec.read_only,
        destructive_hint=spec.destructive,
        idempotent_hint=spec.idempotent,
        open_world_hint=spec.open_world,
    )


def _mcp_tool(spec: ToolSpec, tools: McpTools) -> Tool:
    async def run(arguments: dict[str, Any], ctx: Context) -> CallToolResult:
        return await tools.call(spec, arguments, ctx)

    return Tool(
        fn=run,
        name=spec.name,
        description=spec.description,
        parameters=spec.input_schema,
        fn_metadata=FuncMetadata(arg_model=_Arguments),
        is_async=True,
        context_kwarg="ctx",
        annotations=_annotations(spec),
    )


def build_server(app: FastAPI, settings: Settings) -> MCPServer:
    """The MCP server with every client tool of the catalog."""
    tools = McpTools(app, settings)
    return MCPServer(
        name="docsagent",
        version=version(),
        instructions="Search and ask this documentation; manage your API keys (needs a key).",
        tools=[_mcp_tool(spec, tools) for spec in FOR_CLIENTS],
    )


class _Endpoint:
    """ASGI endpoint handing MCP requests to the session manager."""

    def __init__(self, server: MCPServer) -> None:
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.server.session_manager.handle_request(scope, receive, send)


def mount(app: FastAPI, settings: Settings) -> None:
    """Build the MCP server, keep it on app.state.mcp and route both MCP paths to it."""
    server = build_server(app, settings)
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    if settings.public_url:
        public = urlsplit(settings.public_url)
        hosts.append(public.netloc)
        origins.append(f"{public.scheme}://{public.netloc}")
    server.streamable_http_app(
        streamable_http_path=PATHS[0],
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
        ),
    )
    app.state.mcp = server
    endpoint = _Endpoint(server)
    for path in PATHS:
        app.router.routes.append(
            Route(
                path, endpoint=endpoint, methods=["GET", "POST", "DELETE"], include_in_schema=False
            )
        )
