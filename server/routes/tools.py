"""The agent's tools for other assistants over plain HTTP, generated from the catalog
(`agent/toolbox`): `GET /v1/tools` lists them as OpenAI function-calling schemas (the same
input schemas as MCP), and `POST /v1/tools/{name}` runs one with JSON arguments.

The body is `{"result": <the tool's data>}`; a generated or rotated key is in the
top-level `secret` field instead (a client shows it to its user and never feeds it to a
model); a change that needs the user's approval is staged, never run by the call:
`pending_action` and `conversation_id` come back, and `result.approve_url` is where the
user approves it in the web chat; calling the tool again with `{"approval_id": <pending
id>}` reports the user's decision (409 while it waits). Errors are the usual JSON error.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request

from agent.limits import MAX_TOOL_NAME_CHARS
from agent.toolbox.catalog import FOR_CLIENTS, client_tool
from server.deps import (
    AnsweringDep,
    InsightsDep,
    MetricsDep,
    OptionalPrincipal,
    ServicesDep,
    SettingsDep,
)
from server.errors import NotFound
from server.routes.ask import base_url
from server.toolhost import ServerHost, run_tool

router = APIRouter(tags=["tools"])


@router.get("/v1/tools")
async def list_tools(_principal: OptionalPrincipal) -> list[dict[str, Any]]:
    """OpenAI function-calling schemas of every tool."""
    return [spec.openai_function() for spec in FOR_CLIENTS]


@router.post("/v1/tools/{name}")
async def call_tool(
    name: Annotated[str, Path(max_length=MAX_TOOL_NAME_CHARS)],
    request: Request,
    settings: SettingsDep,
    services: ServicesDep,
    answering: AnsweringDep,
    insights: InsightsDep,
    metrics: MetricsDep,
    principal: OptionalPrincipal,
    args: dict[str, Any] = Body(default_factory=dict),  # noqa: B008 - FastAPI idiom
) -> dict[str, Any]:
    """Run one tool with JSON arguments; key tools need an API key."""
    spec = client_tool(name)
    if spec is None:
        raise NotFound(f"no tool named {name!r}")
    host = ServerHost(settings, base_url(request, settings), answering, insights)
    result = await run_tool(
        spec,
        args,
        services=services,
        principal=principal,
        channel="rest",
        host=host,
        metrics=metrics,
    )
    body: dict[str, Any] = {"result": result.data}
    if result.secret is not None:
        body["secret"] = result.secret.model_dump()
    if result.pending is not None:
        body["pending_action"] = result.pending.model_dump()
        body["conversation_id"] = result.conversation_id
    return body
