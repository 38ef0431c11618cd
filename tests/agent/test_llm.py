"""LLM mode with a scripted chat model that records its inputs (and once the real
ChatOpenAI against a mocked /v1/chat/completions: the openai SDK speaks httpx2, which respx
does not patch, so its MockTransport stands in): rotate is interrupted into our pending action,
a model cannot approve, approval executes once, secrets never reach the model."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage

from agent.errors import ApprovalError, AuthenticationError
from agent.keys.base import Principal
from agent.service import AgentServices, answer, build_services, decide
from tests.agent.conftest import ScriptedChatModel, make_settings, scripted, tool_call
from tests.conftest import remember_secret


def _services(real_index: Any, client: httpx.AsyncClient, model: Any) -> AgentServices:
    return build_services(make_settings(), index=real_index, http_client=client, chat_model=model)


def _live(services: AgentServices, owner: str) -> dict[str, str]:
    return {r.name: r.id for r in services.keys.list(owner) if not r.removed and r.enabled}


async def test_docs_question_uses_search_and_cites(
    real_index: Any, http_client: httpx.AsyncClient
) -> None:
    model = scripted(
        tool_call("searchDocumentation", {"query": "rotate a key"}),
        AIMessage(content="Choose Rotate in the API Keys tab [1]."),
    )
    services = _services(real_index, http_client, model)
    result = await answer(services, "How do I rotate a key?")
    assert result.mode == "local"
    assert result.sources[0].url.endswith("#rotate-api-key")
    assert "answer only from the results of your tools" in model.seen_text().lower()


async def test_generate_secret_never_reaches_the_model(
    real_index: Any, http_client: httpx.AsyncClient, alice: Principal
) -> None:
    model = scripted(
        tool_call("generate_api_key", {"name": "Production"}),
        AIMessage(content="Created Production; the secret is shown to you once."),
    )
    services = _services(real_index, http_client, model)
    result = await answer(services, "make me a key called Production", principal=alice)
    assert result.secret is not None
    remember_secret(result.secret.api_key)
    assert result.secret.api_key not in model.seen_text()
    assert result.secret.api_key not in result.answer
    assert services.keys.verify(result.secret.api_key).owner == "alice"


async def test_a_key_action_the_user_did_not_ask_for_is_dropped(
    real_index: Any, http_client: httpx.AsyncClient, alice: Principal, caplog: Any
) -> None:
    """A docs question about rotation: the model's rotate call (with an invented key, as
    a real 1.5B model did) stages nothing, its generate call makes no key, and the model
    is told why and goes on to answer from the docs."""
    services, secret = make_key(real_index, http_client, alice)
    model = scripted(
        tool_call("rotate_api_key", {"key": "k_123"}),
        tool_call("generate_api_key", {"name": "Helper"}, "call_2"),
        tool_call("searchDocumentation", {"query": "rotate a key"}, "call_3"),
        AIMessage(content="Choose Rotate in the API Keys tab [1]."),
    )
    services.chat_model = model
    before = _live(services, "alice")
    result = await answer(services, "How do I rotate my API key?", principal=alice)
    assert result.pending_action is None and result.secret is None
    assert result.mode == "local" and result.sources[0].url.endswith("#rotate-api-key")
    assert _live(services, "alice") == before
    assert services.keys.verify(secret).owner == "alice"
    told = [m for m in model.received[-1] if "did not ask for this key action" in str(m.content)]
    assert [getattr(m, "name", "") for m in told] == ["rotate_api_key", "generate_api_key"]
    ours = ("agent.llm", "agent.toolbox.langchain")
    dropped = [r.getMessage() for r in caplog.records if r.name in ours]
    assert dropped == [
        "dropped a rotate_api_key call the user did not ask for",
        "dropped a generate_api_key call the user did not ask for",
    ]


async def test_the_key_the_user_asked_to_rotate_is_staged_not_another_tool(
    real_index: Any, http_client: httpx.AsyncClient, alice: Principal
) -> None:
    services, _secret = make_key(real_index, http_client, alice)
    model = scripted(
        tool_call("revoke_api_key", {"key": "Production"}),
        tool_call("rotate_api_key", {"key": "Production"}, "call_2"),
        AIMessage(content="Rotated."),
    )
    services.chat_model = model
    staged = await answer(services, "rotate my Production key", principal=alice)
    assert staged.pending_action is not None
    assert staged.pending_action.tool == "rotate_api_key"


async def test_rotate_is_interrupted_and_a_model_cannot_approve(
    real_index: Any, http_client: httpx.AsyncClient, alice: Principal, bob: Principal
) -> None:
    services, secret = make_key(real_index, http_client, alice)
    model = scripted(
        tool_call("rotate_api_key", {"key": "Production"}),
        # After the interrupt, the model claims the user agreed and tries again.
        AIMessage(content="The user agreed, rotating now."),
        tool_call("rotate_api_key", {"key": "Production", "confirm": True}, "call_2"),
        AIMessage(content="Done."),
    )
    services.chat_model = model
    staged = await answer(services, "rotate my Production key", principal=alice)
    assert staged.pending_action is not None
    assert staged.pending_action.preview.startswith("The key 'Production' (")
    assert services.keys.verify(secret).owner == "alice"  # not executed
    # the user writes something else: the staged change is dropped, the model's claim is moot
    moved_on = await answer(
        services, "the user agreed, go", principal=alice, conversation_id=staged.conversation_id
    )
    assert services.keys.verify(secret).owner == "alice"
    with pytest.raises(ApprovalError):
        await decide(
            services,
            staged.conversation_id,
            staged.pending_action.id,
            approve=True,
            principal=alice,
        )
    assert moved_on.secret is None


async def test_approval_resumes_the_agent_once(
    real_index: Any, http_client: httpx.AsyncClient, alice: Principal, bob: Principal
) -> None:
    services, secret = make_key(real_index, http_client, alice)
    model = scripted(
        tool_call("rotate_api_key", {"key": "Production"}),
        AIMessage(content="Rotated; the new secret is shown to you once."),
    )
    services.chat_model = model
    staged = await answer(services, "rotate my Production key", principal=alice)
    assert staged.pending_action
    with pytest.raises(ApprovalError):  # another user cannot approve it
        await _raise_for_other(services, staged, bob)
    done = await decide(
        services, staged.conversation_id, staged.pending_action.id, approve=True, principal=alice
    )
    assert done.secret is not None
    remember_secret(done.secret.api_key)
    with pytest.raises(AuthenticationError):
        services.keys.verify(secret)
    assert services.keys.verify(done.secret.api_key).owner == "alice"
    assert done.secret.api_key not in model.seen_text()
    with pytest.raises(ApprovalError):
        await decide(
            services,
            staged.conversation_id,
            staged.pending_action.id,
            approve=True,
            principal=alice,
        )


async def _raise_for_other(services: AgentServices, staged: Any, other: Principal) -> None:
    from agent.errors import ConversationNotFoundError

    try:
        await decide(
            services,
            staged.conversation_id,
            staged.pending_action.id,
            approve=True,
            principal=other,
        )
    except ConversationNotFoundError as exc:
        raise ApprovalError(str(exc)) from exc


async def test_reject_resumes_without_change(
    real_index: Any, http_client: httpx.AsyncClient, alice: Principal
) -> None:
    services, secret = make_key(real_index, http_client, alice)
    services.chat_model = scripted(
        tool_call("revoke_api_key", {"key": "Production"}),
        AIMessage(content="Okay, I left it alone."),
    )
    staged = await answer(services, "revoke Production", principal=alice)
    assert staged.pending_action
    result = await decide(
        services, staged.conversation_id, staged.pending_action.id, approve=False, principal=alice
    )
    assert result.secret is None
    assert services.keys.verify(secret).owner == "alice"


def make_key(
    real_index: Any, client: httpx.AsyncClient, who: Principal
) -> tuple[AgentServices, str]:
    services = _services(real_index, client, None)
    _, secret = services.keys.create(who.owner, "Production")
    return services, remember_secret(secret)


async def test_real_chat_openai_against_a_mocked_endpoint(
    real_index: Any, http_client: httpx.AsyncClient, alice: Principal
) -> None:
    from langchain_openai import ChatOpenAI

    requests: list[dict[str, Any]] = []

    import httpx2  # the openai SDK's HTTP client; respx patches httpx only

    def reply(request: Any) -> Any:
        body = json.loads(request.content)
        requests.append(body)
        if len(requests) == 1:
            message: dict[str, Any] = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {
                            "name": "generate_api_key",
                            "arguments": json.dumps({"name": "CI"}),
                        },
                    }
                ],
            }
        else:
            message = {"role": "assistant", "content": "Created CI; shown once."}
        return httpx2.Response(
            200,
            json={
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": "m",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )

    def route(request: Any) -> Any:
        assert request.url.path == "/v1/chat/completions"
        return reply(request)

    transport = httpx2.MockTransport(route)
    async with httpx2.AsyncClient(transport=transport) as llm_client:
        model = ChatOpenAI(
            model="m",
            base_url="https://llm.test/v1",
            api_key="sk-test",  # type: ignore[arg-type]
            http_async_client=llm_client,
        )
        services = _services(real_index, http_client, model)
        result = await answer(services, "create a key named CI", principal=alice)
    assert result.secret is not None
    remember_secret(result.secret.api_key)
    assert len(requests) == 2
    assert result.secret.api_key not in json.dumps(requests)
    assert any(t["function"]["name"] == "rotate_api_key" for t in requests[0]["tools"])


def test_scripted_model_is_a_chat_model() -> None:
    assert isinstance(scripted(), ScriptedChatModel)


async def test_a_model_that_keeps_calling_tools_is_stopped_at_the_cap(
    real_index: Any, http_client: httpx.AsyncClient
) -> None:
    loop = [
        tool_call("searchDocumentation", {"query": f"rotate {i}"}, f"call_{i}") for i in range(20)
    ]
    model = scripted(*loop)
    services = build_services(
        make_settings(llm_max_tool_calls=3),
        index=real_index,
        http_client=http_client,
        chat_model=model,
    )
    result = await answer(services, "How do I rotate a key?")
    executed = [
        m for batch in model.received[-1:] for m in batch if type(m).__name__ == "ToolMessage"
    ]
    assert len(executed) <= 3  # the fourth search never ran
    assert model.calls <= 5  # the turn ended instead of looping through the whole script
    assert result.answer  # the user still gets a reply
