"""The tool registry on its own (real services, the local key store): what each tool does,
and the rules `invoke` applies to every tool on every surface: argument limits, the key
requirement, and the approval gate that no surface can get around."""

from __future__ import annotations

import json

import pytest

from agent.errors import (
    ApprovalError,
    ApprovalPendingError,
    ArgumentError,
    AuthenticationError,
    KeyNotFoundError,
    KeyRequiredError,
    QuestionError,
)
from agent.keys.base import Principal
from agent.service import AgentServices, answer, decide
from agent.toolbox import docs, keys
from agent.toolbox.catalog import BY_NAME, FOR_CLIENTS, FOR_MODEL, TOOLS
from agent.toolbox.host import PlainHost
from agent.toolbox.registry import ToolCall, ToolResult, ToolSpec, invoke
from tests.agent.conftest import PAGE
from tests.conftest import remember_secret


def make_call(services: AgentServices, who: Principal | None, **kw: object) -> ToolCall:
    return ToolCall(services, who, "mcp", PlainHost(services), **kw)  # type: ignore[arg-type]


async def run(
    services: AgentServices, who: Principal | None, spec: ToolSpec, **arguments: object
) -> ToolResult:
    return await invoke(spec, make_call(services, who), arguments)


async def generated(services: AgentServices, who: Principal, name: str) -> tuple[str, str]:
    """A key made with the generate tool: its id and (registered) secret."""
    made = await run(services, who, keys.generate_api_key, name=name)
    assert made.secret is not None
    return str(made.data["id"]), remember_secret(made.secret.api_key)


def test_every_tool_is_fully_described() -> None:
    """One paragraph of description, a description and a limit on every argument."""
    assert len(BY_NAME) == len(TOOLS)
    for spec in TOOLS:
        assert spec.description and "\n\n" not in spec.description, spec.name
        for name, prop in spec.input_schema.get("properties", {}).items():
            assert prop.get("description"), f"{spec.name}.{name}"
            kinds = [k for k in prop.get("anyOf", [prop]) if k.get("type") != "null"]
            limited = [k for k in kinds if {"maxLength", "maximum", "enum"} & set(k)]
            assert kinds and limited == kinds, f"{spec.name}.{name} has no limit"
        assert spec.input_schema["additionalProperties"] is False
    assert {s.name for s in TOOLS if s.needs_approval} == {"rotate_api_key", "revoke_api_key"}
    assert all(s.destructive and s.needs_key for s in TOOLS if s.needs_approval)
    assert "askQuestion" not in {s.name for s in FOR_MODEL}  # it would ask the model itself
    assert "ask_docs_site" not in {s.name for s in FOR_CLIENTS}  # askQuestion falls back too


async def test_search_returns_numbered_anchored_sections(services: AgentServices) -> None:
    found = await run(services, None, docs.search_documentation, query="rotate a compromised key")
    first = found.data["results"][0]
    assert first["url"] == PAGE + "#rotate-api-key" and first["ref"] == 1
    assert found.data["confident"] and "stop working" in first["text"]
    assert found.rendered.startswith("[1] ")
    with pytest.raises(QuestionError):
        await run(services, None, docs.search_documentation, query="   ")


async def test_get_page_accepts_page_and_md_urls_and_answers_unknown_pages(
    services: AgentServices,
) -> None:
    page = await run(services, None, docs.get_page, url=PAGE + ".md#rotate-api-key")
    assert page.data["found"] and page.data["title"] == "API Keys"
    assert "## Rotate API key" in page.rendered and "Agent Instructions" not in page.rendered
    missing = await run(services, None, docs.get_page, url="https://docs.nexos.ai/nope/api-keyz")
    assert missing.data["found"] is False and missing.data["similar"][0]["url"] == PAGE


async def test_arguments_are_checked_by_the_model_with_one_message(
    services: AgentServices,
) -> None:
    with pytest.raises(ArgumentError, match="query: String should have at most 2048"):
        await run(services, None, docs.search_documentation, query="x" * 2049)
    with pytest.raises(ArgumentError, match="query: Field required"):
        await run(services, None, docs.search_documentation)
    with pytest.raises(ArgumentError, match="k: Extra inputs are not permitted"):
        await run(services, None, docs.search_documentation, query="keys", k=3)
    with pytest.raises(QuestionError, match="longer than 512 characters"):  # the setting
        await run(services, None, docs.ask_question, question="why? " * 110)
    with pytest.raises(ArgumentError, match="either `key` or `approval_id`"):
        await run(services, None, keys.rotate_api_key)


