"""Search terms: one real stemmer, applied once, the same for questions and the index."""

from __future__ import annotations

import pytest

from ingest.terms import stem, terms, words


@pytest.mark.parametrize(
    ("variants", "shared"),
    [
        (["exposed", "exposing", "exposes"], "expos"),
        (["compromised", "compromising"], "compromis"),
        (["choose", "choosing", "chooses"], "choos"),
        (["rotation", "rotations"], "rotat"),
        (["rotate", "rotated", "rotating"], "rotat"),
    ],
)
def test_every_form_of_a_word_meets_at_one_stem(variants: list[str], shared: str) -> None:
    assert {stem(v) for v in variants} == {shared}


def test_function_words_drop_and_identifiers_keep_their_parts() -> None:
    assert terms("How do I create the table?") == ["creat", "tabl"]
    assert "onsav" in terms("onSave") and "save" in terms("onSave")
    assert words("max_retries") == ["max", "retries"]
    assert set(terms("pop-up")) >= {"pop", "popup"} and terms("popup") == ["popup"]


def test_markup_is_not_a_word() -> None:
    assert words("**Generate** `key` [docs](https://x.io/a-b)") == ["generate", "key", "docs"]


@pytest.mark.parametrize(
    "question", ["what's it's i've", "whats dont im", "can't won't isn't", "ok, one more"]
)
def test_contractions_are_function_words_with_or_without_the_apostrophe(question: str) -> None:
    # "it's" once stemmed to "it" and "i've" to "ive": topic words a question never had
    assert terms(question) == []


def test_a_possessive_keeps_its_word() -> None:
    assert terms("the user's token, don't rotate it") == ["user", "token", "rotat"]
