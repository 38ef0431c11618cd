"""`POST /v1/chat/completions` with `stream: true` over a real uvicorn server: a grounded
model's tokens reach the client while it writes (a gated model waits for the client to
have its first word), a finished answer that replaces the streamed text follows a
separator, a link that may not leave the server is never streamed, max_tokens cuts the
stream where the whole reply would be cut and stops the model, a client that goes away
stops it too, the history the client got continues its
conversation, and offline answers stream as before."""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import time
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent.errors import UpstreamError
from agent.grounded import GroundedWriter
from agent.models import Answer
from agent.service import AgentServices
from server.config import Settings
from server.openai_reply import Exchange
from server.openai_stream import Outgoing, completion_chunks
from server.tokens import TokenCounter
from tests.agent.conftest import StreamingChatModel
from tests.conftest import remember_secret
from tests.server.conftest import LiveServer, new_user, serving

pytestmark = pytest.mark.e2e
QUESTION = "How do I rotate an API key?"
PLACEHOLDER = {"Authorization": "Bearer sk-placeholder"}
LONG = " ".join(
    ["Open the API Keys tab and choose Rotate [1]. The old key stops working at once [1]."] * 3
)
GATE_WAIT = 8.0  # seconds the gated model waits for the client before writing on anyway


class GatedModel(StreamingChatModel):
    """The streaming fake, holding back all but its first word until `gate` is set (the
    test sets it once the client has that word); `waited` says whether it was."""

    gate: Any = None  # a threading.Event: the server runs in another thread
    waited: list[bool] = []  # noqa: RUF012 - a pydantic field, per instance

    async def _astream(self, *args: Any, **kwargs: Any) -> Any:
        first = True
        async for chunk in super()._astream(*args, **kwargs):
            yield chunk
            if first:
                first, deadline = False, time.monotonic() + GATE_WAIT
                while not self.gate.is_set() and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                self.waited.append(self.gate.is_set())


@contextmanager
def writing(
    settings: Settings, services: AgentServices, model: StreamingChatModel
) -> Iterator[LiveServer]:
    """A live server whose docs answers `model` writes (grounded LLM mode)."""
    services.writer = GroundedWriter(
        model, site=settings.site_url, max_tokens=200, timeout=30, queue_wait=5
    )
    try:
        with serving(settings, services) as live:
            yield live
    finally:
        services.writer = None


def stream(
    live: LiveServer,
    messages: list[dict[str, str]],
    headers: dict[str, str] = PLACEHOLDER,
    on_content: Any = None,
    **options: Any,
) -> list[Any]:
    """The stream's data items in order (chunks as dicts, then "[DONE]")."""
    items: list[Any] = []
    body = {"model": "docsagent", "messages": messages, "stream": True, **options}
    with (
        httpx.Client(base_url=live.url, timeout=30) as client,
        client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response,
    ):
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            items.append(data if data == "[DONE]" else json.loads(data))
            if on_content is not None and content_of(items[-1]):
                on_content()
    return items


def content_of(item: Any) -> str:
    if not isinstance(item, dict) or not item.get("choices"):
        return ""
    return str(item["choices"][0]["delta"].get("content") or "")


def text_of(items: list[Any]) -> str:
    return "".join(content_of(i) for i in items)


def finish_of(items: list[Any]) -> dict[str, Any]:
    """The last chunk with a choice: its finish_reason and the docsagent extra."""
    last = [i for i in items if isinstance(i, dict) and i.get("choices")][-1]
    return {"reason": last["choices"][0]["finish_reason"], **last.get("docsagent", {})}


