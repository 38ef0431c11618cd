"""Small text helpers shared by retrieval, the extractive answerer and intent routing:
word tokens, stop words and sentence splitting; the stemmer and the synonym groups are the
docs' vocabulary in `ingest/vocabulary.py`, which dense search shares."""

from __future__ import annotations

import re

from ingest.vocabulary import SYNONYMS, stem

__all__ = ["STOPWORDS", "SYNONYMS", "expand", "plain", "sentences", "stem", "terms", "words"]

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_MARKUP = re.compile(r"\*\*|__|`|<[^>]+>|\[([^\]]*)\]\([^)]*\)")

STOPWORDS = frozenset(
    """a about above again all also am an and any are as at be been being
    below between both but by can could did do does doing done down during each else ever
    few for from further give go goes had has have having he her here hers
    him his how i if in into is it its itself just let me might mine more most must my
    myself no nor not now of off on once only or other our ours out over own please same
    shall she should so some such than that the their theirs them then there these they
    this those through to too under until up upon us very want was way we were what when
    where which while who whom why will with would yes you your yours yourself tell know
    need needs thing things something anything someone happen happens really actually""".split()
)


def plain(text: str) -> str:
    """Text without markdown emphasis, code ticks, tags or link targets."""
    return _MARKUP.sub(lambda m: m.group(1) or "", text)


def words(text: str) -> list[str]:
    """Lower-case word tokens of `text` (markup removed)."""
    return _WORD.findall(plain(text).lower().replace("pop up", "popup").replace("pop-up", "popup"))


def terms(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Stemmed content terms, in order (stop words dropped unless asked)."""
    return [stem(w) for w in words(text) if keep_stopwords or w not in STOPWORDS]


def expand(stems: list[str] | set[str]) -> set[str]:
    """The stems plus every synonym of each."""
    base = set(stems)
    out = set(base)
    for group in SYNONYMS:
        if base & group:
            out |= group
    return out


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z*\"“(])")


def sentences(text: str) -> list[str]:
    """Split a section's text into sentences; list items and lines count as sentences."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[-*+]|\d+\.)\s)", text):
        block = " ".join(line.strip() for line in block.splitlines()).strip()
        if not block or block.startswith(("![", "<figure", "{%")):
            continue
        out.extend(part.strip() for part in _SENTENCE_END.split(block) if part.strip())
    return out


def normalise_question(question: str) -> str:
    """Lower-case, collapse whitespace and trailing punctuation (cache keys, dedupe)."""
    return " ".join(words(question))
