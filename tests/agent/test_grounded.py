"""Grounded LLM mode with a streaming chat model that records what it was given: the
answer streams as written, every citation maps to a source, an answer citing nothing (or
a model that is slow, busy or broken) gives the extractive answer and says why, key
actions are the router's alone, and closing the stream stops the generation."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from agent.extractive import Draft
from agent.grounded import CitationFilter, GroundedWriter, Grounding, Written, evidence
from agent.keys.base import Principal
from agent.models import Source
from agent.service import AgentServices, answer, answer_events, build_services
from tests.agent.conftest import StreamingChatModel as Writer
from tests.agent.conftest import make_settings
from tests.conftest import remember_secret

ROTATE = "How do I rotate an API key?"


def _services(real_index: Any, client: httpx.AsyncClient, model: Writer | None, **over: Any) -> Any:
    settings = make_settings(llm_style="grounded", fallback_enabled=False, **over)
    return build_services(settings, index=real_index, http_client=client, chat_model=model)


async def _events(services: AgentServices, question: str, **kw: Any) -> list[tuple[str, Any]]:
    return [event async for event in answer_events(services, question, **kw)]


async def test_the_answer_streams_as_written_and_cites_real_sources(
    real_index: Any, http_client: httpx.AsyncClient
) -> None:
    model = Writer(pause=0.01)
    services = _services(real_index, http_client, model)
    events = await _events(services, ROTATE)
    kinds = [kind for kind, _ in events]
    deltas = [data["text"] for kind, data in events if kind == "delta"]
    done = events[-1][1]
    assert kinds[-1] == "done" and "reset" not in kinds
    assert len(deltas) >= 10 and kinds.index("delta") < kinds.index("sources")
    assert "".join(deltas).strip() == done["answer"]
    # the model's words, then the docs' own for them: the extractive answer, as cited
    offline = await answer(_services(real_index, http_client, None), ROTATE)
    assert done["answer"] == f"{model.reply}\n\n**From the docs:**\n\n{offline.answer}"
    assert [s["url"] for s in done["sources"]] == [s.url for s in offline.sources]
    assert done["generation"] == "llm" and done["mode"] == "local"
    assert done["sources"][0]["url"].endswith("#rotate-api-key")
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", done["answer"])}
    assert cited and max(cited) <= len(done["sources"])
    assert model.kwargs[0]["max_tokens"] == services.settings.llm_max_tokens
    shown = model.shown()
    assert "[1] API Keys" in shown and "choose Rotate" in shown  # the section, numbered


async def test_a_citation_that_points_nowhere_is_dropped(
    real_index: Any, http_client: httpx.AsyncClient
) -> None:
    model = Writer(reply="Choose Rotate in the API Keys tab [1][9]. It is permanent [1, 7].")
    result = await answer(_services(real_index, http_client, model), ROTATE)
    said = result.answer.split("\n\n**From the docs:**\n\n")[0]
    assert said == "Choose Rotate in the API Keys tab [1]. It is permanent [1]."
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", result.answer)}
    assert result.generation == "llm" and max(cited) <= len(result.sources)


def test_the_citation_filter_waits_for_a_citation_split_across_chunks() -> None:
    cites = CitationFilter(2)
    out = cites.feed("Rotate it [") + cites.feed("2") + cites.feed("] or [") + cites.feed("5]")
    out += cites.feed(" see [the docs](https://x.test).") + cites.finish()
    assert out == "Rotate it [2] or  see [the docs](https://x.test)."
    assert cites.cited == [2]
    code = CitationFilter(1)
    out = code.feed("Use `items[0") + code.feed("].value` [1] or ```\nx = a[3]\n``` [4]")
    assert out + code.finish() == "Use `items[0].value` [1] or ```\nx = a[3]\n``` "


async def test_an_answer_citing_nothing_gives_the_extractive_answer_and_says_so(
    real_index: Any, http_client: httpx.AsyncClient
) -> None:
    offline = await answer(
        build_services(make_settings(fallback_enabled=False), index=real_index), ROTATE
    )
    model = Writer(reply="You can rotate keys whenever you like.")
    events = await _events(_services(real_index, http_client, model), ROTATE)
    kinds = [kind for kind, _ in events]
    done = events[-1][1]
    assert "reset" in kinds and kinds.index("reset") < len(kinds) - 1
    after = [d["text"] for k, d in events[kinds.index("reset") :] if k == "delta"]
    assert "".join(after) == done["answer"] == offline.answer
    assert done["generation"] == "extractive: the model's answer cited no source"


async def test_a_slow_or_broken_model_gives_the_extractive_answer(
    real_index: Any, http_client: httpx.AsyncClient
) -> None:
    slow = Writer(pause=0.5)
    result = await answer(_services(real_index, http_client, slow, llm_timeout=0.3), ROTATE)
    assert result.generation == "extractive: the model did not finish within 0.3 s"
    assert result.mode == "local" and "Rotate" in result.answer and result.sources
    assert slow.abandoned == [True]
    broken = await answer(_services(real_index, http_client, Writer(fail=True)), ROTATE)
    assert broken.generation == "extractive: the model failed" and broken.sources


async def test_a_second_chat_does_not_wait_forever_for_a_busy_model(
    real_index: Any, http_client: httpx.AsyncClient
) -> None:
    model = Writer(pause=0.1)
    services = _services(real_index, http_client, model, llm_queue_wait=0.2)
    first = asyncio.ensure_future(answer(services, ROTATE))
    await asyncio.sleep(0.05)
    second = await answer(services, "How do I generate an API key?")
    assert second.generation == "extractive: the model is busy with other questions"
    assert (await first).generation == "llm"


async def test_key_actions_are_the_routers_and_the_model_never_sees_a_secret(
    real_index: Any, http_client: httpx.AsyncClient, alice: Principal
) -> None:
    model = Writer()
    services = _services(real_index, http_client, model)
    _, secret = services.keys.create("alice", "Production")
    remember_secret(secret)
    docs = await answer(services, "How do I rotate my API key?", principal=alice)
    assert docs.pending_action is None and docs.generation == "llm"
    staged = await answer(services, "rotate my Production key", principal=alice)
    assert staged.pending_action is not None and staged.pending_action.tool == "rotate_api_key"
    assert len(model.received) == 1  # the key request never reached the model
    pasted = await answer(
        services, f"my key {secret} leaked, how do I rotate an API key?", principal=alice
    )
    assert pasted.pending_action is None and len(model.received) == 2
    assert secret not in model.shown() and "[redacted" in model.shown()


async def test_closing_the_stream_stops_the_generation(
    real_index: Any, http_client: httpx.AsyncClient
) -> None:
    model = Writer(pause=0.05)
    stream = answer_events(_services(real_index, http_client, model), ROTATE)
    kind, _ = await stream.__anext__()
    assert kind == "delta"
    await stream.aclose()  # what sse-starlette does when the client goes away
    await asyncio.sleep(0.2)
    assert model.abandoned == [True]


async def test_a_question_the_docs_do_not_cover_never_reaches_the_model(
    real_index: Any, http_client: httpx.AsyncClient
) -> None:
    model = Writer()
    result = await answer(
        _services(real_index, http_client, model), "What is the boiling point of tungsten?"
    )
    assert result.mode == "none" and model.received == []


async def test_warming_up_reads_exactly_what_every_prompt_begins_with(
    real_index: Any, http_client: httpx.AsyncClient
) -> None:
    """llama.cpp's server reuses a prompt's evaluated prefix only when it matches token for
    token: the warm-up must be the real prompts' beginning, not a look-alike."""
    model = Writer()
    services = _services(real_index, http_client, model)
    assert await services.writer.warm() is not None
    await answer(services, ROTATE)
    warm, real = model.received
    assert model.kwargs[0]["max_tokens"] == 1
    assert [type(m) for m in warm] == [type(m) for m in real]
    assert [m.content for m in warm[:-1]] == [m.content for m in real[: len(warm) - 1]]
    assert str(real[-1].content).startswith(str(warm[-1].content))
    assert "Question:" not in str(warm[-1].content)  # no question of anyone's is sent


