"""Small text helpers shared by retrieval, the extractive answerer and intent routing:
word tokens, a light stemmer, stop words, synonym groups and sentence splitting."""

from __future__ import annotations

import re

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

# Words with the same meaning in these docs; a question may use any of them.
_SYNONYM_WORDS: tuple[frozenset[str], ...] = (
    frozenset({"generat", "creat", "make", "add", "issu", "get", "obtain"}),
    frozenset({"rotat", "regenerat", "replac", "roll", "renew", "swap", "cycl"}),
    frozenset({"revok", "delet", "remov", "disabl", "deactivat", "destroy", "kill"}),
    frozenset({"save", "copy", "stor", "keep", "record", "write"}),
    frozenset({"see", "view", "show", "shown", "display", "reveal", "find", "look"}),
    frozenset({"menu", "setting", "tab", "section"}),
    frozenset({"button", "option", "click", "press", "choos", "select"}),
    frozenset({"leak", "shar", "expos", "compromis", "mistak", "stolen"}),
    frozenset({"name", "label", "titl"}),
    frozenset({"popup", "pop", "dialog", "modal", "window"}),
    frozenset({"key", "token", "apikey"}),
)

_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "s", "e")


def stem(word: str) -> str:
    """A deliberately light stemmer: 'rotating'/'rotated'/'rotates'/'rotate' → 'rotat'."""
    word = word.lower().replace("'", "")
    if len(word) <= 3:
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


SYNONYMS: tuple[frozenset[str], ...] = tuple(
    frozenset(stem(w) for w in group) for group in _SYNONYM_WORDS
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
