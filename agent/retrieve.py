"""Hybrid retrieval: dense search in the Chroma index plus BM25 (bm25s) over the same
chunks, fused by reciprocal rank, deduplicated by section, with the surrounding steps of
a stepper for "how do I" questions, and a relevance verdict (answer locally or fall back).

The BM25 index is rebuilt lazily whenever `DocIndex.version()` changes.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import bm25s

from agent.text import STOPWORDS, expand, terms
from ingest.models import Chunk, Hit

RRF_K = 60
# Calibrated on bench/questions.json (see bench/eval.py): a question is answered locally
# when its best section is close in meaning, or shares most of the question's own terms.
DENSE_STRONG = 0.65
DENSE_WEAK = 0.40
COVERAGE_MIN = 0.5

_PROCEDURAL = re.compile(
    r"^\s*(how\s+(do|can|should|would|to)|how\s+does\s+one|what\s+are\s+the\s+steps|steps?\s+to|"
    r"walk\s+me|guide\s+me|show\s+me\s+how|where)\b|\bsteps?\b|\bprocedure\b",
    re.IGNORECASE,
)
# Words of the page/site itself: they say nothing about which part of it is meant.
_ACTIONS = expand({"generat", "rotat", "revok"})
_GENERIC = frozenset({"api", "key", "nexo", "nexos", "ai", "doc", "docs", "documentation"})


class SearchIndex(Protocol):
    """What retrieval needs from `ingest.store.DocIndex`."""

    def search(self, query: str, k: int = 5) -> list[Hit]: ...
    def all_chunks(self) -> list[Chunk]: ...
    def page_chunks(self, page_url: str) -> list[Chunk]: ...
    def version(self) -> int: ...
    def pending_pages(self) -> set[str]: ...


@dataclass
class Retrieved:
    """One section chosen for a question."""

    chunk: Chunk
    score: float  # fused reciprocal-rank score
    dense: float = 0.0  # cosine similarity from the vector index (0 when not returned)
    lexical: float = 0.0  # BM25 score
    coverage: float = 0.0  # share of the question's distinctive terms found in the section
    context: bool = False  # added as a surrounding stepper step, not retrieved on its own


@dataclass
class Retrieval:
    query: str
    hits: list[Retrieved] = field(default_factory=list)
    procedural: bool = False
    steps: list[Retrieved] = field(default_factory=list)  # one task's steps, in order
    confident: bool = False  # the local docs cover the question

    @property
    def best(self) -> Retrieved | None:
        return self.hits[0] if self.hits else None


def is_procedural(question: str) -> bool:
    """'How do I…', 'steps to…' questions want the steps of a procedure."""
    return bool(_PROCEDURAL.search(question))


def focus_terms(question: str) -> set[str]:
    """The distinctive stems of a question (generic site words removed)."""
    return {t for t in terms(question) if t not in _GENERIC and t not in STOPWORDS}


def coverage(question_focus: set[str], text: str) -> float:
    """Share of the question's distinctive terms (or their synonyms) present in `text`."""
    if not question_focus:
        return 1.0
    present = set(terms(text))
    found = sum(1 for t in question_focus if expand({t}) & present)
    return found / len(question_focus)


