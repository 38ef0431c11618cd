"""Hybrid retrieval: dense search in the vector index and BM25 over the same sections
(`agent.lexicon`), fused by reciprocal rank and deduplicated by section, with the page's
structure around the best section (the steps of its procedure) and the features the
answer-or-fall-back decision reads (`agent.abstain`).

Three rankings are fused: dense, BM25, and the sections containing an identifier the
question types exactly (a config key, an error code). A follow-up is searched densely
twice, with the earlier question (the topic) and alone (what it asks about the topic).
Nothing here is fitted to one site: term weights come from the site's own index, the
only vocabulary is the site's optional profile (`agent.profile`), and the fusion is
plain reciprocal rank (weighted variants and learned rerankers did not beat it on the
dev split of bench/eval).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Protocol

from agent.abstain import Calibration, load_calibration
from agent.lexicon import Lexicon
from agent.profile import SiteProfile
from ingest.models import Chunk, Hit
from ingest.terms import terms

RRF_K = 60
_PROCEDURAL = re.compile(
    r"^\W*(?:\w+\W+){0,3}?(how\s+(do|can|should|would|to|does\s+one)|what\s+are\s+the\s+steps|"
    r"steps?\s+(to|for)|walk\s+me|guide\s+me|show\s+me\s+how|set\s*up|configure|install)\b|"
    r"\bsteps?\b|\bprocedure\b",
    re.IGNORECASE,
)
# Words that make a question lean on the previous turn ("and how do I undo it?").
_ANAPHORA = re.compile(
    r"^\W*(and|also|so|ok(ay)?|then|now|but|what\s+about|how\s+about)\b|"
    r"\b(it|its|it's|that|this|these|those|them|they|there|one|ones|instead|afterwards|"
    r"same|then|else|too|either|former|latter)\b",
    re.IGNORECASE,
)


class SearchIndex(Protocol):
    """What retrieval needs from `ingest.store.DocIndex`."""

    def search(self, query: str, k: int = 5) -> list[Hit]: ...
    def all_chunks(self) -> list[Chunk]: ...
    def page_chunks(self, page_url: str) -> list[Chunk]: ...
    def version(self) -> int: ...
    def pending_pages(self) -> set[str]: ...


@dataclass(frozen=True)
class Context:
    """The previous docs turn of a conversation, for follow-up questions."""

    question: str
    page_url: str = ""
    anchor_url: str = ""


@dataclass
class Retrieved:
    """One section chosen for a question."""

    chunk: Chunk
    score: float  # fused reciprocal-rank score
    dense: float = 0.0  # cosine similarity from the vector index (0 when not returned)
    lexical: float = 0.0  # BM25 score
    coverage: float = 0.0  # idf-weighted share of the question's terms in the section
    context: bool = False  # added as a step of the procedure, not retrieved on its own
    terms: frozenset[str] = frozenset()  # the section's stems, as the keyword index has them


@dataclass
class Retrieval:
    query: str  # the question as searched (follow-ups include the previous question)
    hits: list[Retrieved] = field(default_factory=list)
    procedural: bool = False
    steps: list[Retrieved] = field(default_factory=list)  # one procedure's steps, in order
    lead: Retrieved | None = None  # what the heading above the steps says before them
    trailer: Retrieved | None = None  # …and after them
    confident: bool = False  # the local docs cover the question (set by agent.abstain)
    focus: frozenset[str] = frozenset()  # what keyword search looks for: stems and synonyms
    asked: dict[str, frozenset[str]] = field(default_factory=dict)  # stem → it and synonyms
    weights: dict[str, float] = field(default_factory=dict)  # asked stem → idf on this site
    oov: float = 0.0  # share of the question's weight in words this site never uses
    known: frozenset[str] = frozenset()  # the focus stems this site uses somewhere
    indexed: int = 0  # sections in the index (how much "never uses" means)
    followup: bool = False
    dense_peak: float = 0.0  # best cosine minus the tenth best, over the sections found
    lexical_peak: float = 0.0  # best BM25 above the mean of the best ten, as its share
    pages: dict[str, list[Chunk]] = field(default_factory=dict, repr=False)  # page → chunks
    page_terms: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)  # its stems

    def matched(self, present: frozenset[str] | set[str]) -> set[str]:
        """The question's stems a text carries (itself or one of its synonyms)."""
        return {t for t, alternatives in self.asked.items() if alternatives & present}

    def weight(self, stems: set[str] | frozenset[str]) -> float:
        return sum(self.weights.get(t, 0.0) for t in stems)

    def coverage(self, present: frozenset[str]) -> float:
        """idf-weighted share of the question's stems a text carries."""
        total = self.weight(set(self.asked))
        return self.weight(self.matched(present)) / total if total else 0.0

    def section(self, chunk: Chunk) -> list[Chunk]:
        """Every chunk of the section `chunk` is part of, in page order."""
        found = [c for c in self.pages.get(chunk.page_url, []) if c.anchor_url == chunk.anchor_url]
        return found or [chunk]

    @property
    def best(self) -> Retrieved | None:
        return self.hits[0] if self.hits else None


