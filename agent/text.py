"""Small text helpers shared by the answerer and the fallback: markup-free text and the
normal form of a question (cache keys, dedupe). Words and stems are `ingest.terms`."""

from __future__ import annotations

import re

from ingest.terms import words

_MARKUP = re.compile(r"\*\*|__|`|<[^>]+>|\[([^\]]*)\]\([^)]*\)")


def plain(text: str) -> str:
    """Text without markdown emphasis, code ticks, tags or link targets."""
    return _MARKUP.sub(lambda m: m.group(1) or "", text)


def normalise_question(question: str) -> str:
    """Lower-case words, whitespace and punctuation collapsed (cache keys, dedupe)."""
    return " ".join(words(question))
