"""A yes/no decides only the pending action of the immediately preceding assistant turn:
the stale-yes sequence of issue 13 rotates nothing, offline and in LLM mode; the issue's
misfires answer correctly against the user's real keys; signed out nothing is staged."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from langchain_core.messages import AIMessage
from sqlalchemy import text

from agent.errors import ApprovalError
from agent.keys.base import Principal
from agent.service import AgentServices, answer, answer_events, build_services, decide, history
from tests.agent.conftest import (
    UPSTREAM,
    ScriptedChatModel,
    make_settings,
    scripted,
    tool_call,
)
from tests.agent.routing_eval import SPLITS, load
from tests.conftest import key_works, remember_secret


def _key(services: AgentServices, owner: str, name: str) -> str:
    """Create a key the way a user would already have one; returns its secret."""
    _record, secret = services.keys.create(owner, name, actor=owner, channel="cli")
    return remember_secret(secret)


def _pending_rows(services: AgentServices) -> list[tuple[Any, ...]]:
    with services.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(text("SELECT status, key_name FROM agent_pending_actions"))
        ]


async def test_a_stale_yes_rotates_nothing_and_says_why(
    services: AgentServices, alice: Principal
) -> None:
    secret = _key(services, "alice", "alice-second")
    staged = await answer(services, "please rotate the key 'alice-second'", principal=alice)
    conv = staged.conversation_id
    assert staged.pending_action and staged.pending_action.args["name"] == "alice-second"
    docs = await answer(
        services, "How do I generate an API key?", principal=alice, conversation_id=conv
    )
    assert docs.mode == "local"
    assert "cancelled the request to rotate the key 'alice-second'" in docs.answer
    assert docs.decided_action and docs.decided_action.model_dump() == {
        "id": staged.pending_action.id,
        "status": "cancelled",
    }
    late = await answer(services, "yes", principal=alice, conversation_id=conv)
    assert late.secret is None and late.pending_action is None
    assert "nothing waiting" in late.answer and "was cancelled" in late.answer
    assert key_works(services.keys, secret)
    with pytest.raises(ApprovalError):  # nor does the old card's Approve button
        await decide(services, conv, staged.pending_action.id, approve=True, principal=alice)
    assert key_works(services.keys, secret)
    turns = history(services, conv, alice)
    assert turns[1]["pending_action"]["status"] == "cancelled"


async def test_a_yes_right_after_the_question_confirms_and_reports_the_decision(
    services: AgentServices, alice: Principal
) -> None:
    secret = _key(services, "alice", "cli-key")
    staged = await answer(services, "rotate cli-key", principal=alice)
    assert staged.pending_action
    events = [
        e
        async for e in answer_events(
            services, "yes", principal=alice, conversation_id=staged.conversation_id
        )
    ]
    assert events[0] == ("decided_action", {"id": staged.pending_action.id, "status": "approved"})
    done = events[-1][1]
    assert done["secret"] and not key_works(services.keys, secret)
    remember_secret(done["secret"]["api_key"])
    turns = history(services, staged.conversation_id, alice)
    assert turns[1]["pending_action"]["status"] == "approved"


async def test_the_preview_is_in_the_answer_once(services: AgentServices, alice: Principal) -> None:
    _key(services, "alice", "cli-key")
    staged = await answer(services, "rotate cli-key", principal=alice)
    assert staged.pending_action
    assert staged.answer.count(staged.pending_action.preview) == 1


@pytest.mark.parametrize("message", ["rotate cli-key", "please rotate cli-key", "rotate CLI-KEY"])
async def test_the_issues_missed_key_requests_are_staged(
    services: AgentServices, alice: Principal, message: str
) -> None:
    _key(services, "alice", "cli-key")
    staged = await answer(services, message, principal=alice)
    assert staged.pending_action and staged.pending_action.args["name"] == "cli-key"


@pytest.mark.parametrize(
    ("message", "name"),
    [
        ("revoke old LAPTOP", "Old laptop"),
        ("rotate the prod eu west key", "prod-EU-west"),
        ("rotate 'Team Dashboard'", "Team Dashboard"),
        ("delete build-bot", "build_bot"),
    ],
)
async def test_names_with_dashes_spaces_and_mixed_case(
    services: AgentServices, alice: Principal, message: str, name: str
) -> None:
    for each in ("Old laptop", "prod-EU-west", "Team Dashboard", "build_bot"):
        _key(services, "alice", each)
    staged = await answer(services, message, principal=alice)
    assert staged.pending_action and staged.pending_action.args["name"] == name


@pytest.mark.parametrize(
    "message", ["Create a table with a primary key", "delete this page", "make it faster"]
)
async def test_the_issues_docs_questions_are_answered_as_docs(
    services: AgentServices, alice: Principal, message: str
) -> None:
    _key(services, "alice", "cli-key")
    result = await answer(services, message, principal=alice)
    assert result.mode != "action" and result.pending_action is None
    assert "called" not in result.answer and "Which key" not in result.answer


async def test_delete_it_after_a_docs_answer_is_asked_back(
    services: AgentServices, alice: Principal
) -> None:
    _key(services, "alice", "cli-key")
    docs = await answer(services, "How do I rotate a key?", principal=alice)
    asked = await answer(
        services, "delete it", principal=alice, conversation_id=docs.conversation_id
    )
    assert asked.pending_action is None and asked.answer.count("?") == 1
    assert "“cli-key”" in asked.answer
    named = await answer(services, "cli-key", principal=alice, conversation_id=docs.conversation_id)
    assert named.pending_action and named.pending_action.tool == "revoke_api_key"


async def test_signed_out_no_message_of_the_eval_set_stages_anything(
    services: AgentServices,
) -> None:
    _key(services, "alice", "cli-key")
    conversation, token = None, None
    keyish = [c for s in SPLITS for c in load(s) if c.kind not in ("docs", "confirm", "deny")]
    for case in keyish:
        result = await answer(
            services, case.message, conversation_id=conversation, conversation_token=token
        )
        assert result.pending_action is None and result.secret is None, case.message
        conversation, token = result.conversation_id, result.conversation_token or token
    assert _pending_rows(services) == []
    assert [r.name for r in services.keys.list("")] == []


def _upstream_with_chips() -> str:
    """A docs-site answer whose suggested follow-ups include confirmations."""
    chips = "".join(
        f"- [{q}]({UPSTREAM}/x.md?ask={q.replace(' ', '+')})\n"
        for q in ("Yes", "Sure, go ahead", "How do I invite a teammate?")
    )
    return (
        f"# q\n\nThe site says so.\n\n# Suggested Follow-up Questions:\n{chips}\n"
        f"# Sources:\n- [X]({UPSTREAM}/x.md)\n"
    )


@pytest.mark.parametrize("llm", [False, True], ids=["offline", "llm"])
async def test_an_upstream_yes_is_never_offered_as_a_follow_up(
    real_index: Any, http_client: httpx.AsyncClient, llm: bool
) -> None:
    model = scripted(
        tool_call("ask_docs_site", {"question": "weather on Mars"}),
        AIMessage(content="The site says so [1]."),
    )
    services = build_services(
        make_settings(fallback_enabled=True),
        index=real_index,
        http_client=http_client,
        chat_model=model if llm else None,
    )
    with respx.mock(assert_all_called=False) as router:
        router.get(url__startswith=UPSTREAM).mock(
            return_value=httpx.Response(200, text=_upstream_with_chips())
        )
        result = await answer(services, "What is the weather on Mars?")
    assert result.mode == "fallback"
    assert result.followups == ["How do I invite a teammate?"]


def _llm_with_key(
    real_index: Any, http_client: httpx.AsyncClient, *script: AIMessage
) -> tuple[AgentServices, ScriptedChatModel, str]:
    """LLM-mode services over a scripted model, and alice's key 'alice-second'."""
    model = scripted(*script)
    services = build_services(
        make_settings(), index=real_index, http_client=http_client, chat_model=model
    )
    return services, model, _key(services, "alice", "alice-second")


