"""Offline intent routing: docs questions vs key requests resolved against the user's keys,
yes/no replies, follow-ups. The labelled evaluation set is `test_routing_eval.py`."""

from __future__ import annotations

import pytest

from agent.replies import reply_to_pending, suggestable
from agent.routing import route
from tests.agent.routing_eval import Key

KEYS = [
    Key("3f2a9c1e-1111-4222-8333-444455556666", "cli-key"),
    Key("k-prod", "Production"),
    Key("k-app", "My app"),
    Key("k-laptop", "Old laptop"),
    Key("k-staging", "staging-2"),
]


def listed() -> list[Key]:
    return KEYS


@pytest.mark.parametrize(
    "message",
    [
        "How do I rotate a key?",
        "What happens when I revoke an API key?",
        "Can I see my key again?",
        "Where do I generate an API key?",
        "Why should I rotate keys?",
        "how do I rotate cli-key?",
    ],
)
def test_questions_about_keys_are_docs(message: str) -> None:
    assert route(message, keys=listed).kind == "docs"


@pytest.mark.parametrize(
    ("message", "key_id"),
    [
        ("rotate the Production key", "k-prod"),
        ("please revoke 'My app'", "k-app"),
        ("can you rotate key staging-2", "k-staging"),
        ("I want to delete the key named Old laptop", "k-laptop"),
        ("revoke 3f2a9c1e-1111-4222-8333-444455556666", "3f2a9c1e-1111-4222-8333-444455556666"),
        ("rotate cli-key", "3f2a9c1e-1111-4222-8333-444455556666"),
        ("please rotate cli-key", "3f2a9c1e-1111-4222-8333-444455556666"),
        ("rotate CLI-KEY", "3f2a9c1e-1111-4222-8333-444455556666"),
        ("rotate the cli-key key", "3f2a9c1e-1111-4222-8333-444455556666"),
        ("revoke old LAPTOP", "k-laptop"),
        ("rotate staging 2", "k-staging"),
        ("rotate prodution", "k-prod"),
    ],
)
def test_key_requests_resolve_to_the_users_key(message: str, key_id: str) -> None:
    intent = route(message, keys=listed)
    assert intent.kind in ("rotate", "revoke") and intent.key_ref == key_id


@pytest.mark.parametrize(
    "message",
    ["Create a table with a primary key", "delete this page", "make it faster", "replace a logo"],
)
def test_verbs_whose_object_is_not_a_key_are_docs(message: str) -> None:
    assert route(message, keys=listed).kind == "docs"
    assert route(message).kind == "docs"


def test_it_is_the_key_of_the_previous_turn_or_a_question_back() -> None:
    assert route("now revoke it", {"key_ref": "k-prod"}, listed).key_ref == "k-prod"
    after_docs = route("delete it", {"topic": "Pages", "intent": "docs"}, listed)
    assert after_docs.kind == "clarify" and after_docs.action == "revoke"
    assert route("delete it", {"topic": "Pages"}).kind == "docs"  # signed out: nothing to ask


def test_two_keys_named_are_asked_back() -> None:
    intent = route("revoke cli-key and Production", keys=listed)
    assert intent.kind == "clarify" and intent.candidates == ["cli-key", "Production"]


def test_signed_out_only_an_unmistakable_key_request_is_one() -> None:
    assert route("rotate cli-key").kind == "docs"
    assert route("rotate my API key").kind == "rotate"
    assert route("generate a key named 'Sneaky'").name == "Sneaky"


def test_generate_with_and_without_a_name() -> None:
    assert route("generate a key called CI", keys=listed).name == "CI"
    assert route("create a new API key").kind == "generate"
    assert route("create a new API key").name is None
    assert route("Laptop", {"awaiting": "name"}).name == "Laptop"
    staging = route("generate a staging key", keys=listed)
    assert staging.kind == "clarify" and staging.suggested == "staging"
    assert route("yes", {"awaiting": "name", "suggested": "staging"}, listed).name == "staging"


def test_list_requests() -> None:
    assert route("show me my keys").kind == "list"
    assert route("what keys do I have?").kind == "list"
    assert route("list the primary keys of a table").kind == "docs"


def test_yes_and_no_answer_our_last_question() -> None:
    assert route("yes").kind == "docs"  # after a docs answer, just more conversation
    assert route("no, I meant the other page", {"intent": "docs"}).kind == "docs"
    assert route("no", {"awaiting": "revoke"}).kind == "deny"
    assert route("Confirm.", {"pending_id": "pa_1"}).kind == "confirm"
    assert route("no, cancel", {"pending_id": "pa_1"}).kind == "deny"
    assert reply_to_pending("yes, and also rotate every other key") is None


def test_confirmations_are_never_suggestions() -> None:
    offered = ["Yes", "yes please", "Sure, go ahead", "OK", "How do I rotate a key?", "No"]
    assert suggestable(offered) == ["How do I rotate a key?"]


def test_rotate_every_key_is_flagged() -> None:
    intent = route("rotate every key", keys=listed)
    assert intent.kind == "rotate" and intent.every_key and intent.key_ref is None


def test_follow_ups_resolve_against_the_previous_turn() -> None:
    assert route("and how do I rotate it?", {"topic": "API Keys"}).query.endswith("(API Keys)")


def test_followup_questions_are_phrased_as_the_asker_would() -> None:
    from agent.extractive import question_for

    assert question_for("Create your API key") == "How do I create my API key?"
    assert question_for("Save your API Key") == "How do I save my API Key?"
    assert question_for("How to generate your API key") == "How do I generate my API key?"
    assert question_for("Overview") == "What do the docs say about “Overview”?"
