"""No anonymous request can exhaust the server: bodies are capped (413 before parsing),
every string argument has a length limit, lone surrogates are a 400 in the JSON error
shape, and a request's work stops when its client goes away."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from agent.insights import insights_table
from agent.service import AgentServices, build_services
from server.app import create_app
from tests.server.conftest import User, loopback_site, make_settings, serve_in_thread
from tests.server.test_errors_and_ops import assert_error

SURROGATE_BODY = (
    '{"query": "\\ud800 rotate", "url": "\\ud800", "question": "\\udc00 why", "key": "\\ud800", '
    '"name": "\\ud800", "conversation_id": "\\ud800", "turn": 0, "rating": "up"}'
)


async def test_oversized_body_is_413_before_parsing(client: httpx.AsyncClient) -> None:
    huge = '{"url": "' + "ab-" * 700_000 + '"}'
    started = time.monotonic()
    response = await client.post(
        "/v1/tools/getPage", content=huge, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "too_large")
    assert time.monotonic() - started < 2

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"message": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    chunked = await client.post(
        "/v1/chat", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(chunked, 413, "too_large")


async def test_long_tool_arguments_are_400(client: httpx.AsyncClient, alice: User) -> None:
    long_url = await client.post("/v1/tools/getPage", json={"url": "ab-" * 1000})
    assert "at most 2048" in assert_error(long_url, 400, "bad_request")["message"]
    long_key = await client.post(
        "/v1/tools/rotate_api_key", json={"key": "k" * 301}, headers=alice.headers
    )
    assert_error(long_key, 400, "bad_request")
    bad_turn = await client.post(
        "/v1/tools/sendFeedback", json={"conversation_id": "c", "turn": "abc", "rating": "up"}
    )
    assert_error(bad_turn, 400, "bad_request")


def _strings(schema: dict[str, Any], spec: dict[str, Any], where: str) -> Iterator[tuple[str, Any]]:
    """Every string-typed schema reachable from `schema` (refs, anyOf, items, properties)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        yield from _strings(spec["components"]["schemas"][name], spec, f"{where}→{name}")
        return
    if schema.get("type") == "string" and "enum" not in schema and "const" not in schema:
        if schema.get("format") not in ("date-time", "binary"):
            yield where, schema
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from _strings(option, spec, where)
    if "items" in schema:
        yield from _strings(schema["items"], spec, f"{where}[]")
    for name, prop in schema.get("properties", {}).items():
        yield from _strings(prop, spec, f"{where}.{name}")


async def test_every_string_argument_has_a_length_limit(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    unlimited = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for param in op.get("parameters", []):
                for where, schema in _strings(
                    param["schema"], spec, f"{method} {path} {param['name']}"
                ):
                    if "maxLength" not in schema:
                        unlimited.append(where)
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                for where, schema in _strings(body["schema"], spec, f"{method} {path} body"):
                    if "maxLength" not in schema:
                        unlimited.append(where)
    assert unlimited == []
    tools = (await client.get("/v1/tools")).json()
    for tool in tools:
        for name, prop in tool["function"]["parameters"].get("properties", {}).items():
            for _, schema in _strings(prop, spec, name):
                assert "maxLength" in schema, (tool["function"]["name"], name)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/tools/searchDocumentation",
        "/v1/tools/getPage",
        "/v1/tools/askQuestion",
        "/v1/tools/rotate_api_key",
        "/v1/tools/sendFeedback",
        "/v1/chat/completions",
        "/v1/chat",
        "/v1/feedback",
        "/v1/user/api_keys",
    ],
)
async def test_lone_surrogates_are_400(client: httpx.AsyncClient, alice: User, path: str) -> None:
    body = SURROGATE_BODY
    if path == "/v1/chat/completions":
        body = '{"messages": [{"role": "user", "content": "\\ud800 rotate"}]}'
    elif path == "/v1/chat":
        body = '{"message": "\\ud800 rotate"}'
    response = await client.post(
        path, content=body, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert "surrogate" in assert_error(response, 400, "bad_request")["message"]
    # a real pair (an emoji) is fine
    fine = await client.post(
        "/v1/chat",
        content='{"message": "\\ud83d\\ude00 how do I rotate a key?"}',
        headers={"Content-Type": "application/json"},
    )
    assert fine.status_code == 200


def _slowly(path: str) -> str:
    time.sleep(1.5)
    return "# q\n\nA slow answer.\n"


@pytest.fixture
def slow_upstream() -> Iterator[str]:
    with loopback_site(_slowly) as url:
        yield url


@pytest.mark.e2e
def test_work_stops_when_the_client_goes_away(
    tmp_path: Path, services: AgentServices, slow_upstream: str
) -> None:
    """The client gives up after 0.3 s; the answer it would have got is never finished
    (no insight recorded for it), instead of being computed for nobody."""
    settings = make_settings(tmp_path, fallback_enabled=True, upstream_url=slow_upstream)
    own = build_services(settings, index=services.index)
    server, thread, url = serve_in_thread(create_app(settings, services=own))
    question = "What does the enterprise plan cost per seat?"
    try:
        with httpx.Client(base_url=url, timeout=0.3) as c, pytest.raises(httpx.ReadTimeout):
            c.get("/pricing.md", params={"ask": question})
        time.sleep(2.5)  # long past the upstream's answer
        with httpx.Client(base_url=url, timeout=30) as c:
            assert c.get("/healthz").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    with own.engine.connect() as conn:
        recorded = conn.execute(sa.select(insights_table.c.question)).scalars().all()
    assert question not in recorded


async def test_messages_after_the_response_are_dropped_not_raised() -> None:
    """An app (the MCP transport, when its client left mid-stream) that sends after its
    response completed: the message is dropped instead of the server raising
    "Unexpected ASGI message 'http.response.start' sent, after response already completed"."""
    from server.limits import RequestLimits

    async def late_app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})
        await send({"type": "http.response.start", "status": 500, "headers": []})

    sent: list[dict[str, Any]] = []

    async def server_send(message: dict[str, Any]) -> None:  # as strict as uvicorn
        if sent and sent[-1]["type"] == "http.response.body" and not sent[-1].get("more_body"):
            raise RuntimeError(f"Unexpected ASGI message {message['type']!r} sent")
        sent.append(message)

    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": []}
    await RequestLimits(late_app, max_body_bytes=1024)(scope, receive, server_send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
