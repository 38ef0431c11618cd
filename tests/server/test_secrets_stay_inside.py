"""Secrets a user pastes into a question stay inside: not sent to the docs site, not in a
log line, the database, insights, the fallback cache, an answer, a conversation or
/metrics. A run of conversations pastes live keys (ours, nexos.ai's, OpenAI-style and a
bare high-entropy token) into every surface, then greps everything for them."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
import respx
from fastapi import FastAPI

from agent.keys.format import generate_key
from agent.redact import redact
from agent.service import AgentServices, build_services
from server.config import Settings
from server.logging import JsonFormatter
from tests.server.conftest import User, make_settings, new_user, running

UPSTREAM = "https://docs.upstream.test"
ANSWER = "# q\n\nThe docs site says: ask your admin.\n\n# Sources:\n\n- [Admin](https://docs.nexos.ai/admin.md)\n"


@pytest.fixture
async def setup(
    tmp_path: Path, services: AgentServices
) -> AsyncIterator[tuple[FastAPI, AgentServices, Settings, User]]:
    """An app on a data dir of its own (so it can be grepped), fallback on to a mocked site."""
    settings = make_settings(
        tmp_path, fallback_enabled=True, upstream_url=UPSTREAM, rate_limit_per_key=0
    )
    async with httpx.AsyncClient() as http:
        own = build_services(settings, index=services.index, http_client=http)
        from server.app import create_app

        async with running(create_app(settings, services=own)) as app:
            yield app, own, settings, new_user(own)


def pasted() -> list[str]:
    """Live-looking secrets of every shape the server must catch."""
    return [
        generate_key("dak_"),
        "nexos-" + secrets.token_urlsafe(24),
        "sk-proj-" + secrets.token_urlsafe(30),
        secrets.token_hex(24),
    ]


def test_redact_keeps_what_is_not_secret() -> None:
    keep = "rotate key 5e8e8517-da20-4d07-b967-f81b9060ef86 per /v1/user/api_keys/bulk docs"
    assert redact(keep) == keep
    assert redact("how-to-rotate-api-keys-in-2024 and docsagent_fallback_failures_total") == (
        "how-to-rotate-api-keys-in-2024 and docsagent_fallback_failures_total"
    )
    for secret in pasted():
        assert redact(f"why is {secret} rejected?") == "why is [redacted] rejected?"


async def test_pasted_keys_reach_nothing(
    setup: tuple[FastAPI, AgentServices, Settings, User],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, services, _settings, user = setup
    caplog.set_level(logging.DEBUG)
    keys = pasted()
    live = user.secret  # the caller's own live key, pasted into a question too
    everything = [*keys, live]
    transport = httpx.ASGITransport(app=app)
    with respx.mock() as router:
        upstream = router.get(url__startswith=UPSTREAM).mock(
            return_value=httpx.Response(200, text=ANSWER)
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            bodies: list[str] = []
            for secret in everything:
                # (the caller's own key only in bodies: this test client logs its URLs)
                where = keys[0] if secret == live else secret
                asked = await c.get("/nowhere.md", params={"ask": f"why is {where} rejected"})
                bodies.append(asked.text)
                chat = await c.post("/v1/chat", json={"message": f"rotate key {secret}"})
                bodies.append(chat.text)
                signed = await c.post(
                    "/v1/chat", json={"message": f"rotate key {secret}"}, headers=user.headers
                )
                bodies.append(signed.text)
                conv = signed.json()["conversation_id"]
                history = await c.get(f"/v1/conversations/{conv}", headers=user.headers)
                bodies.append(history.text)
                completion = await c.post(
                    "/v1/chat/completions",
                    json={"messages": [{"role": "user", "content": f"what is {secret}?"}]},
                )
                bodies.append(completion.text)
                tool = await c.post(
                    "/v1/tools/askQuestion", json={"question": f"is {secret} valid for billing?"}
                )
                bodies.append(tool.text)
                for response in (asked, chat, signed, history, completion, tool):
                    assert response.status_code == 200, response.text
            admin = new_user(services, owner="admin")
            bodies.append((await c.get("/v1/insights", headers=admin.headers)).text)
            bodies.append((await c.get("/metrics")).text)
    assert upstream.called
    sent = [unquote(str(call.request.url)) for call in upstream.calls]
    assert any("[redacted]" in url for url in sent)
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
    # the server's records (this test's own client logs the URLs it requests)
    server_side = [r for r in caplog.records if "http://127.0.0.1/" not in r.getMessage()]
    logged = "\n".join(r.getMessage() for r in server_side)
    assert "HTTP Request: GET https://docs.upstream.test" in logged
    for secret in everything:
        assert not any(secret in url for url in sent), "sent to the docs site"
        assert not any(secret in body for body in bodies), "echoed to a client"
        assert secret.encode() not in stored, "stored in the data dir"
        assert secret not in logged, "logged"


def test_json_log_lines_redact_secrets() -> None:
    secret = generate_key("dak_")
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "GET /x?ask=%s", (secret,), None)
    line = JsonFormatter().format(record)
    assert secret not in line and "[redacted]" in line
