"""A follow-up question is resolved against the previous turn of the conversation."""

from __future__ import annotations

from pathlib import Path

import httpx
import respx

from agent.retrieve import Context, is_followup
from agent.service import AgentServices, answer, build_services
from ingest.store import DocIndex
from tests.agent.conftest import PAGE, UPSTREAM, make_settings


def test_followup_cues_are_pronouns_and_ellipsis_not_topics() -> None:
    for question in ["how do I save it?", "and for teams?", "what about the CLI?", "undo that"]:
        assert is_followup(question), question
    for question in ["How do I rotate an API key?", "Where do I find the API keys page?"]:
        assert not is_followup(question), question


async def test_how_do_i_save_it_after_a_key_answer(services: AgentServices) -> None:
    first = await answer(services, "how do I make an api key?")
    assert first.mode == "local"
    second = await answer(
        services,
        "how do I save it?",
        conversation_id=first.conversation_id,
        conversation_token=first.conversation_token,
    )
    assert second.mode == "local", second.answer
    assert second.sources[0].url == f"{PAGE}#save-your-api-key"
    assert "somewhere secure" in second.answer


async def test_a_new_topic_is_not_dragged_into_the_old_one(services: AgentServices) -> None:
    first = await answer(services, "how do I make an api key?")
    retrieval = services.retriever.retrieve(
        "Where is the API Keys tab in Settings?",
        context=Context(question="how do I make an api key?", page_url=PAGE),
    )
    assert not retrieval.followup and retrieval.query.startswith("Where is")
    assert first.conversation_id


async def test_a_followup_the_docs_do_not_cover_asks_the_site_a_whole_question(
    real_index: DocIndex, http_client: httpx.AsyncClient
) -> None:
    services = build_services(
        make_settings(fallback_enabled=True), index=real_index, http_client=http_client
    )
    first = await answer(services, "how do I make an api key?")
    with respx.mock(assert_all_called=False) as router:
        upstream = router.get(url__startswith=UPSTREAM).mock(
            return_value=httpx.Response(200, text="# q\n\nThe site says so.\n")
        )
        result = await answer(
            services,
            "and can it be limited to a single model?",
            conversation_id=first.conversation_id,
            conversation_token=first.conversation_token,
        )
    assert result.mode == "fallback"
    # the docs site gets a question it can answer on its own, never a bare fragment
    asked = upstream.calls.last.request.url.params["ask"]
    assert asked == "how do I make an api key? and can it be limited to a single model?"


async def test_a_followup_finds_the_section_its_own_words_point_to(
    sites_index: DocIndex, http_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """The earlier question says the topic (CI tokens), the follow-up what about it
    (rotating without breaking running jobs): searched on the earlier question alone
    plus the new words, "Can I deploy from CI?" came first."""
    settings = make_settings(fallback_enabled=False, docs_cache=tmp_path / "no-profile")
    services = build_services(settings, index=sites_index, http_client=http_client)
    first = await answer(services, "How do I create a tern token for CI?")
    second = await answer(
        services,
        "and how do I rotate it without breaking jobs that are already running?",
        conversation_id=first.conversation_id,
        conversation_token=first.conversation_token,
    )
    assert second.mode == "local", second.answer
    assert second.sources[0].section == "Tokens for CI"
    assert "stays valid for 1 hour" in second.answer
