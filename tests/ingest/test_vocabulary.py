"""One vocabulary for both retrieval sides: user words get the docs' words in dense
queries, and the keyword side treats every word of a group alike."""

from __future__ import annotations

import pytest

from agent.text import expand, terms
from ingest.vocabulary import expand_query


@pytest.mark.parametrize(
    ("question", "docs_words"),
    [
        ("my key leaked", "shared by mistake"),
        ("I think my token was stolen", "shared by mistake"),
        ("we got hacked, what now", "shared by mistake"),
        ("How do I regenerate my key?", "rotate"),
        ("delete my old key", "revoke"),
        ("disable the staging key", "revoke"),
    ],
)
def test_a_question_in_users_words_gets_the_docs_words(question: str, docs_words: str) -> None:
    assert expand_query(question) == f"{question}: {docs_words}"


@pytest.mark.parametrize(
    "question",
    ["How do I rotate an API key?", "Revoke a key", "What if a key was shared by mistake?", ""],
)
def test_a_question_in_the_docs_words_is_left_alone(question: str) -> None:
    assert expand_query(question) == question


def test_the_keyword_side_reads_the_same_groups() -> None:
    hacked, leaked = terms("hacked"), terms("leaked")
    assert expand(hacked) == expand(leaked)
    assert "rotat" in expand(terms("regenerate"))
