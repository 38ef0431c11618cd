"""The agent's tools for other assistants over plain HTTP: `GET /v1/tools` lists them as
OpenAI function-calling schemas (the same tools and input schemas as the MCP server), and
`POST /v1/tools/{name}` invokes one with JSON arguments.

Destructive tools (rotate, revoke) never execute on a tool call alone: the first call
returns a pending action and a link where the user approves it in the web UI (approving
executes it and shows any new key to the user there). A later call with
`{"approval_id": <pending id>}` reports whether the user approved it. A generated key is
returned in the top-level `secret` field, apart from the model-safe `result`: a client
must show it to its user and not feed it to a model.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Body, Path, Request

from agent import tools as agent_tools
from agent.keys import tools as key_tools
from agent.keys.base import Principal
from agent.limits import MAX_TOOL_NAME_CHARS, TOOL_ARGUMENT_CHARS
from agent.service import AgentServices
from server import markdown as md
from server.deps import AnsweringDep, InsightsDep, OptionalPrincipal, ServicesDep, SettingsDep
from server.errors import BadRequest, Conflict, NotFound, Unauthorized
from server.routes.ask import base_url, page_markdown
from server.routes.feedback import save_feedback
from server.routes.mcp import approve_link

router = APIRouter(tags=["tools"])
KEY_TOOLS = {"list_api_keys", "generate_api_key", "rotate_api_key", "revoke_api_key"}


def _arg(args: dict[str, Any], name: str, *, required: bool = True) -> Any:
    value = args.get(name)
    if required and (value is None or value == ""):
        raise BadRequest(f"missing argument {name!r}")
    if (value is not None and not isinstance(value, str | int)) or isinstance(value, bool):
        raise BadRequest(f"argument {name!r} has the wrong type")
    limit = TOOL_ARGUMENT_CHARS.get(name)
    if isinstance(value, str) and limit is not None and len(value) > limit:
        raise BadRequest(f"argument {name!r} is longer than {limit} characters")
    return value


@router.get("/v1/tools")
async def list_tools(request: Request, _principal: OptionalPrincipal) -> list[dict[str, Any]]:
    """OpenAI function-calling schemas of every tool."""
    tools = await request.app.state.mcp.list_tools()
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description or "",
                "parameters": tool.input_schema,
            },
        }
        for tool in tools
    ]


@router.post("/v1/tools/{name}")
async def call_tool(
    name: Annotated[str, Path(max_length=MAX_TOOL_NAME_CHARS)],
    request: Request,
    settings: SettingsDep,
    services: ServicesDep,
    answering: AnsweringDep,
    insights: InsightsDep,
    principal: OptionalPrincipal,
    args: dict[str, Any] = Body(default_factory=dict),  # noqa: B008 - FastAPI idiom
) -> dict[str, Any]:
    """Invoke one tool with JSON arguments; key tools need an API key."""
    base = base_url(request, settings)
    if name == "searchDocumentation":
        query = str(_arg(args, "query"))
        found = await anyio.to_thread.run_sync(lambda: agent_tools.search_docs(services, query, 5))
        site = settings.site_url
        return {"result": [md.search_hit(f, site, base) for f in found]}
    if name == "getPage":
        url = str(_arg(args, "url"))
        path = url.split("://", 1)[1].partition("/")[2] if "://" in url else url
        text = await anyio.to_thread.run_sync(lambda: page_markdown(settings, services, base, path))
        return {"result": text}
    if name == "askQuestion":
        question, goal = str(_arg(args, "question")), _arg(args, "goal", required=False)
        asked = f"{question.strip()} (goal: {goal})" if goal else question
        answer, turn = await answering.answer_turn(
            asked[: settings.max_question_chars], principal=principal, channel="rest"
        )
        safe = answer.model_dump(exclude={"secret", "conversation_token"})
        return {"result": {**safe, "turn": turn}}
    if name == "sendFeedback":
        rating, turn = _arg(args, "rating"), _arg(args, "turn")
        if rating not in ("up", "down"):
            raise BadRequest("rating must be 'up' or 'down'")
        if not isinstance(turn, int) or not 0 <= turn <= 100_000:
            raise BadRequest("turn must be an integer from 0 to 100000")
        await anyio.to_thread.run_sync(
            lambda: save_feedback(
                insights,
                principal,
                conversation_id=str(_arg(args, "conversation_id")),
                turn=turn,
                rating=str(rating),
                comment=str(_arg(args, "comment", required=False) or "")[:2048],
            )
        )
        return {"result": "recorded"}
    if name in KEY_TOOLS:
        if principal is None:
            raise Unauthorized("key tools need your API key")
        return await _key_tool(name, args, services, principal, base)
    raise NotFound(f"no tool named {name!r}")


async def _key_tool(
    name: str, args: dict[str, Any], services: AgentServices, principal: Principal, base: str
) -> dict[str, Any]:
    if name == "list_api_keys":
        listing = await anyio.to_thread.run_sync(
            lambda: key_tools.list_api_keys(_ctx(services, principal))
        )
        return {"result": listing}
    if name == "generate_api_key":
        key_name = str(_arg(args, "name"))
        created = await anyio.to_thread.run_sync(
            lambda: agent_tools.generate_api_key(services, principal, key_name, channel="rest")
        )
        secret = created.secret
        return {"result": created.answer, "secret": secret.model_dump() if secret else None}
    approval_id = _arg(args, "approval_id", required=False)
    if approval_id:
        pending = await anyio.to_thread.run_sync(lambda: services.approvals.get(str(approval_id)))
        if pending is None or pending.owner != principal.owner or pending.tool != name:
            raise NotFound("no such pending action for you")
        if pending.status == "pending":
            link = approve_link(base, pending.conversation_id, pending.id)
            raise Conflict(f"waiting for the user's approval: {link}")
        return {
            "result": {"status": pending.status, "key_id": pending.key_id, "name": pending.key_name}
        }
    key = str(_arg(args, "key"))
    stage = agent_tools.rotate_api_key if name == "rotate_api_key" else agent_tools.revoke_api_key
    staged = await anyio.to_thread.run_sync(lambda: stage(services, principal, key, channel="rest"))
    if staged.pending_action is None:
        raise NotFound(staged.answer)
    link = approve_link(base, staged.conversation_id, staged.pending_action.id)
    return {
        "result": {
            "status": "pending_approval",
            "approve_url": link,
            "preview": staged.pending_action.preview,
        },
        "pending_action": staged.pending_action.model_dump(),
        "conversation_id": staged.conversation_id,
    }


def _ctx(services: AgentServices, principal: Principal) -> key_tools.KeyToolContext:
    return key_tools.KeyToolContext(
        manager=services.keys, principal=principal, channel="rest", on_secret=lambda _s: None
    )
