"""The keyword side of retrieval, derived from the index itself.

Built from every indexed section whenever the index changes: BM25 (bm25s) over each
section's heading path and text, Snowball-stemmed; how many sections each stem occurs
in (so "how generic is this word *on this site*" is a number, never a word list); the
site's own words with their frequencies, against which misspelt question words are
corrected; and each page's chunks in page order, for the structure around a section.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import bm25s

from ingest.dictionary import dictionary_words
from ingest.models import Chunk
from ingest.terms import CONTRACTIONS, STOPWORDS, stem, terms, words

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?|[^A-Za-z0-9]+")
# Names a reader types exactly: config keys, option and function names, error codes
# ("deploy.timeout", "keep_releases", "onSave", "Idempotency-Key", "Q7101", "v1/tokens").
_IDENTIFIER = re.compile(
    r"(?<![\w.\-/])(?:[A-Za-z][A-Za-z0-9]*(?:[._\-/:][A-Za-z0-9]+)+|[a-z]+[A-Z][A-Za-z0-9]*"
    r"|[A-Za-z]+[0-9][A-Za-z0-9]*|[0-9]+[A-Za-z][A-Za-z0-9]*)(?![\w\-/])"
)


def identifiers(text: str) -> set[str]:
    """The identifier-like tokens of a text, lower-cased (trailing punctuation dropped)."""
    return {m.lower().rstrip(".:") for m in _IDENTIFIER.findall(text) if len(m) >= 3}


def chunk_terms(chunk: Chunk) -> list[str]:
    """What the keyword index holds for a chunk: its heading path, its own heading once
    more (a heading names what a section is about, so its words weigh more than the
    body's, as in BM25F: on the dev split, section hit@1 90 → 93 of 137), and its text."""
    return terms(f"{chunk.breadcrumb}\n{chunk.section}\n{chunk.text}")


_HOST_WORDS = frozenset(
    {"www", "docs", "doc", "help", "learn", "developer", "developers", "support"}
)


@functools.cache
def _site_name(page_url: str) -> frozenset[str]:
    """Stems of the site's name from its host ("docs.nexos.ai" → "nexo")."""
    host = urlsplit(page_url).hostname or ""
    labels = host.split(".")[:-1]  # the top-level domain names no one
    return frozenset(stem(x) for x in labels if x.isalpha() and x not in _HOST_WORDS)


VARIANT_HEAD = 5  # letters the shorter of two forms of a word has at least (`Lexicon.variants`)
VARIANT_TAIL = 3  # letters the longer adds, at most


def _by_head(df: dict[str, int]) -> dict[str, list[str]]:
    heads: dict[str, list[str]] = {}
    for term in df:
        if len(term) >= VARIANT_HEAD and term.isalpha():
            heads.setdefault(term[:VARIANT_HEAD], []).append(term)
    return heads


def _deletes(word: str) -> set[str]:
    """The word and every string one deletion away (the keys of a SymSpell index)."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (adjacent transpositions count as one edit)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


@dataclass
class Lexicon:
    """BM25, term statistics and page order for one version of the index."""

    version: int
    chunks: list[Chunk] = field(default_factory=list)
    pages: dict[str, list[Chunk]] = field(default_factory=dict)
    df: dict[str, int] = field(default_factory=dict)  # stem → sections containing it
    word_counts: dict[str, int] = field(default_factory=dict)  # surface word → occurrences
    section_terms: list[frozenset[str]] = field(default_factory=list)  # per chunk
    page_terms: dict[str, frozenset[str]] = field(default_factory=dict)  # page → its stems
    positions: dict[str, int] = field(default_factory=dict)  # chunk id → position
    verbs: frozenset[str] = frozenset()  # words the docs use after "to" ("to rotate")
    names: dict[str, list[int]] = field(default_factory=dict)  # identifier → positions
    _bm25: Any = None
    _spell: dict[str, list[str]] = field(default_factory=dict)  # deletion key → site words
    _stems_by_head: dict[str, list[str]] = field(default_factory=dict)  # first letters → stems

    @classmethod
    def build(cls, chunks: Sequence[Chunk], version: int) -> Lexicon:
        ordered = sorted(chunks, key=lambda c: (c.page_url, c.position))
        pages: dict[str, list[Chunk]] = {}
        for chunk in ordered:
            pages.setdefault(chunk.page_url, []).append(chunk)
        corpus = [chunk_terms(c) for c in ordered]
        df: Counter[str] = Counter()
        counts: Counter[str] = Counter()
        after_to: Counter[str] = Counter()
        names: dict[str, list[int]] = {}
        for position, chunk in enumerate(ordered):
            for name in identifiers(chunk.text):
                names.setdefault(name, []).append(position)
        on_page: dict[str, set[str]] = {}
        for chunk, tokens in zip(ordered, corpus, strict=True):
            on_page.setdefault(chunk.page_url, set()).update(tokens)
            # the site's own name ("nexos" of docs.nexos.ai) is on every page in spirit
            df.update(set(tokens) | _site_name(chunk.page_url))
            found = words(f"{chunk.breadcrumb} {chunk.text}")
            counts.update(found)
            after_to.update(b for a, b in itertools.pairwise(found) if a == "to")
        spell: dict[str, list[str]] = {}
        seen_enough = 2 if len(ordered) >= 50 else 1  # a one-page site says most words once
        for word, n in counts.items():
            if n >= seen_enough and len(word) >= 3 and word.isalpha() and word not in STOPWORDS:
                for key in _deletes(word):
                    spell.setdefault(key, []).append(word)
        model = None
        if ordered:
            model = bm25s.BM25()
            model.index([t or ["_"] for t in corpus], show_progress=False)
        return cls(
            version=version,
            chunks=ordered,
            pages=pages,
            df=dict(df),
            word_counts=dict(counts),
            section_terms=[frozenset(t) for t in corpus],
            page_terms={url: frozenset(t) for url, t in on_page.items()},
            positions={c.id: i for i, c in enumerate(ordered)},
            names={n: p for n, p in names.items() if len(p) <= max(3, len(ordered) // 20)},
            # a word the docs often write after "to" ("to rotate") is a verb to them
            verbs=frozenset(
                w for w, n in after_to.items() if w not in STOPWORDS and n >= 0.15 * counts[w]
            ),
            _bm25=model,
            _spell=spell,
            _stems_by_head=_by_head(df),
        )

    def __len__(self) -> int:
        return len(self.chunks)

    def terms_of(self, chunk: Chunk) -> frozenset[str]:
        """The stems the keyword index holds for a chunk (computed for an unknown one)."""
        position = self.positions.get(chunk.id)
        if position is not None and self.chunks[position].sha256 == chunk.sha256:
            return self.section_terms[position]
        return frozenset(chunk_terms(chunk))

    def idf(self, term: str) -> float:
        """BM25's idf of a stem on this site; a stem the site never uses gets the most."""
        n = len(self.chunks)
        found = self.df.get(term, 0)
        return math.log(1.0 + (n - found + 0.5) / (found + 0.5))

    def weight(self, stems: Iterable[str]) -> float:
        return sum(self.idf(t) for t in set(stems))

    def search(self, stems: Iterable[str], k: int) -> list[tuple[int, float]]:
        """(chunk position, BM25 score) of the best `k` sections for the stems, score > 0."""
        tokens = sorted(t for t in set(stems) if t in self.df)
        if self._bm25 is None or not tokens or k <= 0:
            return []
        ids, scores = self._bm25.retrieve(
            [tokens], k=min(k, len(self.chunks)), show_progress=False, n_threads=1
        )
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]

    def variants(self, term: str) -> frozenset[str]:
        """The site's stems that are another form of a stem it never uses, where the
        stemmer stops short: "expiri" (expiry) → "expir" (expiration, expires),
        "chariti" → "charit" (charitable). One is the other plus at most `VARIANT_TAIL`
        letters, and the shorter has at least `VARIANT_HEAD`; a stem the site uses has none."""
        if term in self.df or len(term) < VARIANT_HEAD:
            return frozenset()
        return frozenset(
            other
            for other in self._stems_by_head.get(term[:VARIANT_HEAD], ())
            if abs(len(other) - len(term)) <= VARIANT_TAIL
            and (other.startswith(term) or term.startswith(other))
        )

    def exact(self, text: str) -> list[int]:
        """Positions of the sections that contain the identifiers a question names, the
        rarest names first (a name in many sections says nothing and is left out)."""
        weight: dict[int, float] = {}
        for name in identifiers(text):
            found = self.names.get(name, ())
            for position in found:  # a rarer name counts for more
                weight[position] = weight.get(position, 0.0) + math.log(len(self) / len(found))
        return sorted(weight, key=lambda p: (-weight[p], p))

    def correct(self, text: str) -> str:
        """`text` with words the site never uses replaced by a frequent site word one or
        two edits away ("subscripton" → "subscription"); everything else kept as typed,
        English words too ("stick" stays, though the site only says "stock")."""
        out = []
        dictionary = dictionary_words()
        for token in _TOKEN.findall(text):
            lower = token.lower()
            if (
                len(lower) < 4
                or not lower.isalpha()
                or lower in self.word_counts
                or lower in STOPWORDS
                or lower in CONTRACTIONS
                or lower in dictionary
            ):
                out.append(token)
                continue
            out.append(self._nearest(lower) or token)
        return "".join(out)

    def _nearest(self, word: str) -> str | None:
        """The most frequent site word within one edit (two for words of 8+ letters)."""
        limit = 2 if len(word) >= 8 else 1
        found = {w for key in _deletes(word) for w in self._spell.get(key, ())}
        near = [
            (edit_distance(word, w), -self.word_counts[w], w)
            for w in found
            if stem(w) != stem(word)
        ]
        near = [n for n in near if n[0] <= limit]
        return min(near)[2] if near else None
