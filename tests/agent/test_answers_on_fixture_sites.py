"""The answering core on three docs sites the team wrote (a SQL manual, a deploy CLI, a
payments API; tests/fixtures/sites), with no site profile: the real pipeline, Chroma and
embedder, the docs site's `?ask=` mocked. These sites share words on purpose ("key",
"rotate", "rollback") so no word list can carry the answers.

The quality floor here is a regression gate on our own small sites, not the published
figure: that comes from bench/eval.py on real GitBook sites and their test split.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from agent.models import Answer
from agent.passages import blocks
from agent.service import AgentServices, answer, build_services
from ingest.store import DocIndex
from tests.agent.conftest import SITES, UPSTREAM, make_settings

QUESTIONS: list[dict[str, Any]] = json.loads((SITES / "questions.json").read_text())
UPSTREAM_BODY = "# {q}\n\nThe docs site says something.\n\n# Sources:\n- [Home]({u}/home.md)\n"
# Measured on these sites when the core was written: correct 28/45 (0.62), out-of-scope
# answered locally 0/15; with the page feature and follow-up search: 32/45 and 1/15; with
# English words left uncorrected and the refit: 31/45 and 0/15. The gate leaves room for a
# question or two of noise.
CORRECT_FLOOR = 0.55
OUT_OF_SCOPE_CEILING = 0.2


@pytest.fixture
def services(
    sites_index: DocIndex, http_client: httpx.AsyncClient, tmp_path: Path
) -> AgentServices:
    settings = make_settings(fallback_enabled=True, docs_cache=tmp_path / "no-profile")
    return build_services(settings, index=sites_index, http_client=http_client)


async def ask(services: AgentServices, case: dict[str, Any]) -> Answer:
    with respx.mock(assert_all_called=False) as router:
        router.get(url__startswith=UPSTREAM).mock(
            side_effect=lambda request: httpx.Response(
                200, text=UPSTREAM_BODY.format(q=request.url.params.get("ask"), u=UPSTREAM)
            )
        )
        conversation, token = None, None
        for earlier in case.get("history", []):
            turn = await answer(
                services, earlier, conversation_id=conversation, conversation_token=token
            )
            conversation, token = turn.conversation_id, token or turn.conversation_token
        return await answer(
            services, case["question"], conversation_id=conversation, conversation_token=token
        )


def _norm(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return " ".join(re.sub(r"[*_`>|]", " ", text).lower().split())


def _cites_gold(case: dict[str, Any], result: Answer) -> bool:
    wanted = {
        (f"https://{case['site']}/{g['page'].removesuffix('.md')}", _norm(g["section"]))
        for g in case["gold"]
    }
    for source in result.sources:
        page, _, anchor = source.url.partition("#")
        section = "" if not anchor else _norm(source.section)
        if (page, section) in wanted:
            return True
    return False


def grounded(result: Answer, services: AgentServices) -> list[str]:
    """Blocks of a local answer that are not copied verbatim from a cited section."""
    cited = {}
    for source in result.sources:
        page = source.url.split("#", 1)[0]
        cited[source.url] = "\n\n".join(
            c.text for c in services.retriever.page(page) if c.anchor_url == source.url
        )
    every = "\n\n".join(cited.values())
    stray = []
    for block in blocks(result.answer):
        text = re.sub(r"\s*\[\d+\]$", "", block.text.strip())
        text = re.sub(r"^\d+\.\s+\*\*[^*]+\*\*$", "", text)  # a step's heading
        text = re.sub(r"^\*\*[^*]+\*\*$", "", text)  # a section's heading
        if not text or text == "The docs give these steps:":
            continue
        lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
        if not all(ln in every or ln.lstrip("> ") in every for ln in lines):
            stray.append(text)
    return stray


async def test_the_core_answers_sites_it_was_not_written_for(services: AgentServices) -> None:
    rows = [(case, await ask(services, case)) for case in QUESTIONS]
    in_scope = [(c, r) for c, r in rows if not c["out_of_scope"]]
    out_scope = [(c, r) for c, r in rows if c["out_of_scope"]]
    correct = [
        c["id"]
        for c, r in in_scope
        if r.mode == "local"
        and _cites_gold(c, r)
        and any(_norm(f) in _norm(r.answer) for f in c["facts"])
    ]
    answered_out = [c["id"] for c, r in out_scope if r.mode == "local"]
    print(
        f"\nfixture sites: correct {len(correct)}/{len(in_scope)}, "
        f"out of scope answered locally {len(answered_out)}/{len(out_scope)}"
    )
    assert len(correct) / len(in_scope) >= CORRECT_FLOOR
    assert len(answered_out) / len(out_scope) <= OUT_OF_SCOPE_CEILING
    for case, result in rows:
        if result.mode == "local":  # the offline guarantee: every word comes from a source
            assert not grounded(result, services), (case["id"], result.answer)
            for n in range(1, len(result.sources) + 1):
                assert f"[{n}]" in result.answer