def complete(live: LiveServer, messages: list[dict[str, str]], **options: Any) -> dict[str, Any]:
    body = {"model": "docsagent", "messages": messages, **options}
    with httpx.Client(base_url=live.url, timeout=30) as client:
        reply = client.post("/v1/chat/completions", json=body, headers=PLACEHOLDER)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def wait_for(condition: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(condition())


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_tokens_reach_the_client_while_the_model_writes(
    settings: Settings, services: AgentServices
) -> None:
    gate = threading.Event()
    model = GatedModel(gate=gate)
    with writing(settings, services, model) as live:
        items = stream(
            live, ask(QUESTION), on_content=gate.set, stream_options={"include_usage": True}
        )
        whole = complete(live, ask(QUESTION))
    assert model.waited[0] is True  # the client had the first word before the model went on
    assert items[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len([i for i in items if content_of(i)]) >= 10  # the model's pieces, as written
    content = whole["choices"][0]["message"]["content"]
    assert text_of(items) == content  # the same message as without streaming, sources too
    assert content.startswith(model.reply) and "Sources:\n- [API Keys" in content
    end = finish_of(items)
    assert end["reason"] == "stop" and end["mode"] == "local" and end["conversation_id"]
    assert items[-2]["choices"] == [] and items[-2]["usage"]["completion_tokens"] > 20
    assert items[-1] == "[DONE]"


def test_a_replaced_answer_follows_a_separator_and_the_history_sent_continues(
    settings: Settings, services: AgentServices
) -> None:
    """The model cites nothing: its streamed text stays, then a rule, a note why, and the
    extractive answer; the client's history (with what it got) continues the conversation."""
    uncited = "Open the API Keys tab and choose Rotate. The old key stops working."
    with writing(settings, services, StreamingChatModel(reply=uncited, pause=0.01)) as live:
        items = stream(live, ask(QUESTION))
        extractive = complete(live, ask(QUESTION))["choices"][0]["message"]["content"]
        got, conversation = text_of(items), finish_of(items)["conversation_id"]
        again = [*ask(QUESTION), {"role": "assistant", "content": got}, *ask("and revoke one?")]
        continued = complete(live, again)["docsagent"]["conversation_id"]
    note = "\n\n---\n\n*The text above is not the answer: the model's answer cited no source."
    assert got.startswith(uncited + note)
    assert got.endswith("*\n\n" + extractive)  # the finished reply, in full, after the note
    assert finish_of(items)["reason"] == "stop"
    assert continued == conversation  # recorded: what the client was sent


def test_a_link_that_may_not_leave_is_never_streamed(
    settings: Settings, services: AgentServices
) -> None:
    """The model copies a `javascript:` link: streaming stops before it, and the finished
    answer, the link defused, follows the separator."""
    reply = "Open the API Keys tab [1]. See [the guide](javascript:alert(1)) for more [1]."
    with writing(settings, services, StreamingChatModel(reply=reply)) as live:
        got = text_of(stream(live, ask(QUESTION)))
        content = complete(live, ask(QUESTION))["choices"][0]["message"]["content"]
    assert "javascript" not in got and "See the guide for more [1]." in content
    assert got.startswith("Open the API Keys tab [1]. See [the\n\n---\n\n*The answer changed")
    assert got.endswith("*\n\n" + content)


def test_max_tokens_cuts_the_stream_and_stops_the_model(
    settings: Settings, services: AgentServices
) -> None:
    model = StreamingChatModel(reply=LONG, pause=0.05)
    with writing(settings, services, model) as live:
        first = stream(live, ask(QUESTION))
        conversation = finish_of(first)["conversation_id"]
        history = [*ask(QUESTION), {"role": "assistant", "content": text_of(first)}]
        cut = stream(
            live,
            [*history, *ask("How do I rotate a key?")],
            max_tokens=10,
            stream_options={"include_usage": True},
        )
        assert wait_for(lambda: len(model.abandoned) == 2)
        stopped = list(model.abandoned)
        resent = [*history, *ask("How do I rotate a key?")]
        resent.append({"role": "assistant", "content": text_of(cut)})
        continued = complete(live, [*resent, *ask("and revoke one?")])
    assert stopped == [False, True]  # the second generation was stopped at the cut
    assert text_of(cut) == live.app.state.openai.tokens.truncate(LONG, 10)[0]
    assert finish_of(cut)["reason"] == "length" and cut[-2]["usage"]["completion_tokens"] <= 10
    assert finish_of(cut)["conversation_id"] == conversation  # the history continued it
    assert continued["docsagent"]["conversation_id"] == conversation


def test_a_client_that_goes_away_stops_the_model(
    settings: Settings, services: AgentServices
) -> None:
    model = StreamingChatModel(reply=LONG, pause=0.2)  # ~9 s if nobody stopped it
    body = {"model": "docsagent", "messages": ask(QUESTION), "stream": True}
    with writing(settings, services, model) as live:
        with (
            httpx.Client(base_url=live.url, timeout=30) as client,
            client.stream(
                "POST", "/v1/chat/completions", json=body, headers=PLACEHOLDER
            ) as response,
        ):
            for line in response.iter_lines():
                if line.startswith("data:") and content_of(json.loads(line[5:])):
                    break  # the first word: hang up
        assert wait_for(lambda: model.abandoned != [])
    assert model.abandoned == [True]


def test_offline_answers_stream_as_before(live_server: LiveServer) -> None:
    """No model: the finished message in 48-character pieces between the role chunk and
    the last chunk, the same text as without streaming."""
    items = stream(live_server, ask(QUESTION), stream_options={"include_usage": True})
    content = complete(live_server, ask(QUESTION))["choices"][0]["message"]["content"]
    pieces = [content[i : i + 48] for i in range(0, len(content), 48)]
    assert items[0]["choices"] == [
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
    ]
    assert [i["choices"][0]["delta"] for i in items[1:-3]] == [{"content": p} for p in pieces]
    last = items[-3]
    assert last["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert set(last["docsagent"]) == {"mode", "conversation_id", "conversation_token"}
    assert last["docsagent"]["mode"] == "local"
    assert items[-2]["choices"] == [] and set(items[-2]["usage"]) == {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
    }
    assert items[-1] == "[DONE]"
    assert {i["object"] for i in items[:-1]} == {"chat.completion.chunk"}
    assert len({i["id"] for i in items[:-1]}) == 1


def test_a_streamed_pending_action_is_approved_and_its_key_link_survives_a_cut(
    live_server: LiveServer,
) -> None:
    services = live_server.app.state.services
    alice = new_user(services)
    services.keys.create(alice.owner, "Laptop", actor=alice.owner, channel="cli")
    staged = stream(live_server, ask("please rotate the Laptop key"), alice.headers)
    text = text_of(staged)
    assert re.search(r"Pending action `pa_[^`]+`: reply yes or no", text), text
    history = [*ask("please rotate the Laptop key"), {"role": "assistant", "content": text}]
    done = stream(live_server, [*history, *ask("yes")], alice.headers, max_tokens=3)
    secret = [i for i in done if isinstance(i, dict) and "docsagent_secret" in i]
    assert secret, "the last chunk carries the new key for docsagent-aware clients"
    remember_secret(secret[0]["docsagent_secret"]["api_key"])
    assert finish_of(done)["reason"] == "length"
    assert finish_of(done)["conversation_id"] == finish_of(staged)["conversation_id"]
    assert "Open http://127.0.0.1:" in text_of(done) and "/#secret=" in text_of(done)


def test_bad_streaming_requests_are_errors_as_before(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:

        def post(body: dict[str, Any]) -> httpx.Response:
            body = {"stream": True, **body}
            return client.post("/v1/chat/completions", json=body, headers=PLACEHOLDER)

        unknown = post({"model": "gpt-4o", "messages": ask(QUESTION)})
        blank = post({"model": "docsagent", "messages": ask("   ")})
        invalid = post({"model": "docsagent", "messages": ask(QUESTION), "max_tokens": 0})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert blank.status_code == 400 and blank.json()["error"]["code"] == "bad_request"
    assert invalid.status_code == 400 and "max_tokens" in invalid.json()["error"]["message"]


async def test_an_error_after_text_was_sent_ends_the_stream_with_the_error_shape(
    app: FastAPI,
) -> None:
    async def failing() -> AsyncGenerator[str | Answer, None]:
        yield " the rest"
        raise UpstreamError("the key service did not answer", cause="timeout")

    exchange = Exchange(
        state=app.state.openai,
        owner="",
        history=[],
        question=QUESTION,
        found=None,
        placeholder=False,
        limit=None,
        site="http://127.0.0.1",
        prompt_tokens=7,
    )
    head = {"id": "chatcmpl-1", "created": 0, "model": "docsagent"}
    items = completion_chunks(exchange, head, "Open", failing(), with_usage=True)
    events = [json.loads(e["data"]) async for e in items]
    assert [content_of(e) for e in events[:3]] == ["", "Open", " the rest"]
    assert events[-1] == {
        "error": {
            "code": "upstream_error",
            "message": "the key service did not answer",
            "request_id": "",
        }
    }  # the openai client raises it; no [DONE]


@pytest.mark.parametrize("seed", range(4))
def test_a_text_cut_as_it_arrives_is_cut_where_the_whole_would_be(seed: int) -> None:
    """Whatever pieces the text comes in, the client gets exactly `truncate(text)`, and
    never anything it must take back; a different finished reply follows the separator."""
    tokens, rng = TokenCounter(), random.Random(seed)
    text = (
        "  Open **API Keys** › `items[0]`, then choose Rotate [1]. Ünïcode, hyphen-ated "
        "words and numbers like 1.5 or 2,000 stay whole [2].\n\n- a list item\n  "
    )
    separator, other = "\n\n---\n\n*Changed:*\n\n", "**Rotate API key** [1]\n\nRotating…"
    for limit in [None, *range(1, tokens.count(text) + 2)]:
        for reply in (text.strip(), other):
            out, sent = Outgoing(tokens, limit), ""
            rest = text[: rng.randint(1, len(text))] if reply == other else text
            while rest:
                size = rng.randint(1, 9)
                sent += out.add(rest[:size])
                assert text.strip().startswith(sent)
                rest = rest[size:]
            before = sent
            sent += out.finish(reply, separator)
            same = reply == text.strip() or not before  # nothing sent: no separator
            whole = reply if same else before + separator + reply
            expected = whole if limit is None else tokens.truncate(whole, limit)[0]
            assert sent == expected == out.sent, (limit, reply)
            assert out.cut == (expected != whole)
