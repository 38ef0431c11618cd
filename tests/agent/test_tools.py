"""The tools other assistants get: search_docs, get_page, ask_question, gated key tools."""

from __future__ import annotations

import pytest

from agent import tools
from agent.errors import AuthenticationError, QuestionError
from agent.keys.base import Principal
from agent.models import Answer
from agent.service import AgentServices, answer, decide
from tests.agent.conftest import PAGE
from tests.conftest import remember_secret


def test_search_docs_returns_anchored_sections(services: AgentServices) -> None:
    results = tools.search_docs(services, "rotate a compromised key", k=3)
    assert results[0]["url"] == PAGE + "#rotate-api-key"
    assert "stop working" in results[0]["text"]
    with pytest.raises(QuestionError):
        tools.search_docs(services, " ", k=3)


def test_get_page_accepts_page_and_md_urls(services: AgentServices) -> None:
    page = tools.get_page(services, PAGE + ".md")
    assert page["found"] and page["title"] == "API Keys"
    assert "## Rotate API key" in page["markdown"]
    assert "Agent Instructions" not in page["markdown"]
    missing = tools.get_page(services, "https://docs.nexos.ai/nope/api-keyz")
    assert missing["found"] is False and missing["similar"][0]["url"] == PAGE


async def test_ask_question_never_acts_on_keys(services: AgentServices) -> None:
    result = await tools.ask_question(services, "rotate the Production key")
    assert result.mode in {"local", "none"} and result.pending_action is None


def _generated_then_staged(
    services: AgentServices, who: Principal, name: str
) -> tuple[str, Answer]:
    """A key made with the generate tool, and its revocation staged with the revoke tool."""
    created = tools.generate_api_key(services, who, name)
    assert created.secret is not None
    return remember_secret(created.secret.api_key), tools.revoke_api_key(services, who, name)


async def test_key_tools_stage_destructive_changes(
    services: AgentServices, alice: Principal
) -> None:
    secret, staged = _generated_then_staged(services, alice, "MCP")
    assert staged.pending_action is not None
    assert services.keys.verify(secret).owner == "alice"
    listed = tools.list_api_keys(services, alice)
    assert "MCP" in listed.answer and secret not in listed.answer
    await decide(
        services, staged.conversation_id, staged.pending_action.id, approve=True, principal=alice
    )
    assert all(r.removed or not r.enabled for r in services.keys.list("alice"))
    assert tools.rotate_api_key(services, None, "MCP").pending_action is None


async def test_a_tool_staged_change_is_confirmed_by_the_next_yes_in_its_conversation(
    services: AgentServices, alice: Principal
) -> None:
    secret, staged = _generated_then_staged(services, alice, "Linked")
    assert staged.pending_action is not None
    # the approval link opens this conversation in the web chat; typing yes there decides it
    done = await answer(services, "yes", principal=alice, conversation_id=staged.conversation_id)
    assert done.decided_action and done.decided_action.status == "approved"
    with pytest.raises(AuthenticationError):
        services.keys.verify(secret)
