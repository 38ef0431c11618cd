"""LLM mode on PostgreSQL: a rotate paused by the human-in-the-loop middleware on one
host resumes on another. Each host has its own data dir, so only the shared database
(the LangGraph PostgreSQL checkpointer) can carry the paused turn across."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from langchain_core.messages import AIMessage

from agent.config import AgentSettings
from agent.errors import AuthenticationError
from agent.keys.base import Principal
from agent.service import AgentServices, answer, build_services, decide
from tests.agent.conftest import scripted, tool_call
from tests.conftest import remember_secret


def _host(tmp_path: Path, name: str, pg_url: str, client: httpx.AsyncClient) -> AgentServices:
    settings = AgentSettings(
        data_dir=tmp_path / name,
        docs_cache=tmp_path / "docs_cache",
        database_url=pg_url,
        key_pepper="shared-pepper-for-every-host",
        fallback_enabled=False,
    )
    return build_services(settings, http_client=client)


async def test_a_paused_rotation_is_approved_on_another_host(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    alice = Principal(owner="alice", key_id=None)
    async with httpx.AsyncClient() as client:
        host_a = _host(tmp_path, "a", pg_url, client)
        host_b = _host(tmp_path, "b", pg_url, client)
        try:
            await _rotate_on_a_approve_on_b(host_a, host_b, alice)
        finally:
            for host in (host_a, host_b):
                host.engine.dispose()


async def _rotate_on_a_approve_on_b(
    host_a: AgentServices, host_b: AgentServices, alice: Principal
) -> None:
    _, secret = host_a.keys.create("alice", "Production")
    remember_secret(secret)
    host_a.chat_model = scripted(tool_call("rotate_api_key", {"key": "Production"}))
    model_b = scripted(AIMessage(content="Rotated; the new key is shown to you once."))
    host_b.chat_model = model_b

    staged = await answer(host_a, "rotate my Production key", principal=alice)
    assert staged.pending_action is not None
    assert host_b.keys.verify(secret).owner == "alice"  # nothing happened yet

    done = await decide(
        host_b,
        staged.conversation_id,
        staged.pending_action.id,
        approve=True,
        principal=alice,
    )
    assert done.secret is not None
    remember_secret(done.secret.api_key)
    with pytest.raises(AuthenticationError):
        host_a.keys.verify(secret)
    assert host_a.keys.verify(done.secret.api_key).owner == "alice"
    assert done.secret.api_key not in model_b.seen_text()
