"""End to end against a real uvicorn server on loopback: chat (JSON, SSE), the key API,
the OpenAI-compatible endpoint through the `openai` client, MCP through the `mcp` SDK
client, and the ask proxy falling back to a fake upstream docs site on loopback."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import openai
import pytest
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from agent.service import build_services
from server.app import create_app
from tests.conftest import remember_secret
from tests.server.conftest import (
    LiveServer,
    loopback_site,
    make_settings,
    new_user,
    serve_in_thread,
)
from tests.server.test_chat_and_tools import sse_events

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _quiet_mcp_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's *client* logs every SSE message at DEBUG; in these tests the client plays
    the user who receives a secret, so that test-side log must not trip the leak watch.
    (The server side is covered: its payload loggers are raised to INFO.)"""
    logger = logging.getLogger("mcp.client.streamable_http")
    monkeypatch.setattr(logger, "level", logging.INFO)


QUESTION = "How do I rotate an API key?"


def test_chat_json_and_sse_over_http(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        answer = c.post("/v1/chat", json={"message": QUESTION}).json()
        assert answer["mode"] == "local" and answer["sources"]
        with c.stream(
            "POST", "/v1/chat", json={"message": QUESTION}, headers={"Accept": "text/event-stream"}
        ) as response:
            body = "".join(response.iter_text())
        names = [n for n, _ in sse_events(body)]
        assert names[0] == "delta" and names[-1] == "done"


def test_key_lifecycle_over_http(live_server: LiveServer) -> None:
    user = new_user(live_server.app.state.services)
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        created = c.post("/v1/user/api_keys", json={"name": "deploy"}, headers=user.headers).json()
        key = remember_secret(created["api_key"])
        assert (
            c.get("/v1/user/api_keys", headers={"Authorization": f"Bearer {key}"}).status_code
            == 200
        )
        rotated = c.post(f"/v1/user/api_keys/{created['id']}/rotate", headers={"X-Api-Key": key})
        new = remember_secret(rotated.json()["api_key"])
        assert c.get("/v1/user/api_keys", headers={"X-Api-Key": key}).status_code == 401
        assert c.get("/v1/user/api_keys", headers={"X-Api-Key": new}).status_code == 200


def test_openai_client(live_server: LiveServer) -> None:
    user = new_user(live_server.app.state.services)
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=user.secret, max_retries=0)
    assert [m.id for m in client.models.list()] == ["docsagent"]
    completion = client.chat.completions.create(
        model="docsagent", messages=[{"role": "user", "content": QUESTION}]
    )
    content = completion.choices[0].message.content or ""
    assert "Sources:" in content and "api-keys" in content
    stream = client.chat.completions.create(
        model="docsagent", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert streamed.strip() == content.strip()


class Elicitor:
    """A client user who answers confirmations with `accept` and reads shown secrets."""

    def __init__(self, accept: bool) -> None:
        self.accept, self.messages = accept, []  # type: ignore[var-annotated]

    async def __call__(self, context: Any, params: Any) -> types.ElicitResult:
        self.messages.append(params.message)
        if "shown only this once" in params.message:
            return types.ElicitResult(action="accept", content={"copied": True})
        if self.accept:
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action="decline")


