"""What retrieval asks of the vector index: the question as the site spells it."""

from __future__ import annotations

from typing import Any

from agent.retrieve import Context, Retriever
from ingest.models import Hit
from ingest.store import DocIndex


class _Recording:
    """The fixture index, recording what dense search is asked."""

    def __init__(self, index: DocIndex) -> None:
        self.index = index
        self.asked: list[str] = []

    def search(self, query: str, k: int = 5) -> list[Hit]:
        self.asked.append(query)
        return self.index.search(query, k)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.index, name)


def test_dense_search_gets_the_question_with_its_typos_corrected(sites_index: DocIndex) -> None:
    index = _Recording(sites_index)
    retriever = Retriever(index)
    found = retriever.retrieve("how do I restre the databse from a bakup?")
    assert index.asked == ["how do I restore the database from a backup?"]
    assert found.best and "Restor" in found.best.chunk.breadcrumb
    # a follow-up's own words are searched corrected too
    index.asked.clear()
    context = Context(question="how do I encrypt backups?")
    retriever.retrieve("and how do I restre them?", context=context)
    assert index.asked == [
        "how do I encrypt backups? and how do I restore them?",
        "and how do I restore them?",
    ]