class Retriever:
    """Dense + BM25 retrieval over one `DocIndex`."""

    def __init__(self, index: SearchIndex, *, candidates: int = 12) -> None:
        self.index = index
        self.candidates = candidates
        self._lock = threading.Lock()
        self._bm25: Any = None
        self._chunks: list[Chunk] = []
        self._pages: dict[str, list[Chunk]] = {}  # the same chunks by page, in page order
        self._version: int | None = None
        self._pending: set[str] = set()

    def _lexical_index(self) -> tuple[Any, list[Chunk]]:
        version = self.index.version()
        with self._lock:
            if self._version != version:
                self._pending = self.index.pending_pages()
                chunks = [c for c in self.index.all_chunks() if c.page_url not in self._pending]
                model = None
                if chunks:
                    model = bm25s.BM25()
                    corpus = [
                        terms(f"{c.section} {c.breadcrumb} {c.text}") or ["_"] for c in chunks
                    ]
                    model.index(corpus, show_progress=False)
                pages: dict[str, list[Chunk]] = {}
                for chunk in sorted(chunks, key=lambda c: (c.page_url, c.position)):
                    pages.setdefault(chunk.page_url, []).append(chunk)
                self._bm25, self._chunks, self._pages = model, chunks, pages
                self._version = version
            return self._bm25, self._chunks

    def lexical(self, query: str, k: int) -> list[tuple[Chunk, float]]:
        """BM25 hits (score > 0) for the query expanded with synonyms."""
        model, chunks = self._lexical_index()
        tokens = sorted(expand(terms(query)))
        if model is None or not tokens:
            return []
        ids, scores = model.retrieve([tokens], k=min(k, len(chunks)), show_progress=False)
        return [(chunks[int(i)], float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]

    def retrieve(self, question: str, k: int = 4) -> Retrieval:
        """The best `k` sections for a question, plus stepper context for procedures."""
        lexical = self.lexical(question, self.candidates)  # refreshes the pending pages
        searched = self.index.search(question, k=self.candidates)
        if self.index.version() != self._version:  # an ingest wrote while we searched
            self._lexical_index()
            lexical = [(c, s) for c, s in lexical if c.page_url not in self._pending]
        # a page being rewritten by an ingest is left out until its new version is complete
        dense = [hit for hit in searched if hit.chunk.page_url not in self._pending]
        fused: dict[str, Retrieved] = {}
        for rank, hit in enumerate(dense):
            item = fused.setdefault(hit.chunk.id, Retrieved(hit.chunk, 0.0))
            item.score += 1.0 / (RRF_K + rank + 1)
            item.dense = max(item.dense, hit.score)
        for rank, (chunk, score) in enumerate(lexical):
            item = fused.setdefault(chunk.id, Retrieved(chunk, 0.0))
            item.score += 1.0 / (RRF_K + rank + 1)
            item.lexical = score
        focus = focus_terms(question)
        ranked = sorted(fused.values(), key=lambda r: r.score, reverse=True)
        by_section: dict[str, Retrieved] = {}
        for item in ranked:
            item.coverage = coverage(focus, f"{item.chunk.section} {item.chunk.text}")
            by_section.setdefault(item.chunk.anchor_url, item)
        hits = list(by_section.values())[:k]
        result = Retrieval(query=question, hits=hits, procedural=is_procedural(question))
        result.confident = self._confident(hits)
        if result.procedural and hits:
            result.hits, result.steps = self._with_steps(hits, ranked, focus)
        return result

    @staticmethod
    def _confident(hits: list[Retrieved]) -> bool:
        if not hits:
            return False
        dense = max(h.dense for h in hits)
        cover = max(h.coverage for h in hits)
        return dense >= DENSE_STRONG or (dense >= DENSE_WEAK and cover >= COVERAGE_MIN)

    def _with_steps(
        self, hits: list[Retrieved], ranked: list[Retrieved], focus: set[str]
    ) -> tuple[list[Retrieved], list[Retrieved]]:
        """Add the neighbouring steps of the best step that belong to the same task.

        When the best section is the heading a stepper sits under, its best-ranked step
        (or its first) stands in for it."""
        top = hits[0]
        with self._lock:  # the page as the lexical index has it: no index round trip
            page = self._pages.get(top.chunk.page_url, [])
        if top.chunk.step is None:
            children = [
                c for c in page if c.step and c.breadcrumb.startswith(top.chunk.breadcrumb + " › ")
            ]
            if not children:
                return hits, []
            order = {r.chunk.id: i for i, r in enumerate(ranked)}
            if expand(focus) & _ACTIONS:  # a named task: start at its best step
                child = min(children, key=lambda c: (order.get(c.id, len(order)), c.position))
            else:  # the heading's procedure as a whole, from its first step
                child = min(children, key=lambda c: c.position)
            found = next((r for r in ranked if r.chunk.id == child.id), None)
            top = found or Retrieved(child, 0.0, context=True)
            lead = hits[0]
            hits = [top, *[h for h in hits if h.chunk.anchor_url != child.anchor_url]]
        else:
            lead = None
        assert top.chunk.step is not None
        steps = [c for c in page if c.step and c.step[1] == top.chunk.step[1]]
        by_n: dict[int, Chunk] = {}
        for c in sorted(steps, key=lambda c: c.position):
            if c.step:
                by_n.setdefault(c.step[0], c)
        n = top.chunk.step[0]
        wanted = expand(focus)
        chosen = {n}
        for direction in (-1, 1):
            m = n + direction
            while m in by_n and self._same_task(by_n[m], wanted, direction):
                chosen.add(m)
                m += direction
        known = {h.chunk.anchor_url: h for h in hits}
        out = [
            known.get(by_n[m].anchor_url) or Retrieved(by_n[m], 0.0, context=True)
            for m in sorted(chosen)
        ]
        seen = {r.chunk.anchor_url for r in out}
        rest = [h for h in hits if h.chunk.anchor_url not in seen]
        # The best-matching step stays first so callers can tell which section answered.
        best = next(r for r in out if r.chunk.anchor_url == top.chunk.anchor_url)
        ordered = [best, *[r for r in out if r is not best], *rest]
        if lead is not None:  # the heading the steps sit under answered first
            ordered = [lead, *[r for r in ordered if r is not lead]]
        return ordered, out

    @staticmethod
    def _same_task(step: Chunk, wanted: set[str], direction: int) -> bool:
        """A neighbouring step belongs to the task when its heading names what the question
        asks; a step naming another action ends the task; a plain step after it follows on."""
        title = set(terms(step.section))
        if title & wanted:
            return True
        if title & (_ACTIONS - wanted):
            return False
        return direction > 0
