"""Chat (JSON, SSE, approvals, conversations), OpenAI-compatible chat, /v1/tools,
feedback and insights, through the ASGI transport against the real agent."""

from __future__ import annotations

import json

import httpx
from fastapi import FastAPI

from agent.service import AgentServices
from tests.conftest import remember_secret
from tests.server.conftest import User
from tests.server.test_errors_and_ops import assert_error

QUESTION = "How do I rotate an API key?"


def sse_events(text: str) -> list[tuple[str, object]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if name or data:
            payload = "\n".join(data)
            try:
                events.append((name, json.loads(payload)))
            except json.JSONDecodeError:
                events.append((name, payload))
    return events


async def test_chat_json_and_sse(client: httpx.AsyncClient) -> None:
    answer = (await client.post("/v1/chat", json={"message": QUESTION})).json()
    assert answer["mode"] == "local" and answer["conversation_id"]
    assert any("api-keys" in s["url"] for s in answer["sources"])
    response = await client.post(
        "/v1/chat", json={"message": QUESTION}, headers={"Accept": "text/event-stream"}
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [n for n, _ in events]
    assert names[0] == "delta" and names[-1] == "done" and "sources" in names
    text = "".join(d["text"] for n, d in events if n == "delta")  # type: ignore[index]
    assert text == events[-1][1]["answer"]  # type: ignore[index]


async def test_chat_key_action_needs_approval_by_its_owner(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    staged = (
        await client.post("/v1/chat", json={"message": "rotate key main"}, headers=alice.headers)
    ).json()
    pending = staged["pending_action"]
    assert pending and pending["tool"] == "rotate_api_key" and staged["secret"] is None
    conv = staged["conversation_id"]
    # bob can neither approve it nor read the conversation
    denied = await client.post(
        "/v1/chat", json={"conversation_id": conv, "approve": pending["id"]}, headers=bob.headers
    )
    assert_error(denied, 404, "not_found")
    assert_error(
        await client.get(f"/v1/conversations/{conv}", headers=bob.headers), 404, "not_found"
    )
    assert_error(await client.get(f"/v1/conversations/{conv}"), 404, "not_found")
    assert_error(
        await client.post("/v1/chat", json={"conversation_id": conv, "approve": pending["id"]}),
        401,
        "unauthorized",
    )
    assert (await client.get("/v1/me", headers=alice.headers)).status_code == 200  # not rotated
    approved = (
        await client.post(
            "/v1/chat",
            json={"conversation_id": conv, "approve": pending["id"]},
            headers=alice.headers,
        )
    ).json()
    new_secret = remember_secret(approved["secret"]["api_key"])
    assert_error(await client.get("/v1/me", headers=alice.headers), 401, "unauthorized")
    assert (await client.get("/v1/me", headers={"X-Api-Key": new_secret})).status_code == 200
    history = await client.get(f"/v1/conversations/{conv}", headers={"X-Api-Key": new_secret})
    assert history.status_code == 200
    assert new_secret not in history.text and len(history.json()["turns"]) >= 4


async def test_chat_reject_leaves_key_alone(client: httpx.AsyncClient, alice: User) -> None:
    staged = (
        await client.post("/v1/chat", json={"message": "revoke key main"}, headers=alice.headers)
    ).json()
    body = {"conversation_id": staged["conversation_id"], "reject": staged["pending_action"]["id"]}
    rejected = await client.post("/v1/chat", json=body, headers=alice.headers)
    assert rejected.status_code == 200 and rejected.json()["secret"] is None
    assert (await client.get("/v1/me", headers=alice.headers)).status_code == 200
    again = await client.post(
        "/v1/chat", json=body | {"reject": None, "approve": body["reject"]}, headers=alice.headers
    )
    assert_error(again, 404, "not_found")  # single use


async def test_openai_compatible_routes(client: httpx.AsyncClient) -> None:
    models = (await client.get("/v1/models")).json()
    assert [m["id"] for m in models["data"]] == ["docsagent"]
    body = {"model": "docsagent", "messages": [{"role": "user", "content": QUESTION}]}
    completion = (await client.post("/v1/chat/completions", json=body)).json()
    content = completion["choices"][0]["message"]["content"]
    assert "Sources:" in content and "api-keys" in content.split("Sources:")[1]
    streamed = await client.post("/v1/chat/completions", json=body | {"stream": True})
    chunks = [d for _, d in sse_events(streamed.text)]
    assert chunks[-1] == "[DONE]"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1])  # type: ignore[index]
    assert text.strip() == content.strip()
    assert_error(
        await client.post("/v1/chat/completions", json=body | {"model": "gpt-4"}), 404, "not_found"
    )


async def test_tools_list_and_invoke(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    tools = {t["function"]["name"]: t for t in (await client.get("/v1/tools")).json()}
    assert {
        "searchDocumentation",
        "getPage",
        "askQuestion",
        "sendFeedback",
        "list_api_keys",
        "generate_api_key",
        "rotate_api_key",
        "revoke_api_key",
    } <= set(tools)
    assert "ctx" not in json.dumps(tools["rotate_api_key"]["function"]["parameters"])
    found = (
        await client.post("/v1/tools/searchDocumentation", json={"query": "rotate key"})
    ).json()
    # a search result is a source: the docs site's page with its anchor, never rewritten
    first = found["result"]["results"][0]["url"]
    assert first.startswith("https://docs.nexos.ai/") and "#" in first
    assert_error(await client.post("/v1/tools/list_api_keys", json={}), 401, "unauthorized")
    assert_error(await client.post("/v1/tools/nope", json={}), 404, "not_found")

    made = (
        await client.post(
            "/v1/tools/generate_api_key", json={"name": "tool-made"}, headers=alice.headers
        )
    ).json()
    secret = remember_secret(made["secret"]["api_key"])
    assert secret not in json.dumps(made["result"])
    staged = (
        await client.post(
            "/v1/tools/rotate_api_key", json={"key": "tool-made"}, headers=alice.headers
        )
    ).json()
    assert staged["result"]["status"] == "pending_approval"
    assert (await client.get("/v1/me", headers={"X-Api-Key": secret})).status_code == 200
    pending_id = staged["pending_action"]["id"]
    waiting = await client.post(
        "/v1/tools/rotate_api_key", json={"approval_id": pending_id}, headers=alice.headers
    )
    assert_error(waiting, 409, "conflict")
    foreign = await client.post(
        "/v1/tools/rotate_api_key", json={"approval_id": pending_id}, headers=bob.headers
    )
    assert_error(foreign, 404, "not_found")
    bob_try = await client.post(
        "/v1/tools/rotate_api_key", json={"key": "tool-made"}, headers=bob.headers
    )
    assert_error(bob_try, 404, "not_found")
    await client.post(
        "/v1/chat",
        json={"conversation_id": staged["conversation_id"], "approve": pending_id},
        headers=alice.headers,
    )
    done = await client.post(
        "/v1/tools/rotate_api_key", json={"approval_id": pending_id}, headers=alice.headers
    )
    assert done.json()["result"]["status"] == "approved"
    assert_error(await client.get("/v1/me", headers={"X-Api-Key": secret}), 401, "unauthorized")


async def test_feedback_and_insights(
    app: FastAPI, client: httpx.AsyncClient, services: AgentServices, alice: User
) -> None:
    _admin, secret = services.keys.create("admin", f"k-{alice.owner}", actor="admin")
    admin_headers = {"X-Api-Key": remember_secret(secret)}
    unanswered = "What is the price of the enterprise plan in euros?"
    first = (await client.post("/v1/chat", json={"message": unanswered})).json()
    assert first["mode"] == "none"
    ok = await client.post(
        "/v1/feedback",
        json={
            "conversation_id": first["conversation_id"],
            "turn": 0,
            "rating": "down",
            "comment": "no pricing page",
        },
    )
    assert ok.json() == {"ok": True}
    assert_error(
        await client.post(
            "/v1/feedback",
            json={"conversation_id": first["conversation_id"], "turn": 5, "rating": "up"},
        ),
        404,
        "not_found",
    )
    assert_error(
        await client.post(
            "/v1/feedback",
            json={"conversation_id": "c", "turn": 0, "rating": "up", "comment": "x" * 2049},
        ),
        400,
        "bad_request",
    )
    # alice's own conversation: nobody else may rate it
    mine = (await client.post("/v1/chat", json={"message": QUESTION}, headers=alice.headers)).json()
    assert_error(
        await client.post(
            "/v1/feedback",
            json={"conversation_id": mine["conversation_id"], "turn": 0, "rating": "up"},
        ),
        404,
        "not_found",
    )
    leaked = f"my key is dak_{'A1b2' * 8} why does it fail"
    await client.post("/v1/chat", json={"message": leaked})
    report = (await client.get("/v1/insights?days=7", headers=admin_headers)).json()
    assert report["total"] >= 3
    today = report["days"][-1]
    assert today["none"] >= 1 and today["local"] >= 1
    questions = [u["question"] for u in report["unanswered"]]
    assert unanswered.lower() in questions
    entry = next(u for u in report["unanswered"] if u["question"] == unanswered.lower())
    assert entry["closest"] and entry["closest"][0]["url"].startswith("https://docs.nexos.ai/")
    assert any(
        f["comment"] == "no pricing page" and f["rating"] == "down" for f in report["feedback"]
    )
    assert "A1b2A1b2" not in json.dumps(report)
    assert set(report["latency_ms"]) == {"p50", "p95", "p99"}


async def test_a_conversation_started_signed_out_becomes_the_signed_in_users(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    started = await client.post("/v1/chat", json={"message": "How do I rotate an API key?"})
    conversation = started.json()["conversation_id"]
    token = {"X-Conversation-Token": started.json()["conversation_token"]}
    claim = f"/v1/conversations/{conversation}/claim"
    assert_error(await client.post(claim, headers=token), 401, "unauthorized")
    # its id alone, or a wrong token, claims nothing: only the tab that holds the token
    assert_error(await client.post(claim, headers=alice.headers), 404, "not_found")
    wrong = {**alice.headers, "X-Conversation-Token": token["X-Conversation-Token"][::-1]}
    assert_error(await client.post(claim, headers=wrong), 404, "not_found")
    assert_error(await client.post(claim, headers={**bob.headers, **wrong}), 404, "not_found")
    claimed = await client.post(claim, headers={**alice.headers, **token})
    assert claimed.status_code == 200 and claimed.json()["turns"][0]["role"] == "user"
    # claimed again by its owner (a second sign-in in the tab) it stays hers
    assert (await client.post(claim, headers={**alice.headers, **token})).status_code == 200
    again = await client.post(
        "/v1/chat",
        json={"message": "How do I generate an API key?", "conversation_id": conversation},
        headers=alice.headers,
    )
    assert again.status_code == 200 and again.json()["conversation_id"] == conversation
    # now alice's: neither bob nor an anonymous reader gets it (the token opens it no
    # more), and bob cannot claim it even with the token
    assert_error(await client.get(f"/v1/conversations/{conversation}"), 404, "not_found")
    read = await client.get(f"/v1/conversations/{conversation}", headers=token)
    assert_error(read, 404, "not_found")
    taken = await client.post(claim, headers={**bob.headers, **token})
    assert_error(taken, 404, "not_found")
    mine = await client.get(f"/v1/conversations/{conversation}", headers=alice.headers)
    assert len(mine.json()["turns"]) == 4
    unknown = await client.post("/v1/conversations/c_nope/claim", headers=alice.headers)
    assert_error(unknown, 404, "not_found")
