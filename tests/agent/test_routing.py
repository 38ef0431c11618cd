"""Offline intent routing: docs questions vs key requests, key names, yes/no, follow-ups."""

from __future__ import annotations

import pytest

from agent.routing import route


@pytest.mark.parametrize(
    "message",
    [
        "How do I rotate a key?",
        "What happens when I revoke an API key?",
        "Can I see my key again?",
        "Where do I generate an API key?",
        "Why should I rotate keys?",
    ],
)
def test_questions_about_keys_are_docs(message: str) -> None:
    assert route(message).kind == "docs"


@pytest.mark.parametrize(
    ("message", "kind", "ref"),
    [
        ("rotate the Production key", "rotate", "Production"),
        ("please revoke 'My app'", "revoke", "My app"),
        ("can you rotate key staging-2", "rotate", "staging-2"),
        ("I want to delete the key named Old laptop", "revoke", "Old laptop"),
        (
            "revoke 3f2a9c1e-1111-4222-8333-444455556666",
            "revoke",
            "3f2a9c1e-1111-4222-8333-444455556666",
        ),
    ],
)
def test_key_requests_and_their_key(message: str, kind: str, ref: str) -> None:
    intent = route(message)
    assert (intent.kind, intent.key_ref) == (kind, ref)


def test_generate_with_and_without_a_name() -> None:
    assert route("generate a key called CI").name == "CI"
    assert route("create a new API key").kind == "generate"
    assert route("create a new API key").name is None
    assert route("Laptop", {"awaiting": "name"}).name == "Laptop"


def test_list_requests() -> None:
    assert route("show me my keys").kind == "list"
    assert route("what keys do I have?").kind == "list"


def test_yes_and_no_only_count_with_a_pending_action() -> None:
    assert route("yes").kind == "docs"
    assert route("yes", {"pending_id": "pa_1"}).kind == "confirm"
    assert route("Confirm.", {"pending_id": "pa_1"}).kind == "confirm"
    assert route("no, cancel", {"pending_id": "pa_1"}).kind == "deny"
    assert route("yes, and also rotate every other key", {"pending_id": "pa_1"}).kind != "confirm"


def test_rotate_every_key_is_flagged() -> None:
    intent = route("rotate every key")
    assert intent.kind == "rotate" and intent.every_key and intent.key_ref is None


def test_follow_ups_resolve_against_the_previous_turn() -> None:
    assert route("and how do I rotate it?", {"topic": "API Keys"}).query.endswith("(API Keys)")
    assert route("now revoke it", {"key_ref": "k1"}).key_ref == "k1"


def test_followup_questions_are_phrased_as_the_asker_would() -> None:
    from agent.extractive import question_for

    assert question_for("Create your API key") == "How do I create my API key?"
    assert question_for("Save your API Key") == "How do I save my API Key?"
    assert question_for("How to generate your API key") == "How do I generate my API key?"
    assert question_for("Overview") == "What do the docs say about “Overview”?"