async def call(url: str, key: str, tool: str, args: dict[str, Any], elicitor: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with streamable_http_client(f"{url}/mcp", http_client=http) as (read, write):
            async with ClientSession(read, write, elicitation_callback=elicitor) as session:
                await session.initialize()
                if tool == "list":
                    return await session.list_tools()
                return await session.call_tool(tool, args)


def texts(result: Any) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


async def test_mcp_tools(live_server: LiveServer) -> None:
    url, services = live_server.url, live_server.app.state.services
    user = new_user(services)
    listed = await call(url, user.secret, "list", {})
    by_name = {t.name: t for t in listed.tools}
    assert by_name["searchDocumentation"].annotations.read_only_hint is True
    assert by_name["rotate_api_key"].annotations.destructive_hint is True
    assert by_name["revoke_api_key"].annotations.destructive_hint is True
    assert by_name["generate_api_key"].annotations.destructive_hint is False

    found = await call(url, user.secret, "searchDocumentation", {"query": "rotate key"})
    assert "https://docs.nexos.ai/workspace/settings/user-settings/api-keys#" in texts(found)
    asked = await call(url, user.secret, "askQuestion", {"question": QUESTION})
    assert texts(asked).startswith(f"# {QUESTION}") and "# Sources:" in texts(asked)
    sources = texts(asked).split("# Sources:")[1]  # the same rule as every other surface
    assert "(https://docs.nexos.ai/workspace/settings/user-settings/api-keys#" in sources
    page = await call(
        url,
        user.secret,
        "getPage",
        {"url": "https://docs.nexos.ai/workspace/settings/user-settings/api-keys.md"},
    )
    assert "# API Keys" in texts(page)

    # generate: the secret reaches the user through elicitation, not the tool result
    shown = Elicitor(accept=True)
    made = await call(url, user.secret, "generate_api_key", {"name": "mcp-made"}, shown)
    secret = remember_secret(re.findall(r"dak_\S+", shown.messages[-1])[0])
    assert secret not in texts(made) and "mcp-made" in texts(made)
    # without elicitation, the secret is a separate content block for the user only
    plain = await call(url, user.secret, "generate_api_key", {"name": "mcp-plain"})
    user_blocks = [c for c in plain.content if c.annotations and c.annotations.audience == ["user"]]
    plain_secret = remember_secret(re.findall(r"dak_\S+", user_blocks[0].text)[0])
    assert plain_secret not in "".join(c.text for c in plain.content if c not in user_blocks)

    # rotate: declined → nothing changes; accepted → old key 401, new key 200
    declined = await call(url, user.secret, "rotate_api_key", {"key": "mcp-made"}, Elicitor(False))
    assert "Declined" in texts(declined)
    with httpx.Client(base_url=url) as c:
        assert c.get("/v1/me", headers={"X-Api-Key": secret}).status_code == 200
    accepted = Elicitor(accept=True)
    await call(url, user.secret, "rotate_api_key", {"key": "mcp-made"}, accepted)
    new = remember_secret(re.findall(r"dak_\S+", accepted.messages[-1])[0])
    with httpx.Client(base_url=url) as c:
        assert c.get("/v1/me", headers={"X-Api-Key": secret}).status_code == 401
        assert c.get("/v1/me", headers={"X-Api-Key": new}).status_code == 200
    # no elicitation support → a pending action with a link, nothing executed
    staged = await call(url, user.secret, "revoke_api_key", {"key": "mcp-made"})
    assert "pa_" in texts(staged) and f"{url}/?conversation=" in texts(staged)
    with httpx.Client(base_url=url) as c:
        assert c.get("/v1/me", headers={"X-Api-Key": new}).status_code == 200


async def test_mcp_cannot_touch_another_users_keys(live_server: LiveServer) -> None:
    services = live_server.app.state.services
    alice, bob = new_user(services), new_user(services)
    listed = await call(live_server.url, bob.secret, "list_api_keys", {})
    assert alice.key_id not in texts(listed)
    for tool in ("rotate_api_key", "revoke_api_key"):
        result = await call(
            live_server.url, bob.secret, tool, {"key": alice.key_id}, Elicitor(True)
        )
        assert result.is_error
    anonymous = await call(live_server.url, "dak_not_a_key", "list_api_keys", {})
    assert anonymous.is_error
    with httpx.Client(base_url=live_server.url) as c:
        assert c.get("/v1/me", headers=alice.headers).status_code == 200


def _priced(path: str) -> str:
    question = parse_qs(urlsplit(path).query).get("ask", [""])[0]
    return (
        f"# {question}\n\nThe enterprise plan is priced per seat; contact sales.\n\n"
        "# Sources:\n\n- [Pricing](https://docs.nexos.ai/pricing.md)\n"
    )


@pytest.fixture
def upstream() -> Iterator[str]:
    with loopback_site(_priced) as url:
        yield url


def test_ask_proxy_falls_back_to_upstream_on_loopback(tmp_path: Path, upstream: str) -> None:
    settings = make_settings(tmp_path, fallback_enabled=True, upstream_url=upstream)
    app = create_app(settings, services=build_services(settings))
    server, thread, url = serve_in_thread(app)
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            path = "/workspace/settings/user-settings/api-keys.md"
            asked = c.get(path, params={"ask": "How much does the enterprise plan cost?"})
            assert asked.headers["x-robots-tag"] == "noindex"
            assert "priced per seat" in asked.text
            assert "(https://docs.nexos.ai/pricing)" in asked.text  # a source: the docs site
            as_json = c.get(
                path,
                params={"ask": "How much does the enterprise plan cost?"},
                headers={"Accept": "application/json"},
            ).json()
            assert as_json["mode"] == "fallback"
            assert json.loads(c.get("/healthz").text) == {"status": "ok"}
    finally:
        server.should_exit = True
        thread.join(timeout=15)


async def test_mcp_tool_errors_carry_our_message(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An anonymous key tool call: our message with isError, one WARNING, no traceback."""
    caplog.set_level(logging.INFO)
    result = await call(live_server.url, "", "list_api_keys", {})
    assert result.is_error
    assert "needs you to be signed in" in texts(result)  # our message, not the SDK's
    warnings = [r for r in caplog.records if r.name == "docsagent.mcp"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_a_grounded_model_reads_the_prompts_beginning_when_the_server_starts(
    settings: Any, services: Any
) -> None:
    """Before anyone asks: the first question's first token then waits only for its own
    sources (bench/llm.py --warm)."""
    from agent.grounded import GroundedWriter
    from tests.agent.conftest import StreamingChatModel
    from tests.server.conftest import serving

    model = StreamingChatModel()
    services.writer = GroundedWriter(
        model, site=settings.site_url, max_tokens=200, timeout=30, queue_wait=5
    )
    try:
        with serving(settings.model_copy(update={"llm": "local"}), services):
            deadline = time.monotonic() + 10
            while not model.kwargs and time.monotonic() < deadline:
                time.sleep(0.05)
        with serving(settings, services):  # a hosted provider: no request no one asked for
            time.sleep(0.5)
    finally:
        services.writer = None
    assert [k["max_tokens"] for k in model.kwargs] == [1]
    assert model.received[0][-1].content == "Sources:\n\n"  # no one's question


def test_a_grounded_models_tokens_reach_the_client_as_written(settings: Any, services: Any) -> None:
    """Over real HTTP: the first delta arrives while the model is still writing (it takes
    ~2.6 s here), well before `done`; the finished answer is what was streamed."""
    from agent.grounded import GroundedWriter
    from tests.agent.conftest import StreamingChatModel
    from tests.server.conftest import serving

    model = StreamingChatModel(pause=0.2)
    writer = GroundedWriter(model, site=settings.site_url, max_tokens=200, timeout=30, queue_wait=5)
    services.writer = writer
    try:
        with serving(settings, services) as live, httpx.Client(base_url=live.url, timeout=30) as c:
            seen: list[tuple[float, str]] = []
            started = time.monotonic()
            with c.stream(
                "POST", "/v1/chat", json={"message": QUESTION},
                headers={"Accept": "text/event-stream"},
            ) as response:  # fmt: skip
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        seen.append((time.monotonic() - started, line[6:].strip()))
                        if line.endswith("done"):
                            break
    finally:
        services.writer = None
    first = next(t for t, name in seen if name == "delta")
    done = next(t for t, name in seen if name == "done")
    assert done - first > 1.5, seen  # streamed, not cut from a finished answer
    assert "reset" not in [name for _, name in seen]
    assert len([n for _, n in seen if n == "delta"]) >= 10
