"""Key tools as a model sees them: ids and masked keys only; secrets go out of band."""

from __future__ import annotations

import json

import pytest

from agent.errors import KeyNotFoundError
from agent.keys.base import Principal
from agent.keys.local import LocalKeyManager
from agent.keys.tools import (
    DESTRUCTIVE_TOOLS,
    KeyToolContext,
    as_langchain_tools,
    generate_api_key,
    list_api_keys,
    resolve_key,
    revoke_api_key,
    rotate_api_key,
)
from agent.models import NewSecret
from tests.agent.keys.conftest import MakeKey
from tests.conftest import remember_secret


@pytest.fixture
def delivered() -> list[NewSecret]:
    return []


@pytest.fixture
def ctx(keys: LocalKeyManager, delivered: list[NewSecret]) -> KeyToolContext:
    def deliver(secret: NewSecret) -> None:
        remember_secret(secret.api_key)
        delivered.append(secret)

    return KeyToolContext(
        manager=keys,
        principal=Principal(owner="alice", key_id="k0"),
        channel="chat",
        on_secret=deliver,
        approval_id="ap-9",
    )


def test_generate_hands_the_secret_out_of_band(
    ctx: KeyToolContext, keys: LocalKeyManager, delivered: list[NewSecret]
) -> None:
    result = generate_api_key(ctx, "Production")
    [secret] = delivered
    assert keys.verify(secret.api_key).key_id == result["id"] == secret.key_id
    assert secret.api_key not in json.dumps(result)
    assert result["masked_key"] == f"dak_…{secret.api_key[-4:]}"
    assert result["status"] == "active" and result["name"] == "Production"


def test_rotate_and_revoke_by_name_or_id(
    ctx: KeyToolContext, keys: LocalKeyManager, delivered: list[NewSecret]
) -> None:
    created = generate_api_key(ctx, "Production")
    rotated = rotate_api_key(ctx, "Production")
    _, new = delivered
    assert rotated["id"] == created["id"] and new.api_key not in json.dumps(rotated)
    assert keys.verify(new.api_key).key_id == created["id"]
    assert keys.audit("alice")[0].approval_id == "ap-9"
    revoked = revoke_api_key(ctx, created["id"])
    assert revoked["status"] == "revoked"
    assert list_api_keys(ctx) == []


def test_list_shows_masked_keys_of_this_owner_only(ctx: KeyToolContext, make_key: MakeKey) -> None:
    _, mine = make_key("alice", "Production")
    make_key("bob", "Bob's")
    listed = list_api_keys(ctx)
    assert [k["name"] for k in listed] == ["Production"]
    assert mine not in json.dumps(listed)


def test_resolve_key_refuses_secrets_and_unknown_refs(
    keys: LocalKeyManager, make_key: MakeKey
) -> None:
    record, secret = make_key()
    assert resolve_key(keys, "alice", record.api_key).id == record.id
    assert resolve_key(keys, "alice", "production").id == record.id
    with pytest.raises(KeyNotFoundError) as info:
        resolve_key(keys, "alice", secret)
    assert secret not in str(info.value)
    with pytest.raises(KeyNotFoundError, match="Staging"):
        resolve_key(keys, "alice", "Staging")
    with pytest.raises(KeyNotFoundError):
        resolve_key(keys, "bob", record.id)


def test_langchain_tools(ctx: KeyToolContext, delivered: list[NewSecret]) -> None:
    tools = {tool.name: tool for tool in as_langchain_tools(ctx)}
    assert set(tools) == {"list_api_keys", "generate_api_key", "rotate_api_key", "revoke_api_key"}
    assert DESTRUCTIVE_TOOLS == {"rotate_api_key", "revoke_api_key"}
    assert {n for n, t in tools.items() if (t.metadata or {})["destructive"]} == DESTRUCTIVE_TOOLS
    assert "permanently disabled" in tools["rotate_api_key"].description
    output = tools["generate_api_key"].invoke({"name": "Production"})
    [secret] = delivered
    assert secret.api_key not in str(output) and "Production" in str(output)
    error = tools["rotate_api_key"].invoke({"key": "Nope"})
    assert "no API key" in str(error)  # a tool error the model can read, not a crash
    assert len(delivered) == 1
