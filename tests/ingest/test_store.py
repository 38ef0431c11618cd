"""The Chroma-backed index: writes, reads, model guard, versions."""

from __future__ import annotations

import hashlib

import pytest

from ingest.config import IngestSettings
from ingest.embed import MiniLMEmbeddings
from ingest.errors import EmbeddingMismatchError
from ingest.models import Chunk
from ingest.store import DocIndex, open_index
from tests.ingest.conftest import CountingEmbeddings

PAGE = "https://docs.example.com/guide"


def chunk(n: int, text: str, page: str = PAGE) -> Chunk:
    embed_text = f"Guide › Part {n}\n{text}"
    return Chunk(
        id=f"{page}#{n}",
        text=text,
        embed_text=embed_text,
        page_url=page,
        md_url=page + ".md",
        title="Guide",
        section=f"Part {n}",
        anchor_url=f"{page}#part-{n}",
        breadcrumb=f"Guide › Part {n}",
        position=n,
        sha256=hashlib.sha256(embed_text.encode()).hexdigest(),
        step=(n, 3) if n else None,
    )


CHUNKS = [
    chunk(0, "Billing happens monthly by invoice."),
    chunk(1, "Rotate a leaked key to disable it."),
    chunk(2, "Teams group users."),
]


def test_replace_then_search_and_read_back(index: DocIndex) -> None:
    v0 = index.version()
    assert index.replace_page(PAGE, CHUNKS) == 3
    assert index.version() > v0
    hits = index.search("how do I rotate a key", k=2)
    assert hits[0].chunk.anchor_url == f"{PAGE}#part-1"
    assert hits[0].score > hits[1].score
    assert hits[0].chunk.step == (1, 3) and hits[0].chunk.text == CHUNKS[1].text
    assert [c.id for c in index.page_chunks(PAGE)] == [c.id for c in CHUNKS]
    assert [c.id for c in index.all_chunks()] == [c.id for c in CHUNKS]
    assert [p.url for p in index.pages()] == [PAGE]
    stats = index.stats()
    assert stats["pages"] == 1 and stats["chunks"] == 3 and stats["dimension"] == 384
    assert stats["model"] == "local:all-MiniLM-L6-v2-int8"


def test_replace_embeds_only_changed_chunks_and_drops_stale(
    index: DocIndex, counting: CountingEmbeddings
) -> None:
    index.replace_page(PAGE, CHUNKS)
    counting.reset()
    edited = chunk(1, "Rotate a compromised key right away.")
    assert index.replace_page(PAGE, [CHUNKS[0], edited]) == 1
    assert counting.embedded == [edited.embed_text]
    stored = index.page_chunks(PAGE)
    assert [c.text for c in stored] == [CHUNKS[0].text, edited.text]


def test_search_empty_index_returns_nothing(index: DocIndex) -> None:
    assert index.search("anything") == []


def test_remove_page_and_version(index: DocIndex) -> None:
    other = "https://docs.example.com/other"
    index.replace_page(PAGE, CHUNKS)
    index.replace_page(other, [chunk(0, "Other page text.", other)])
    v = index.version()
    index.remove_page(PAGE)
    assert index.version() > v
    assert index.page_chunks(PAGE) == []
    assert [c.page_url for c in index.all_chunks()] == [other]
    assert list(index.page_hashes()) == [other]


def test_index_persists_across_opens(
    settings: IngestSettings, index: DocIndex, counting: CountingEmbeddings
) -> None:
    index.replace_page(PAGE, CHUNKS)
    reopened = open_index(settings, counting)
    assert reopened.count() == 3 and reopened.version() == index.version()


class OtherModel(CountingEmbeddings):
    def __init__(self, inner: MiniLMEmbeddings) -> None:
        super().__init__(inner)
        self.model_name = "openai:text-embedding-3-small"


def test_other_model_is_refused_until_rebuild(
    settings: IngestSettings, index: DocIndex, counting: CountingEmbeddings
) -> None:
    index.replace_page(PAGE, CHUNKS)
    other = open_index(settings, OtherModel(counting.inner))
    with pytest.raises(EmbeddingMismatchError, match="--rebuild"):
        other.search("keys")
    with pytest.raises(EmbeddingMismatchError):
        other.replace_page(PAGE, CHUNKS)
    other.reset()
    assert other.count() == 0 and other.pages() == []
    other.replace_page(PAGE, CHUNKS)
    assert other.built_with() == ("openai:text-embedding-3-small", 384)
    with pytest.raises(EmbeddingMismatchError):
        open_index(settings, counting).search("keys")
