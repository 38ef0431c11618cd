"""The offline answerer: grounded and extractive.

Every sentence of an answer is copied from a retrieved section and followed by a citation
marker `[n]` that maps to `sources[n-1]`; the only words of our own are fixed connective
phrases (the constants below). Procedures become numbered steps; other questions get the
sentences that carry the question's terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.models import Source
from agent.retrieve import Retrieval, Retrieved, focus_terms
from agent.text import expand, plain, sentences, terms
from ingest.models import Chunk

STEPS_INTRO = "Here is what the docs say, step by step:"
FACTS_INTRO = "From the docs:"
NOT_FOUND = (
    "The documentation I have does not answer this question, so I will not guess. "
    "These are the closest sections I found:"
)
NOTHING_AT_ALL = "The documentation I have does not answer this question, so I will not guess."
EXCERPT_CHARS = 240
MAX_FACT_SENTENCES = 3

_VERBS = frozenset(
    {"generat", "creat", "rotat", "revok", "delet", "nam", "name", "save", "sav", "open", "copi"}
)


@dataclass
class Draft:
    """An answer before it becomes an `Answer`: markdown, its sources and followups."""

    text: str
    sources: list[Source] = field(default_factory=list)
    followups: list[str] = field(default_factory=list)


def source_for(chunk: Chunk) -> Source:
    """The citation entry of a chunk: page title, section anchor URL, a short excerpt."""
    excerpt = " ".join(plain(s) for s in sentences(chunk.text))
    if len(excerpt) > EXCERPT_CHARS:
        excerpt = excerpt[: EXCERPT_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return Source(title=chunk.title, url=chunk.anchor_url, section=chunk.section, excerpt=excerpt)


class _Citations:
    """Assigns citation numbers to sections in the order they are first cited."""

    def __init__(self) -> None:
        self.sources: list[Source] = []
        self._numbers: dict[str, int] = {}

    def mark(self, chunk: Chunk) -> str:
        if chunk.anchor_url not in self._numbers:
            self.sources.append(source_for(chunk))
            self._numbers[chunk.anchor_url] = len(self.sources)
        return f"[{self._numbers[chunk.anchor_url]}]"


def compose(question: str, retrieval: Retrieval) -> Draft:
    """A grounded answer for a question the local docs cover."""
    citations = _Citations()
    if retrieval.procedural and retrieval.steps:
        lines = [STEPS_INTRO, ""]
        lead = retrieval.hits[0] if retrieval.hits[0] not in retrieval.steps else None
        if lead is not None and (intro := sentences(lead.chunk.text)):
            lines = [f"{intro[0]} {citations.mark(lead.chunk)}", "", *lines]
        for number, item in enumerate(retrieval.steps, start=1):
            body = " ".join(sentences(item.chunk.text))
            lines.append(f"{number}. **{item.chunk.section}**: {body} {citations.mark(item.chunk)}")
        text = "\n".join(lines)
    else:
        text = _facts(question, retrieval.hits, citations)
    used = {s.url for s in citations.sources}
    return Draft(text=text, sources=citations.sources, followups=followups(retrieval, used))


def _facts(question: str, hits: list[Retrieved], citations: _Citations) -> str:
    """The sentences that carry the question's terms, best first, each cited."""
    wanted = expand(focus_terms(question)) or set(terms(question))
    scored: list[tuple[float, int, int, str, Chunk]] = []
    for rank, item in enumerate(hits[:3]):
        for position, sentence in enumerate(sentences(item.chunk.text)):
            present = set(terms(sentence))
            overlap = len(wanted & present)
            if not overlap and not (rank == 0 and position == 0):
                continue
            score = overlap + (0.75 if rank == 0 else 0.0) - 0.2 * rank
            scored.append((score, rank, position, sentence, item.chunk))
    scored.sort(key=lambda s: (-s[0], s[1], s[2]))
    chosen = scored[:MAX_FACT_SENTENCES]
    # Read in document order within the answer: section rank, then sentence position.
    chosen.sort(key=lambda s: (s[1], s[2]))
    parts = [f"{sentence} {citations.mark(chunk)}" for _, _, _, sentence, chunk in chosen]
    return f"{FACTS_INTRO}\n\n" + " ".join(parts) if parts else NOTHING_AT_ALL


def followups(retrieval: Retrieval, used_urls: set[str], limit: int = 3) -> list[str]:
    """Questions about nearby sections this answer did not use."""
    out: list[str] = []
    for item in retrieval.hits:
        if item.chunk.anchor_url in used_urls or len(out) >= limit:
            continue
        out.append(question_for(item.chunk.section))
    return out


def question_for(section_title: str) -> str:
    """A natural follow-up question about a section, from its heading."""
    title = section_title.strip().rstrip(".")
    first = terms(title.split(" ")[0], keep_stopwords=True) if title else []
    # headings speak to the reader ("Save your API key"); the asker says "my"
    task = re.sub(r"\byour\b", "my", title[7:] if title.lower().startswith("how to ") else title)
    if (first and first[0] in _VERBS) or title.lower().startswith("how to "):
        return f"How do I {task[0].lower()}{task[1:]}?"
    return f"What do the docs say about “{title}”?"


def not_found(retrieval: Retrieval, limit: int = 3) -> Draft:
    """The honest answer when neither the local docs nor the docs site answer."""
    sources = [source_for(h.chunk) for h in retrieval.hits[:limit]]
    if not sources:
        return Draft(text=NOTHING_AT_ALL)
    listing = "\n".join(f"- [{s.section or s.title}]({s.url})" for s in sources)
    return Draft(text=f"{NOT_FOUND}\n\n{listing}", sources=sources)
