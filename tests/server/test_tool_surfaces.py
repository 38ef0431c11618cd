"""Every tool of the catalog walked through each surface it is offered on: the LangChain
tools of LLM mode, `GET/POST /v1/tools`, and MCP through the real `mcp` client at both
`/mcp` and `/~gitbook/mcp` (a real uvicorn server on loopback). Each surface lists it with
the same description, input schema (parameter descriptions and limits) and annotations,
and answers the same bad arguments, the same missing key and the same unapproved change
with the same message; no surface runs a change the user did not approve."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from langchain_core.messages import ToolMessage
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from agent.keys.base import Principal
from agent.service import AgentServices
from agent.toolbox.catalog import TOOLS
from agent.toolbox.host import PlainHost
from agent.toolbox.langchain import langchain_tools
from agent.toolbox.registry import ToolCall, ToolSpec
from server import version
from server.config import Settings
from server.routes.mcp import PATHS
from tests.server.conftest import LiveServer, User, new_user, serving

pytestmark = pytest.mark.e2e
NAMES = [spec.name for spec in TOOLS]
SITE = "https://docs.nexos.ai"


@pytest.fixture(scope="module")
def server(shared: tuple[Settings, AgentServices]) -> Iterator[LiveServer]:
    """One real server for the module's walks (the session's services)."""
    with serving(*shared) as live:
        yield live


@asynccontextmanager
async def mcp_session(url: str, path: str, key: str | None) -> AsyncIterator[Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with streamable_http_client(f"{url}{path}", http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                yield session, await session.initialize()


def mcp_text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


class Surfaces:
    """One tool called the same way on every surface it is offered on."""

    def __init__(self, server: LiveServer, spec: ToolSpec, user: User | None) -> None:
        self.server, self.spec, self.user = server, spec, user

    async def rest(self, arguments: dict[str, Any]) -> tuple[bool, str, Any]:
        headers = self.user.headers if self.user else {}
        async with httpx.AsyncClient(base_url=self.server.url, timeout=30) as client:
            response = await client.post(
                f"/v1/tools/{self.spec.name}", json=arguments, headers=headers
            )
        body = response.json()
        if response.status_code >= 400:
            return True, body["error"]["message"], body
        return False, "", body

    async def mcp(self, path: str, arguments: dict[str, Any]) -> tuple[bool, str, Any]:
        key = self.user.secret if self.user else None
        async with mcp_session(self.server.url, path, key) as (session, _):
            result = await session.call_tool(self.spec.name, arguments)
        return bool(result.is_error), mcp_text(result), result

    async def model(self, arguments: dict[str, Any]) -> tuple[bool, str, Any]:
        services = self.server.app.state.services
        who = Principal(self.user.owner, self.user.key_id) if self.user else None
        call = ToolCall(services, who, "chat", PlainHost(services), unapproved="refuse")
        [tool] = [t for t in langchain_tools(call, lambda *_: None) if t.name == self.spec.name]
        message = await tool.ainvoke(
            {"type": "tool_call", "name": tool.name, "args": arguments, "id": "t1"}
        )
        assert isinstance(message, ToolMessage)
        return message.status == "error", str(message.content), message

    async def everywhere(self, arguments: dict[str, Any]) -> dict[str, tuple[bool, str, Any]]:
        out: dict[str, tuple[bool, str, Any]] = {}
        if self.spec.for_clients:
            out["rest"] = await self.rest(arguments)
            for path in PATHS:
                out[path] = await self.mcp(path, arguments)
        if self.spec.for_model:
            out["model"] = await self.model(arguments)
        return out


@pytest.mark.parametrize("path", PATHS)
async def test_mcp_lists_every_client_tool_as_the_registry_defines_it(
    server: LiveServer, path: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        schemas = (await client.get("/v1/tools")).json()
    listed = {t["function"]["name"]: t["function"] for t in schemas}
    async with mcp_session(server.url, path, None) as (session, initialized):
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert initialized.server_info.version == version() and version()
    clients = [spec for spec in TOOLS if spec.for_clients]
    assert list(tools) == list(listed) == [spec.name for spec in clients]
    for spec in clients:
        mcp_tool, rest_tool = tools[spec.name], listed[spec.name]
        assert mcp_tool.description == rest_tool["description"] == spec.description
        assert mcp_tool.input_schema == rest_tool["parameters"] == spec.input_schema
        for name, prop in mcp_tool.input_schema.get("properties", {}).items():
            assert prop["description"], f"{spec.name}.{name} has no description"
        hints = mcp_tool.annotations
        assert hints is not None
        assert (hints.read_only_hint, hints.destructive_hint) == (spec.read_only, spec.destructive)
        assert (hints.idempotent_hint, hints.open_world_hint) == (spec.idempotent, spec.open_world)


def test_the_model_gets_the_same_schemas() -> None:
    services: Any = None
    call = ToolCall(services, None, "chat", PlainHost(services))
    tools = {tool.name: tool for tool in langchain_tools(call, lambda *_: None)}
    model = [spec for spec in TOOLS if spec.for_model]
    assert list(tools) == [spec.name for spec in model]
    for spec in model:
        assert tools[spec.name].description == spec.description
        assert tools[spec.name].args_schema == spec.input_schema


def bad_arguments(spec: ToolSpec) -> dict[str, Any]:
    """Arguments the tool must refuse: every string one character over its limit, and one
    argument it does not take."""
    arguments: dict[str, Any] = {"unexpected": True}
    for name, prop in spec.input_schema.get("properties", {}).items():
        for kind in prop.get("anyOf", [prop]):
            if "maxLength" in kind:
                arguments[name] = "x" * (kind["maxLength"] + 1)
    return arguments


@pytest.mark.parametrize("name", NAMES)
async def test_bad_arguments_get_one_message_everywhere(server: LiveServer, name: str) -> None:
    spec = next(s for s in TOOLS if s.name == name)
    answers = await Surfaces(server, spec, None).everywhere(bad_arguments(spec))
    assert answers and all(failed for failed, _, _ in answers.values()), answers
    messages = {message for _, message, _ in answers.values()}
    assert len(messages) == 1, answers
    [message] = messages
    assert "unexpected: Extra inputs are not permitted" in message
    if any("maxLength" in str(p) for p in spec.input_schema.get("properties", {}).values()):
        assert "at most" in message


@pytest.mark.parametrize("name", [s.name for s in TOOLS if s.needs_key])
async def test_key_tools_need_a_key_everywhere(server: LiveServer, name: str) -> None:
    spec = next(s for s in TOOLS if s.name == name)
    arguments = {"name": "anon"} if "name" in spec.args.model_fields else {}
    if "key" in spec.args.model_fields:
        arguments = {"key": "main"}
    answers = await Surfaces(server, spec, None).everywhere(arguments)
    assert all(failed for failed, _, _ in answers.values())
    [message] = {message for _, message, _ in answers.values()}
    assert "needs you to be signed in" in message
    assert answers["rest"][2]["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("name", [s.name for s in TOOLS if s.needs_approval])
async def test_no_surface_runs_an_unapproved_change(server: LiveServer, name: str) -> None:
    spec = next(s for s in TOOLS if s.name == name)
    services = server.app.state.services
    user = new_user(services)
    answers = await Surfaces(server, spec, user).everywhere({"key": "main"})
    with httpx.Client(base_url=server.url) as client:  # the key still works: nothing ran
        assert client.get("/v1/me", headers=user.headers).status_code == 200
    failed, _, body = answers["rest"]
    assert not failed and body["result"]["status"] == "pending_approval"
    for path in PATHS:  # no elicitation: staged, with the web chat's approval link
        failed, text, _ = answers[path]
        assert not failed and "Nothing changed yet" in text and f"{server.url}/?" in text
    failed, text, _ = answers["model"]  # LLM mode stages through its interrupt, never here
    assert failed and "needs the user's approval" in text
    pending = services.approvals.active(body["conversation_id"], user.owner)
    assert pending is not None and pending.tool == spec.name


async def test_a_tool_error_carries_our_message_on_mcp(server: LiveServer) -> None:
    """An unknown key is the same 'not found' on REST (404) and MCP (isError)."""
    services = server.app.state.services
    user = new_user(services)
    spec = next(s for s in TOOLS if s.name == "revoke_api_key")
    answers = await Surfaces(server, spec, user).everywhere({"key": "no-such-key"})
    assert answers["rest"][2]["error"]["code"] == "not_found"
    assert {m for f, m, _ in answers.values() if f} == {"no API key with id or name 'no-such-key'"}
    assert all(failed for failed, _, _ in answers.values())


async def test_a_docs_tool_finds_the_same_sections_everywhere(server: LiveServer) -> None:
    """The same numbered sections; links point at this server on REST and MCP (its `.md`
    pages) and at the docs site in LLM mode."""
    spec = next(s for s in TOOLS if s.name == "searchDocumentation")
    answers = await Surfaces(server, spec, None).everywhere({"query": "rotate an API key"})

    def headers(text: str) -> list[str]:
        lines = [line for line in text.splitlines() if line.startswith("[")]
        return [line.replace(server.url, SITE).replace(".md#", "#") for line in lines]

    rest = answers["rest"][2]["result"]["results"]
    expected = headers("\n".join(f"[{r['ref']}] {r['breadcrumb']} ({r['url']})" for r in rest))
    assert expected and all(r["url"].startswith(f"{server.url}/") for r in rest)
    for surface in (*PATHS, "model"):
        failed, text, _ = answers[surface]
        assert not failed and headers(text) == expected, surface
    assert "https://docs.nexos.ai/" in answers["model"][1]