def is_procedural(question: str) -> bool:
    """'How do I…', 'steps to…' questions want the steps of a procedure."""
    return bool(_PROCEDURAL.search(question))


def is_followup(question: str) -> bool:
    """A question that leans on the previous one: a pronoun, 'and …', 'what about …'."""
    return bool(_ANAPHORA.search(question)) or len(question.split()) <= 3


class Retriever:
    """Dense + BM25 retrieval over one `DocIndex`."""

    def __init__(
        self,
        index: SearchIndex,
        *,
        profile: SiteProfile | None = None,
        calibration: Calibration | None = None,
        candidates: int = 30,
    ) -> None:
        self.index = index
        self.profile = profile or SiteProfile()
        self.calibration = calibration or load_calibration()
        self.candidates = candidates
        self._lock = threading.Lock()
        self._lexicon: Lexicon | None = None
        self._pending: set[str] = set()

    def lexicon(self) -> Lexicon:
        """The keyword index of the current index version (rebuilt when it changes)."""
        version = self.index.version()
        with self._lock:
            if self._lexicon is None or self._lexicon.version != version:
                self._pending = self.index.pending_pages()
                chunks = [c for c in self.index.all_chunks() if c.page_url not in self._pending]
                self._lexicon = Lexicon.build(chunks, version)
            return self._lexicon

    def page(self, page_url: str) -> list[Chunk]:
        """A page's chunks in order, as the keyword index has them (no index round trip)."""
        return self.lexicon().pages.get(page_url, [])

    def _alternatives(self, lexicon: Lexicon, stems: list[str]) -> set[str]:
        """Stems with their profile synonyms and the site's own forms of each."""
        expanded = set(self.profile.expand(stems))
        return expanded.union(*(lexicon.variants(t) for t in expanded))

    def search(self, question: str, k: int = 5) -> list[Retrieved]:
        """The best `k` sections for a query, without the answer-level extras."""
        return self.retrieve(question, k=k).hits

    def retrieve(self, question: str, k: int = 4, *, context: Context | None = None) -> Retrieval:
        """The best `k` sections for a question, plus the steps of a procedure."""
        lexicon = self.lexicon()  # refreshes the pending pages
        followup = context is not None and is_followup(question)
        query = f"{context.question} {question}" if followup and context else question
        corrected = lexicon.correct(query)
        # a follow-up's own words, as the site spells them (the whole question otherwise)
        own_text = lexicon.correct(question) if followup else corrected
        # what keyword search seeks: the stems, their synonyms and the site's other forms
        focus = frozenset(self._alternatives(lexicon, terms(corrected)))
        # what the question itself asks (a follow-up's new words, not the earlier question's)
        own = terms(own_text)
        asked = {t: frozenset(self._alternatives(lexicon, [t])) for t in own or terms(corrected)}
        # a stem the site never uses but whose synonym it does weighs as that synonym
        weights = {
            t: min(
                (lexicon.idf(a) for a in alternatives if a in lexicon.df), default=lexicon.idf(t)
            )
            for t, alternatives in asked.items()
        }
        lexical = lexicon.search(focus, self.candidates)
        searched = self.index.search(self.profile.expand_query(corrected), k=self.candidates)
        if self.index.version() != lexicon.version:  # an ingest wrote while we searched
            lexicon = self.lexicon()
            lexical = lexicon.search(focus, self.candidates)
        rankings = [searched]
        if followup:  # the earlier question says the topic, the new one what about it
            alone = self.profile.expand_query(own_text)
            rankings.append(self.index.search(alone, k=self.candidates))
        fused: dict[str, Retrieved] = {}
        for found in rankings:
            dense = [hit for hit in found if hit.chunk.page_url not in self._pending]
            for rank, hit in enumerate(dense):
                item = fused.setdefault(hit.chunk.id, Retrieved(hit.chunk, 0.0))
                item.score += 1.0 / (RRF_K + rank + 1)
                item.dense = max(item.dense, hit.score)
        for rank, (position, score) in enumerate(lexical):
            chunk = lexicon.chunks[position]
            item = fused.setdefault(chunk.id, Retrieved(chunk, 0.0))
            item.score += 1.0 / (RRF_K + rank + 1)
            item.lexical = score
        # a name typed exactly ("deploy.timeout", "Q7101") is a third ranking of its own
        for rank, position in enumerate(lexicon.exact(query)[: self.candidates]):
            chunk = lexicon.chunks[position]
            item = fused.setdefault(chunk.id, Retrieved(chunk, 0.0))
            item.score += 1.0 / (RRF_K + rank + 1)
        if followup and context and context.page_url:
            for item in fused.values():  # the page the conversation is on
                if item.chunk.page_url == context.page_url:
                    item.score += 0.5 / (RRF_K + 1)
        known = frozenset(t for t, alts in asked.items() if any(a in lexicon.df for a in alts))
        total = sum(weights.values())
        unknown = sum(w for t, w in weights.items() if t not in known)
        result = Retrieval(
            query=query,
            procedural=is_procedural(question),
            focus=focus,
            asked=asked,
            weights=weights,
            oov=unknown / total if total else 0.0,
            known=known,
            indexed=len(lexicon),
            followup=followup,
            pages=lexicon.pages,
            page_terms=lexicon.page_terms,
        )
        ranked = sorted(fused.values(), key=lambda r: r.score, reverse=True)
        by_section: dict[str, Retrieved] = {}
        for item in ranked:
            item.terms = lexicon.terms_of(item.chunk)
            item.coverage = result.coverage(item.terms)
            by_section.setdefault(item.chunk.anchor_url, item)
        sections = list(by_section.values())
        result.dense_peak, result.lexical_peak = _peaks(sections)
        hits = result.hits = sections[:k]
        if hits:
            result.steps = self._steps(hits[0], ranked)
            result.lead, result.trailer = self._around(result.steps, ranked)
        result.confident = self.calibration.covered(result)
        return result

    def _around(
        self, steps: list[Retrieved], ranked: list[Retrieved]
    ) -> tuple[Retrieved | None, Retrieved | None]:
        """What the heading a procedure's steps sit under says before them, and after."""
        if not steps:
            return None, None
        parent = _parent(steps[0].chunk)
        first, last = steps[0].chunk.position, steps[-1].chunk.position
        before = after = None
        for c in self.page(steps[0].chunk.page_url):
            if c.breadcrumb != parent or not c.text.strip():
                continue
            item = Retrieved(c, 0.0, context=True)
            for r in ranked:
                if r.chunk.id == c.id:
                    item = r
            if c.position < first:
                before = item
            elif c.position > last and after is None:
                after = item
        return before, after

    def _steps(self, top: Retrieved, ranked: list[Retrieved]) -> list[Retrieved]:
        """The procedure the best section belongs to, whole and in order: the steps of
        its stepper, or the stepper right under it, or its sibling "Step N" sections."""
        page = self.page(top.chunk.page_url)
        chunk = top.chunk
        known = {r.chunk.anchor_url: r for r in ranked}
        if chunk.step is None:
            numbered = _numbered_siblings(page, chunk)
            if numbered:
                return [
                    known.get(c.anchor_url) or Retrieved(c, 0.0, context=True) for c in numbered
                ]
            under = [
                c for c in page if c.step and c.breadcrumb.startswith(chunk.breadcrumb + " › ")
            ]
            if not under:
                return []
            chunk = min(under, key=lambda c: c.position)
        assert chunk.step is not None
        first = _first_step(page, chunk)
        steps: list[Chunk] = []
        seen: set[str] = set()
        for c in page[page.index(first) :] if first in page else []:
            if c.step is None or c.step[1] != chunk.step[1] or c.position < first.position:
                break
            if c.anchor_url not in seen:
                seen.add(c.anchor_url)
                steps.append(c)
            if c.step[0] == c.step[1]:
                break
        return [known.get(c.anchor_url) or Retrieved(c, 0.0, context=True) for c in steps]