async def test_a_warm_up_never_waits_for_an_answer_and_a_failed_one_breaks_nothing(
    real_index: Any, http_client: httpx.AsyncClient
) -> None:
    failing = _services(real_index, http_client, Writer(fail=True))
    assert await failing.writer.warm() is None
    assert (await answer(failing, ROTATE)).generation.startswith("extractive")
    model = Writer()
    busy = _services(real_index, http_client, model)
    async with busy.writer._slots:  # a question is being answered
        assert await asyncio.wait_for(busy.writer.warm(), 1) is None
    assert model.received == []


async def test_a_link_the_answer_would_defuse_is_never_streamed(
    real_index: Any, http_client: httpx.AsyncClient
) -> None:
    """A model (or a prompt-injected source) writes a `javascript:` link: the stream stops
    before it, and the finished answer, the link defused, replaces what was sent."""
    model = Writer(reply="Choose Rotate [1]. [Click here](javascript:alert(1)) to finish [1].")
    events = await _events(_services(real_index, http_client, model), ROTATE)
    kinds = [kind for kind, _ in events]
    before = kinds.index("reset")
    streamed = "".join(data["text"] for kind, data in events[:before] if kind == "delta")
    assert streamed.startswith("Choose Rotate [1].")
    assert "javascript" not in streamed and "Click here" not in streamed
    done = events[-1][1]
    assert "javascript:" not in done["answer"] and "Click here" in done["answer"]