async def test_key_tools_need_a_caller(services: AgentServices) -> None:
    for spec, arguments in ((keys.list_api_keys, {}), (keys.generate_api_key, {"name": "x"})):
        with pytest.raises(KeyRequiredError, match="needs you to be signed in"):
            await run(services, None, spec, **arguments)


async def test_generate_hands_the_secret_to_the_user_alone(
    services: AgentServices, alice: Principal
) -> None:
    made = await run(services, alice, keys.generate_api_key, name="Production")
    assert made.secret is not None
    secret = remember_secret(made.secret.api_key)
    assert secret not in json.dumps(made.data) and secret not in made.rendered
    assert services.keys.verify(secret).key_id == made.data["id"]
    listed = await run(services, alice, keys.list_api_keys)
    assert [k["name"] for k in listed.data] == ["Production"] and secret not in listed.rendered


async def test_a_change_without_approval_is_staged_or_refused_never_run(
    services: AgentServices, alice: Principal, bob: Principal
) -> None:
    key_id, secret = await generated(services, alice, "Gate")
    refused = make_call(services, alice, unapproved="refuse")
    with pytest.raises(ApprovalError, match="needs the user's approval"):
        await invoke(keys.revoke_api_key, refused, {"key": "Gate"})
    staged = await run(services, alice, keys.revoke_api_key, key="Gate")
    assert staged.pending is not None and staged.data["status"] == "pending_approval"
    assert services.keys.verify(secret).owner == "alice"  # nothing ran
    with pytest.raises(KeyNotFoundError):
        await run(services, bob, keys.revoke_api_key, key=key_id)
    pending_id = staged.pending.id
    with pytest.raises(ApprovalPendingError):
        await run(services, alice, keys.revoke_api_key, approval_id=pending_id)
    with pytest.raises(ApprovalError):  # not bob's to ask about
        await run(services, bob, keys.revoke_api_key, approval_id=pending_id)
    assert staged.conversation_id is not None
    await decide(services, staged.conversation_id, pending_id, approve=True, principal=alice)
    status = await run(services, alice, keys.revoke_api_key, approval_id=pending_id)
    assert status.data["status"] == "approved"
    assert all(r.removed or not r.enabled for r in services.keys.list("alice") if r.name == "Gate")


async def test_an_approval_covers_one_change_of_one_key_once(
    services: AgentServices, alice: Principal
) -> None:
    for name in ("One", "Two"):
        await generated(services, alice, name)
    staged = await run(services, alice, keys.rotate_api_key, key="One")
    assert staged.pending is not None and staged.conversation_id is not None
    pending = services.approvals.consume(
        staged.pending.id, owner="alice", conversation_id=staged.conversation_id, approve=True
    )
    call = make_call(services, alice, approval=pending, unapproved="refuse")
    with pytest.raises(ApprovalError):  # approved for One, not Two
        await invoke(keys.rotate_api_key, call, {"key": "Two"})
    with pytest.raises(ApprovalError):  # approved to rotate, not to revoke
        await invoke(keys.revoke_api_key, call, {"key": "One"})
    rotated = await invoke(keys.rotate_api_key, call, {"key": "One"})
    assert rotated.secret is not None
    remember_secret(rotated.secret.api_key)
    assert services.keys.audit("alice")[0].approval_id == pending.id
    with pytest.raises(ApprovalError):  # spent
        await invoke(keys.rotate_api_key, call, {"key": "One"})


async def test_a_tool_staged_change_is_confirmed_by_the_next_yes_in_its_conversation(
    services: AgentServices, alice: Principal
) -> None:
    _, secret = await generated(services, alice, "Linked")
    staged = await run(services, alice, keys.revoke_api_key, key="Linked")
    assert staged.pending is not None
    # the approval link opens this conversation in the web chat; typing yes there decides it
    done = await answer(services, "yes", principal=alice, conversation_id=staged.conversation_id)
    assert done.decided_action and done.decided_action.status == "approved"
    with pytest.raises(AuthenticationError):
        services.keys.verify(secret)