PEAK_OF = 10  # how many sections a peak is measured against


def _peaks(sections: list[Retrieved]) -> tuple[float, float]:
    """How far the best section stands out: its cosine above the tenth best (or the
    last) of the sections dense search found, and its BM25 score above the mean of the
    ten best, as a share of its own. A question the docs answer has a section that
    stands out; one they do not matches many sections about equally."""
    dense = sorted((s.dense for s in sections if s.dense > 0), reverse=True)[:PEAK_OF]
    lexical = sorted((s.lexical for s in sections), reverse=True)[:PEAK_OF]
    dense_peak = dense[0] - dense[-1] if dense else 0.0
    best = lexical[0] if lexical else 0.0
    lexical_peak = (best - sum(lexical) / len(lexical)) / best if best > 0 else 0.0
    return dense_peak, lexical_peak


_NUMBERED = re.compile(r"^\s*(?:step\s*)?(\d{1,2})\s*[.:)\-–]?\s+\S", re.IGNORECASE)


def _parent(chunk: Chunk) -> str:
    return chunk.breadcrumb.rsplit(" › ", 1)[0]


def _numbered_siblings(page: list[Chunk], chunk: Chunk) -> list[Chunk]:
    """Sections numbered 1, 2, 3… ("Step 2: Configure", "3. Test") under one heading,
    in order, when `chunk` is one of them (or their parent)."""
    if _NUMBERED.match(chunk.section):
        parent = _parent(chunk)
    else:
        parent = chunk.breadcrumb
    siblings: list[Chunk] = []
    seen: set[str] = set()
    for c in page:
        if _parent(c) == parent and c.step is None and _NUMBERED.match(c.section):
            if c.anchor_url not in seen:
                seen.add(c.anchor_url)
                siblings.append(c)
    numbers = [int(_NUMBERED.match(c.section)[1]) for c in siblings]  # type: ignore[index]
    if len(siblings) < 2 or numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        return []
    return siblings


def _first_step(page: list[Chunk], step: Chunk) -> Chunk:
    """Step 1 of the stepper `step` belongs to (the nearest one before it)."""
    assert step.step is not None
    start = page.index(step) if step in page else 0
    for i in range(start, -1, -1):
        c = page[i]
        if c.step is None or c.step[1] != step.step[1]:
            break
        if c.step[0] == 1:
            return c
    return step
