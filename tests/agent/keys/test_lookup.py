"""How a key is looked up (id, name, masked form; never its secret) and shown to a model."""

from __future__ import annotations

import json

import pytest

from agent.errors import KeyNotFoundError
from agent.keys.format import safe_view
from agent.keys.local import LocalKeyManager
from agent.keys.lookup import resolve_key
from tests.agent.keys.conftest import MakeKey


def test_resolve_key_by_id_name_or_mask_and_never_by_secret(
    keys: LocalKeyManager, make_key: MakeKey
) -> None:
    record, secret = make_key()
    assert resolve_key(keys, "alice", record.id).id == record.id
    assert resolve_key(keys, "alice", record.api_key).id == record.id
    assert resolve_key(keys, "alice", "production").id == record.id  # case folded
    with pytest.raises(KeyNotFoundError) as info:
        resolve_key(keys, "alice", secret)
    assert secret not in str(info.value)
    with pytest.raises(KeyNotFoundError, match="Staging"):
        resolve_key(keys, "alice", "Staging")
    with pytest.raises(KeyNotFoundError):
        resolve_key(keys, "bob", record.id)  # another owner's key is not found


def test_two_keys_with_one_folded_name_need_the_id(
    keys: LocalKeyManager, make_key: MakeKey
) -> None:
    make_key("alice", "Deploy")
    make_key("alice", "deploy")
    assert resolve_key(keys, "alice", "Deploy").name == "Deploy"  # exact match first
    with pytest.raises(KeyNotFoundError):
        resolve_key(keys, "alice", "DEPLOY")  # two fold to it: name one exactly or use the id


def test_the_safe_view_has_no_secret(keys: LocalKeyManager, make_key: MakeKey) -> None:
    record, secret = make_key()
    view = safe_view(record)
    assert view["masked_key"] == f"dak_…{secret[-4:]}" and view["status"] == "active"
    assert secret not in json.dumps(view)
