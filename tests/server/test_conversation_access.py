"""Conversation ids are minted by the server, and an anonymous conversation opens only with
the token handed to its creator: no fixation (an attacker picks an id, a victim writes
into it, the attacker reads), no reading by id alone."""

from __future__ import annotations

import httpx

from tests.server.conftest import User
from tests.server.test_errors_and_ops import assert_error

QUESTION = "How do I generate an API key?"


async def test_a_client_cannot_choose_a_conversation_id(client: httpx.AsyncClient) -> None:
    chosen = await client.post("/v1/chat", json={"message": QUESTION, "conversation_id": "c_fix1"})
    assert_error(chosen, 404, "not_found")
    assert_error(await client.get("/v1/conversations/c_fix1"), 404, "not_found")


async def test_an_anonymous_conversation_opens_only_with_its_token(
    client: httpx.AsyncClient,
) -> None:
    first = (await client.post("/v1/chat", json={"message": QUESTION})).json()
    conv, token = first["conversation_id"], first["conversation_token"]
    assert conv.startswith("c_") and token and len(token) >= 32
    assert_error(await client.get(f"/v1/conversations/{conv}"), 404, "not_found")
    wrong = {"X-Conversation-Token": token[::-1]}
    assert_error(await client.get(f"/v1/conversations/{conv}", headers=wrong), 404, "not_found")
    mine = {"X-Conversation-Token": token}
    turns = (await client.get(f"/v1/conversations/{conv}", headers=mine)).json()["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant"]
    # continuing needs the token too; the token is handed out once
    assert_error(
        await client.post("/v1/chat", json={"message": "and rotate?", "conversation_id": conv}),
        404,
        "not_found",
    )
    again = await client.post(
        "/v1/chat",
        json={
            "message": "and how do I rotate it?",
            "conversation_id": conv,
            "conversation_token": token,
        },
    )
    assert again.status_code == 200 and again.json()["conversation_id"] == conv
    assert again.json()["conversation_token"] is None


async def test_fixation_attack_reads_nothing(client: httpx.AsyncClient, alice: User) -> None:
    """The attacker's conversation, opened by a victim (anonymous or signed in), gets none
    of the victim's questions."""
    attacker = (await client.post("/v1/chat", json={"message": QUESTION})).json()
    conv, token = attacker["conversation_id"], attacker["conversation_token"]
    secret_question = "How do I revoke the key of my payroll service?"
    for headers in ({}, alice.headers):
        victim = await client.post(
            "/v1/chat", json={"message": secret_question, "conversation_id": conv}, headers=headers
        )
        assert_error(victim, 404, "not_found")
    read = await client.get(f"/v1/conversations/{conv}", headers={"X-Conversation-Token": token})
    assert secret_question not in read.text
    assert len(read.json()["turns"]) == 2


async def test_openai_user_field_never_names_a_new_conversation(
    client: httpx.AsyncClient,
) -> None:
    body = {"messages": [{"role": "user", "content": QUESTION}], "user": "c_fix2"}
    response = (await client.post("/v1/chat/completions", json=body)).json()
    conv = response["docsagent"]["conversation_id"]
    assert conv != "c_fix2"
    token = response["docsagent"]["conversation_token"]
    follow = await client.post(
        "/v1/chat/completions",
        json={**body, "user": conv},
        headers={"X-Conversation-Token": token},
    )
    assert follow.json()["docsagent"]["conversation_id"] == conv
