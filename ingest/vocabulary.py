"""The docs' vocabulary, in one place: groups of words that mean the same thing in these
docs, and for some groups the words the docs themselves use.

Both retrieval sides read it. Keyword matching (agent.retrieve, agent.extractive)
treats any word of a group as any other. Dense search (ingest.store) appends the docs'
own words to a query phrased in a user's words, because MiniLM alone ranks "my key
leaked" close to evenly between "Save your API key" and "Rotate API key"; "…: shared by
mistake" is how the docs describe that incident, and settles it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "s", "e")
_WORD = re.compile(r"[a-z0-9]+")


def stem(word: str) -> str:
    """A deliberately light stemmer: 'rotating'/'rotated'/'rotates'/'rotate' → 'rotat'."""
    word = word.lower().replace("'", "")
    if len(word) <= 3:
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@dataclass(frozen=True)
class Concept:
    """Words (any form; stemmed here) that mean one thing, and the docs' words for it."""

    words: tuple[str, ...]
    docs_words: str = ""

    @property
    def stems(self) -> frozenset[str]:
        return frozenset(stem(word) for word in self.words)

    @property
    def docs_stems(self) -> frozenset[str]:
        return frozenset(stem(word) for word in _WORD.findall(self.docs_words.lower()))


CONCEPTS: tuple[Concept, ...] = (
    Concept(("generat", "creat", "make", "add", "issu", "get", "obtain")),
    Concept(("rotat", "regenerat", "replac", "roll", "renew", "swap", "cycl"), "rotate"),
    Concept(("revok", "delet", "remov", "disabl", "deactivat", "destroy", "kill"), "revoke"),
    Concept(("save", "copy", "stor", "keep", "record", "write")),
    Concept(("see", "view", "show", "shown", "display", "reveal", "find", "look")),
    Concept(("menu", "setting", "tab", "section")),
    Concept(("button", "option", "click", "press", "choos", "select")),
    Concept(
        ("leak", "shar", "expos", "compromis", "mistak", "stolen", "hack"), "shared by mistake"
    ),
    Concept(("name", "label", "titl")),
    Concept(("popup", "pop", "dialog", "modal", "window")),
    Concept(("key", "token", "apikey")),
)

SYNONYMS: tuple[frozenset[str], ...] = tuple(concept.stems for concept in CONCEPTS)
_PHRASED = tuple((c.stems - c.docs_stems, c.docs_words) for c in CONCEPTS if c.docs_words)


def expand_query(query: str) -> str:
    """`query` plus the docs' words for any concept it names in other words (else as is)."""
    used = {stem(word) for word in _WORD.findall(query.lower())}
    extra = [docs for user_stems, docs in _PHRASED if used & user_stems]
    return f"{query}: {'; '.join(extra)}" if extra else query
