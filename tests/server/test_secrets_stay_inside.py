"""Secrets a user pastes into a question stay inside: not sent to the docs site, not in a
log line, the database, insights, the fallback cache, an answer, a conversation or
/metrics. A run of conversations pastes live keys (ours, nexos.ai's, OpenAI-style and a
bare high-entropy token) into every surface, then greps everything for them."""

from __future__ import annotations

import logging
import re
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
from tests.conftest import remember_secret
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
    access = logging.LogRecord("docsagent.access", logging.INFO, __file__, 1, "GET", (), None)
    access.path = f"/{secret}.md"  # an access line's path extra
    line = JsonFormatter().format(access)
    assert secret not in line and '"path": "/[redacted].md"' in line


async def test_conversation_tokens_and_key_links_are_never_logged_or_stored(
    setup: tuple[FastAPI, AgentServices, Settings, User],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What opens an anonymous conversation (its token, on every surface that takes it:
    chat, history, claim, the OpenAI endpoint) and a new key's one-time link reach no log
    line and no stored byte (only their digests are kept)."""
    app, _services, _settings, user = setup
    caplog.set_level(logging.DEBUG)
    question = {"messages": [{"role": "user", "content": "How do I rotate an API key?"}]}
    transport = httpx.ASGITransport(app=app)
    with respx.mock(assert_all_called=False) as router:  # the docs site, if asked
        router.get(url__startswith=UPSTREAM).mock(return_value=httpx.Response(200, text=ANSWER))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            started = (await c.post("/v1/chat", json={"message": "How do I rotate a key?"})).json()
            conv, token = started["conversation_id"], remember_secret(started["conversation_token"])
            header = {"X-Conversation-Token": token}
            again = {
                "message": "and revoke it?",
                "conversation_id": conv,
                "conversation_token": token,
            }
            assert (await c.post("/v1/chat", json=again)).status_code == 200
            assert (await c.get(f"/v1/conversations/{conv}", headers=header)).status_code == 200
            completion = (await c.post("/v1/chat/completions", json=question)).json()
            openai_token = remember_secret(completion["docsagent"]["conversation_token"])
            follow = {**question, "user": completion["docsagent"]["conversation_id"]}
            continued = await c.post(
                "/v1/chat/completions", json=follow, headers={"X-Conversation-Token": openai_token}
            )
            assert continued.status_code == 200
            claim = f"/v1/conversations/{conv}/claim"
            assert (await c.post(claim, headers={**user.headers, **header})).status_code == 200
            generate = {"messages": [{"role": "user", "content": "generate a key named 'Phone'"}]}
            made = (
                await c.post("/v1/chat/completions", json=generate, headers=user.headers)
            ).json()
            remember_secret(made["docsagent_secret"]["api_key"])
            link = re.search(r"#secret=([A-Za-z0-9_\-]+)", made["choices"][0]["message"]["content"])
            assert link is not None
            ticket = remember_secret(link.group(1))
            opened = await c.post(
                "/v1/secrets/claim", json={"ticket": ticket}, headers=user.headers
            )
            assert opened.status_code == 200
            remember_secret(opened.json()["api_key"])
    formatter = JsonFormatter()
    logged = "\n".join(formatter.format(r) for r in caplog.records)
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
    assert "/v1/secrets/claim" in logged and "/claim 200" in logged  # the lines are there
    for opener in (token, openai_token, ticket, opened.json()["api_key"]):
        assert opener not in logged, "logged"
        assert opener.encode() not in stored, "stored"