async def test_llm_mode_a_stale_yes_does_not_resume_the_interrupt(
    real_index: Any, http_client: httpx.AsyncClient, alice: Principal
) -> None:
    services, model, secret = _llm_with_key(
        real_index,
        http_client,
        tool_call("rotate_api_key", {"key": "alice-second"}),
        AIMessage(content="Understood, I left the key alone."),
        AIMessage(content="Generate a key in Settings → API keys."),
        tool_call("rotate_api_key", {"key": "alice-second"}, "call_9"),
    )
    staged = await answer(services, "please rotate the key 'alice-second'", principal=alice)
    conv = staged.conversation_id
    assert staged.pending_action
    docs = await answer(
        services, "How do I generate an API key?", principal=alice, conversation_id=conv
    )
    assert "cancelled the request to rotate the key 'alice-second'" in docs.answer
    assert docs.decided_action and docs.decided_action.status == "cancelled"
    calls = model.calls
    late = await answer(services, "yes", principal=alice, conversation_id=conv)
    assert late.secret is None and late.pending_action is None and "nothing waiting" in late.answer
    assert model.calls == calls  # the stale yes never reached the model or the graph
    assert key_works(services.keys, secret)


async def test_llm_mode_a_yes_right_after_the_interrupt_resumes_it(
    real_index: Any, http_client: httpx.AsyncClient, alice: Principal
) -> None:
    services, _model, secret = _llm_with_key(
        real_index,
        http_client,
        tool_call("rotate_api_key", {"key": "alice-second"}),
        AIMessage(content="Rotated; the new secret is shown to you once."),
    )
    staged = await answer(services, "please rotate alice-second", principal=alice)
    assert staged.pending_action
    done = await answer(services, "yes", principal=alice, conversation_id=staged.conversation_id)
    assert done.secret is not None and not key_works(services.keys, secret)
    remember_secret(done.secret.api_key)
    assert done.decided_action and done.decided_action.status == "approved"


async def test_a_question_back_then_yes_or_no(services: AgentServices, alice: Principal) -> None:
    asked = await answer(services, "generate a staging key", principal=alice)
    assert asked.secret is None and "named “staging”" in asked.answer
    made = await answer(services, "yes", principal=alice, conversation_id=asked.conversation_id)
    assert made.secret is not None and made.secret.name == "staging"
    remember_secret(made.secret.api_key)
    maybe = await answer(services, "delete the primary key", principal=alice)
    assert maybe.pending_action is None and "“staging”" in maybe.answer
    no = await answer(services, "no", principal=alice, conversation_id=maybe.conversation_id)
    assert no.answer == "Okay, nothing was changed."
    assert [r.name for r in services.keys.list("alice") if not r.removed] == ["staging"]
