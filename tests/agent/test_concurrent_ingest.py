"""A page being rewritten by an ingest is never served half-written: retrieval hides it
from the moment its rewrite starts until its new version is complete."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentSettings
from agent.retrieve import Retriever
from ingest.pipeline import ingest_sync
from ingest.store import DocIndex, open_index
from tests.conftest import CORPUS

PAGE = "https://docs.nexos.ai/workspace/settings/user-settings/api-keys"


def test_a_page_mid_rewrite_is_hidden_then_served_whole(
    tmp_path: Path, real_index: DocIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(CORPUS, cache)
    settings = AgentSettings(data_dir=tmp_path / "data", docs_cache=cache)
    index = open_index(settings, real_index.embeddings)  # the session's model, loaded once
    ingest_sync(settings, [str(cache)], index=index)
    retriever = Retriever(index)
    before = retriever.retrieve("my key leaked")
    assert before.hits and before.hits[0].chunk.page_url == PAGE

    page = next(cache.rglob("api-keys.md"))
    text = page.read_text()
    page.write_text(
        text.replace("### Generate a key", "### Click the button").replace(
            "you can **rotate** the key.", "you can **rotate** the key (new wording)."
        )
    )
    seen_mid_write: list[list[str]] = []
    original = index.write_pages

    def write_then_ask(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)  # new chunks are in, stale ones deleted, record pending
        seen_mid_write.append([h.chunk.page_url for h in retriever.retrieve("my key leaked").hits])

    monkeypatch.setattr(index, "write_pages", write_then_ask)
    ingest_sync(settings, [str(cache)], index=index)

    assert seen_mid_write == [[]]  # the page was hidden while it was rewritten
    after = retriever.retrieve("my key leaked")
    assert after.hits and after.hits[0].chunk.page_url == PAGE
    sections = {h.chunk.section for h in after.hits}
    assert "Click the button" in sections or "Rotate API key" in sections
    assert all(h.chunk.section != "Generate a key" for h in after.hits)
    assert any("new wording" in h.chunk.text for h in after.hits)