async def test_the_model_reads_link_text_but_not_link_targets(
    sites_index: Any, http_client: httpx.AsyncClient
) -> None:
    """A URL costs a small model tokens before its first word, and one it never read it
    cannot copy into its answer; the answer's sources still link the pages."""
    model = Writer(reply="Keep a counter of your own [1].")
    result = await answer(
        _services(sites_index, http_client, model),
        "how do I get the total count of a list of results?",
    )
    shown = model.shown().split("Sources:")[-1]
    assert "keep a counter in your own database updated from [webhooks]." in shown
    assert "](" not in shown and "webhooks.md" not in shown and "**" not in shown
    assert result.generation == "llm" and result.sources[0].url.startswith("http")


def test_the_docs_own_words_follow_only_when_their_numbers_mean_the_same_sources() -> None:
    a, b, c = (Source(title=t, url=f"https://d.test/p#{t}") for t in "abc")
    draft = Draft("**a** [1]\n\nThe text.", [a])
    quoted = evidence(Written("It is so [2].", [a, b]), draft)
    assert quoted == ("\n\n**From the docs:**\n\n**a** [1]\n\nThe text.", [a, b])
    assert evidence(Written("It is so [1].", [c]), draft) is None


async def test_the_docs_own_words_stream_after_the_models_and_never_with_an_unsafe_link() -> None:
    """They pass the same link check as the model's text: a `javascript:` link in the docs
    stops the stream before it (the finished answer, defused, follows a reset)."""
    a = Source(title="a", url="https://d.test/p#a")
    for docs, streams in (("See the guide.", True), ("See [x](javascript:alert(1)).", False)):
        ground = Grounding("q?", [a], ["The text."], Draft(f"**a** [1]\n\n{docs}", [a]))
        sent: list[str] = []

        async def on_delta(text: str, sent: list[str] = sent) -> None:
            sent.append(text)

        writer = GroundedWriter(
            Writer(reply="It is so [1]."),
            site="https://d.test",
            max_tokens=50,
            timeout=10,
            queue_wait=1,
        )
        written = await writer.write(ground, on_delta)
        assert isinstance(written, Written) and written.sources == [a]
        assert written.text == f"It is so [1].\n\n**From the docs:**\n\n**a** [1]\n\n{docs}"
        assert ("".join(sent).strip() == written.text) is streams
        assert "javascript" not in "".join(sent)
