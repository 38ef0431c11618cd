"""Fixtures for the ingest pipeline tests: one real embedder per session, a counting
wrapper around it, settings and an index under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from ingest.config import IngestSettings
from ingest.embed import MiniLMEmbeddings
from ingest.store import DocIndex, open_index

API_KEYS_URL = "https://docs.nexos.ai/workspace/settings/user-settings/api-keys"


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbeddings:
    """The real bundled model, loaded once (hash-verified, ~0.5 s)."""
    return MiniLMEmbeddings(threads=2)


class CountingEmbeddings(Embeddings):
    """Delegates to a real embedder and records every text it was asked to embed."""

    def __init__(self, inner: MiniLMEmbeddings) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.dimension = inner.dimension
        self.embedded: list[str] = []

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded += texts
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)

    def reset(self) -> None:
        self.embedded = []


@pytest.fixture
def counting(minilm: MiniLMEmbeddings) -> CountingEmbeddings:
    return CountingEmbeddings(minilm)


@pytest.fixture
def settings(tmp_path: Path) -> IngestSettings:
    return IngestSettings(data_dir=tmp_path / "data", docs_cache=tmp_path / "docs_cache")


@pytest.fixture
def index(settings: IngestSettings, counting: CountingEmbeddings) -> DocIndex:
    return open_index(settings, counting)
