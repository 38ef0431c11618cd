"""The stale-yes sequence of issue 13 over every HTTP surface — chat JSON, chat SSE, the
OpenAI-compatible endpoint (streamed and not): "rotate alice-second" → a docs question →
"yes" rotates nothing; a yes right after the question confirms, and the decision comes
first on the stream so the web card stops being clickable at once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agent.service import AgentServices
from tests.conftest import key_works, remember_secret
from tests.server.conftest import User
from tests.server.test_chat_and_tools import sse_events

DOCS = "How do I generate an API key?"
STAGE = "please rotate the key 'alice-second'"


def _second_key(services: AgentServices, user: User) -> str:
    _record, secret = services.keys.create(user.owner, "alice-second", actor=user.owner)
    return remember_secret(secret)


async def _chat(
    client: httpx.AsyncClient, user: User, message: str, conv: str | None, *, sse: bool
) -> dict[str, Any]:
    """One chat turn; over SSE the `done` Answer plus the names of the events before it."""
    body = {"message": message, **({"conversation_id": conv} if conv else {})}
    if not sse:
        response = await client.post("/v1/chat", json=body, headers=user.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())
    headers = {**user.headers, "Accept": "text/event-stream"}
    response = await client.post("/v1/chat", json=body, headers=headers)
    events = sse_events(response.text)
    done = dict(events[-1][1])  # type: ignore[arg-type]
    done["_events"] = [(name, data) for name, data in events[:-1] if name != "delta"]
    return done


@pytest.mark.parametrize("sse", [False, True], ids=["json", "sse"])
async def test_a_stale_yes_rotates_nothing(
    client: httpx.AsyncClient, services: AgentServices, alice: User, sse: bool
) -> None:
    secret = _second_key(services, alice)
    staged = await _chat(client, alice, STAGE, None, sse=sse)
    conv, pending = staged["conversation_id"], staged["pending_action"]
    assert pending and pending["args"]["name"] == "alice-second"
    docs = await _chat(client, alice, DOCS, conv, sse=sse)
    assert docs["mode"] == "local" and "cancelled the request to rotate" in docs["answer"]
    assert docs["decided_action"] == {"id": pending["id"], "status": "cancelled"}
    late = await _chat(client, alice, "yes", conv, sse=sse)
    assert late["secret"] is None and "nothing waiting" in late["answer"]
    if sse:
        assert docs["_events"][0] == ("decided_action", docs["decided_action"])
        assert all(name != "secret" for name, _ in late["_events"])
    assert key_works(services.keys, secret)
    history = (await client.get(f"/v1/conversations/{conv}", headers=alice.headers)).json()
    assert history["turns"][1]["pending_action"]["status"] == "cancelled"


async def test_a_yes_right_after_confirms_and_the_decision_comes_first(
    client: httpx.AsyncClient, services: AgentServices, alice: User
) -> None:
    secret = _second_key(services, alice)
    staged = await _chat(client, alice, STAGE, None, sse=True)
    assert [name for name, _ in staged["_events"]] == ["pending_action"]
    done = await _chat(client, alice, "yes", staged["conversation_id"], sse=True)
    names = [name for name, _ in done["_events"]]
    assert names[0] == "decided_action" and "secret" in names
    assert done["decided_action"] == {"id": staged["pending_action"]["id"], "status": "approved"}
    remember_secret(done["secret"]["api_key"])
    assert not key_works(services.keys, secret)


@pytest.mark.parametrize("stream", [False, True], ids=["completion", "stream"])
async def test_openai_compatible_a_stale_yes_rotates_nothing(
    client: httpx.AsyncClient, services: AgentServices, alice: User, stream: bool
) -> None:
    secret = _second_key(services, alice)
    conversation: str | None = None  # the server names it in its first answer

    async def say(message: str) -> tuple[str, dict[str, Any]]:
        nonlocal conversation
        body = {
            "model": "docsagent",
            "messages": [{"role": "user", "content": message}],
            "user": conversation,
            "stream": stream,
        }
        response = await client.post("/v1/chat/completions", json=body, headers=alice.headers)
        assert response.status_code == 200, response.text
        if not stream:
            data = response.json()
            conversation = data["docsagent"]["conversation_id"]
            return data["choices"][0]["message"]["content"], data
        chunks = [c for _, c in sse_events(response.text)][:-1]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)  # type: ignore[index]
        conversation = chunks[-1]["docsagent"]["conversation_id"]  # type: ignore[index]
        return text, dict(chunks[-1])  # type: ignore[arg-type]

    staged, _ = await say(STAGE)
    assert staged.count("will be permanently disabled and replaced") == 1  # the preview, once
    assert "reply yes or no" in staged
    docs, _ = await say(DOCS)
    assert "cancelled the request to rotate" in docs
    late, last = await say("yes")
    assert "nothing waiting" in late and "docsagent_secret" not in last
    assert key_works(services.keys, secret)
