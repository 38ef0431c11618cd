"""The offline answerer: grounded and extractive.

Every block of an answer is copied verbatim from a retrieved section, under that
section's heading with a citation marker `[n]` that maps to `sources[n-1]`; the only
words of our own are the fixed phrases below. A procedure comes back whole and in order
(the steps of a stepper or numbered sibling sections); otherwise the answer is the most
relevant contiguous passage of the best section, plus a second section only when it
carries question terms the first lacks (and, from another page, matches the question as
well as the first). Markdown survives: code fences, lists, tables
and hints are whole blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.models import Source
from agent.passages import Block, blocks, render, section_blocks, sentences
from agent.retrieve import Retrieval, Retrieved
from agent.text import plain
from ingest.models import Chunk
from ingest.terms import terms

STEPS_INTRO = "The docs give these steps:"
NOT_FOUND = (
    "The documentation I have does not answer this question, so I will not guess. "
    "These are the closest sections I found:"
)
NOTHING_AT_ALL = "The documentation I have does not answer this question, so I will not guess."
EXCERPT_CHARS = 240
# Chosen on the dev split of bench/eval (passages of 100/140/180/220/300 words, second
# sections at 0.1/0.15/0.25/0.4 of the question's weight): a screenful of prose…
PASSAGE_WORDS = 180
PASSAGE_CODE_LINES = 40  # …plus its code
SECOND_SECTION_SHARE = 0.1  # question weight a second section must add to be shown
HEADING_WORDS = 40  # a section saying less than this above its steps is their heading
STEP_RELEVANCE = 0.5  # a neighbouring step joins a task when this close to the best step


@dataclass
class Draft:
    """An answer before it becomes an `Answer`: markdown, its sources and followups."""

    text: str
    sources: list[Source] = field(default_factory=list)
    followups: list[str] = field(default_factory=list)


def source_for(chunk: Chunk) -> Source:
    """The citation entry of a chunk: page title, section anchor URL, a short excerpt."""
    prose = [b.text for b in blocks(chunk.text) if b.kind in ("para", "item", "quote")]
    excerpt = " ".join(plain(s) for text in prose for s in sentences(text))
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


def compose(question: str, retrieval: Retrieval, *, verbs: frozenset[str] = frozenset()) -> Draft:
    """A grounded answer for a question the local docs cover.

    `verbs`: words this site's docs use after "to" (from its index), so a follow-up
    suggestion can say "How do I …?" for a heading that starts with one."""
    citations = _Citations()
    steps = _task_steps(retrieval) if retrieval.procedural or heads_steps(retrieval) else []
    if len(steps) >= 2:
        whole = steps[0] is retrieval.steps[0] and steps[-1] is retrieval.steps[-1]
        around = (retrieval.lead, retrieval.trailer) if whole else (None, None)
        text = _procedure(steps, citations, *around)
    else:
        text = _passages(retrieval, citations)
    text = _titled_cards(text, retrieval.pages)
    used = {s.url for s in citations.sources}
    return Draft(
        text=text,
        sources=citations.sources,
        followups=followups(retrieval, used, question, verbs=verbs),
    )


# a link whose text is only a file name: how GitBook's markdown writes a page card
# ({% content-ref %}), which the site itself shows with the linked page's title
_FILE_LINK = re.compile(r"\[(?P<name>[\w.\-]+\.md)\]\((?P<url>[^()\s]+)\)")


def _titled_cards(text: str, pages: dict[str, list[Chunk]]) -> str:
    """ "[slack.md](…/slack)" as "[Slack](…/slack)" when the linked page is indexed."""

    def titled(match: re.Match[str]) -> str:
        chunks = pages.get(match["url"].split("#", 1)[0])
        title = chunks[0].title.strip() if chunks else ""
        return f"[{title}]({match['url']})" if title else match[0]

    return _FILE_LINK.sub(titled, text)


def heads_steps(retrieval: Retrieval) -> bool:
    """The best section is the short heading of a procedure ("How to generate your API
    key" + a line, then its steps): what it says is the steps, whatever the question's
    wording."""
    best = retrieval.best
    if best is None or not retrieval.steps or best.chunk.step is not None:
        return False
    under = best.chunk.breadcrumb + " › "
    if not all(s.chunk.breadcrumb.startswith(under) for s in retrieval.steps):
        return False
    return _prose_words(_section_parts(retrieval, best.chunk)) < HEADING_WORDS


def _task_steps(retrieval: Retrieval) -> list[Retrieved]:
    """The steps of the procedure the question asks for: all of them when the question
    names the procedure (its heading matches at least as well as the best step's, or the
    best match is its first step), else the run of steps around the best one that are
    about as relevant to the question."""
    steps = retrieval.steps
    best = retrieval.best
    if not steps or best is None:
        return []
    anchors = [s.chunk.anchor_url for s in steps]
    where = anchors.index(best.chunk.anchor_url) if best.chunk.anchor_url in anchors else None
    if where is None or where == 0:
        return steps
    crumbs = steps[0].chunk.breadcrumb.split(" › ")
    heading = crumbs[-2] if len(crumbs) > 1 else ""  # the heading the steps sit under
    if _title_match(retrieval, heading) >= _title_match(retrieval, best.chunk.section):
        return steps
    relevance = [_relevance(retrieval, s.chunk) for s in steps]
    floor = relevance[where] * STEP_RELEVANCE
    lo = hi = where
    while lo > 0 and relevance[lo - 1] >= floor and relevance[lo - 1] > 0:
        lo -= 1
    while hi + 1 < len(steps) and relevance[hi + 1] >= floor and relevance[hi + 1] > 0:
        hi += 1
    return steps[lo : hi + 1]


def _title_match(retrieval: Retrieval, title: str) -> float:
    return retrieval.coverage(frozenset(terms(title)))


def _relevance(retrieval: Retrieval, chunk: Chunk) -> float:
    return retrieval.coverage(frozenset(terms(f"{chunk.section}\n{chunk.text}")))


def _procedure(
    steps: list[Retrieved],
    citations: _Citations,
    lead: Retrieved | None = None,
    trailer: Retrieved | None = None,
) -> str:
    """The steps as a numbered list, between what the heading above them says before and
    after them (for a whole procedure; a run from the middle of one needs neither)."""
    lines = []
    if lead is not None:
        intro, _ = _first_blocks(lead.chunk)
        if intro:
            lines += [_cited(lead.chunk, intro, citations), ""]
    lines += [STEPS_INTRO, ""]
    for number, item in enumerate(steps, start=1):
        body = render(blocks(item.chunk.text)) or item.chunk.section
        head = f"{number}. **{item.chunk.section}** {citations.mark(item.chunk)}"
        if body == item.chunk.section:
            lines.append(head)
            continue
        indented = "\n".join(("   " + ln) if ln.strip() else "" for ln in body.split("\n"))
        lines.append(f"{head}\n\n{indented}\n")
    if trailer is not None:
        after, _ = _first_blocks(trailer.chunk)
        if after:
            lines += [f"{render(after)} {citations.mark(trailer.chunk)}"]
    return "\n".join(lines).rstrip()


def _passages(retrieval: Retrieval, citations: _Citations) -> str:
    """The best section's most relevant passage, and a second section's when it adds."""
    hits = retrieval.hits
    if not hits:
        return NOTHING_AT_ALL
    # a section that is only links ("Related", "See also") is a signpost, not an answer
    first = next((h for h in hits[:3] if not _links_only(h.chunk)), hits[0])
    hits = [first, *[h for h in hits if h is not first]]
    chosen, covered = _best_passage(retrieval, first.chunk)
    parts = [_cited(first.chunk, chosen, citations)]
    total = retrieval.weight(set(retrieval.asked)) or 1.0
    for other in hits[1:3]:
        gain = retrieval.weight(retrieval.matched(_terms_of(other.chunk)) - covered)
        # another page's section must match the question as well as the first does: one
        # that shares only a leftover word (a release note naming "version") adds nothing
        related = other.chunk.page_url == first.chunk.page_url or other.coverage >= first.coverage
        if gain / total >= SECOND_SECTION_SHARE and other.score >= 0.8 * first.score and related:
            passage, more = _best_passage(retrieval, other.chunk)
            parts.append(_cited(other.chunk, passage, citations))
            covered |= more
            break
    return "\n\n".join(parts)


def _first_blocks(chunk: Chunk) -> tuple[list[Block], int]:
    """The opening prose of a section that fits the passage budget."""
    out: list[Block] = []
    for block in blocks(chunk.text):
        if block.kind == "code" or not _fits([*out, block]):
            break
        out.append(block)
    return out, len(out)


_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def _links_only(chunk: Chunk) -> bool:
    """A section whose words are nearly all link texts."""
    linked = sum(len(m[1].split()) for m in _LINK.finditer(chunk.text))
    outside = [w for w in _LINK.sub(" ", chunk.text).split() if any(c.isalnum() for c in w)]
    return linked > 0 and len(outside) <= 0.3 * (linked + len(outside))


def _terms_of(chunk: Chunk) -> frozenset[str]:
    return frozenset(terms(f"{chunk.section}\n{chunk.text}"))


def _cited(chunk: Chunk, passage: list[Block], citations: _Citations) -> str:
    heading = f"**{chunk.section}** {citations.mark(chunk)}"
    return f"{heading}\n\n{render(passage)}" if passage else heading


def _best_passage(retrieval: Retrieval, chunk: Chunk) -> tuple[list[Block], set[str]]:
    """The contiguous run of blocks of the chunk's whole section with the most question
    weight that fits the budget (the whole section when it fits), and the question terms
    it covers."""
    parts = _section_parts(retrieval, chunk)
    if not parts:
        return [], set()
    block_terms = [retrieval.matched(frozenset(terms(b.text))) for b in parts]
    if _fits(parts):
        return parts, set().union(*block_terms)
    scores = [retrieval.weight(bt) for bt in block_terms]
    best_span, best_score = (0, 1), -1.0
    for start in range(len(parts)):
        seen: set[str] = set()
        for end in range(start + 1, len(parts) + 1):
            if end - start > 1 and not _fits(parts[start:end]):
                break
            seen |= block_terms[end - 1]
            # distinct question terms count once; an earlier start breaks ties
            score = retrieval.weight(seen) + 0.01 * sum(scores[start:end])
            if score > best_score + 1e-9:
                best_span, best_score = (start, end), score
    start, end = best_span
    while end < len(parts) and _fits(parts[start : end + 1]) and _reads_on(parts[end]):
        end += 1  # room left: the prose that follows, as a reader reads on
    # a passage never starts inside a list: back to its first item, or at least to a
    # top-level one (a nested item or "3." alone reads as a fragment)
    while start > 0 and parts[start].kind == "item" and parts[start - 1].kind == "item":
        if not _fits(parts[start - 1 : end]) and not parts[start].text.startswith(" "):
            break
        start -= 1
    while end - start > 1 and parts[start].kind == "item" and parts[start].text.startswith(" "):
        start += 1  # no room for its parent: drop the orphaned nested item instead
    # a lead-in ending with ':' introduces what follows ("To rotate a key:" + list)
    if start > 0 and _leads_in(parts[start - 1]) and _fits(parts[start - 1 : end]):
        start -= 1
    # …and one at the end whose content did not fit is cut
    while end - start > 1 and end < len(parts) and _leads_in(parts[end - 1]):
        end -= 1
    chosen = parts[start:end]
    return chosen, set().union(*block_terms[start:end])


def _leads_in(block: Block) -> bool:
    """A block that introduces what follows: "To rotate a key:", "**Python:**"."""
    return block.text.rstrip().rstrip("*").rstrip().endswith(":")


def _reads_on(block: Block) -> bool:
    """A block a passage with room left may go on with: prose that ends a sentence, a
    list item or a quote, not code, a lead-in or a fragment ("Bitcode") cut from a list."""
    text = block.text.rstrip()
    if block.kind not in ("para", "item", "quote") or _leads_in(block):
        return False
    return block.kind != "para" or text.endswith((".", "!", "?", ")"))


def passage(retrieval: Retrieval, chunk: Chunk) -> str:
    """The most relevant contiguous passage of `chunk`'s section, as an answer shows it."""
    chosen, _ = _best_passage(retrieval, chunk)
    return render(chosen)


def _section_parts(retrieval: Retrieval, chunk: Chunk) -> list[Block]:
    """The blocks of `chunk`'s whole section, read across its chunks."""
    return section_blocks([c.text for c in retrieval.section(chunk)])


def _prose_words(parts: list[Block]) -> int:
    return sum(b.words for b in parts if b.kind != "code")


def _fits(parts: list[Block]) -> bool:
    code = sum(b.text.count("\n") + 1 for b in parts if b.kind == "code")
    return _prose_words(parts) <= PASSAGE_WORDS and code <= PASSAGE_CODE_LINES


def followups(
    retrieval: Retrieval,
    used_urls: set[str],
    question: str = "",
    limit: int = 3,
    *,
    verbs: frozenset[str] = frozenset(),
) -> list[str]:
    """Distinct questions about nearby sections this answer did not use."""
    out: list[str] = []
    seen = {_key(question)}
    for item in retrieval.hits + retrieval.steps:
        if item.chunk.anchor_url in used_urls or len(out) >= limit:
            continue
        suggestion = question_for(item.chunk.section, verbs)
        if _key(suggestion) not in seen and _key(item.chunk.section) not in seen:
            seen |= {_key(suggestion), _key(item.chunk.section)}
            out.append(suggestion)
    return out


def _key(text: str) -> str:
    return " ".join(sorted(set(terms(text))))


def question_for(section_title: str, verbs: frozenset[str] = frozenset()) -> str:
    """A follow-up question about a section, from its heading (its casing kept).

    "How to X" → "How do I X?"; a heading that is already a question stays one; a
    heading that starts with a word the site uses as a verb ("to rotate") → "How do I
    rotate …?"; anything else → "What do the docs say about “X”?"."""
    title = " ".join(section_title.split()).rstrip(".:")
    if not title:
        return "What else do the docs say?"
    if title.endswith("?"):
        return title
    lowered = re.sub(r"\byour\b", "my", title)
    if re.match(r"how\s+to\s+", lowered, re.IGNORECASE):
        task = re.sub(r"^how\s+to\s+", "", lowered, flags=re.IGNORECASE)
        return f"How do I {task}?"
    first = title.split(" ", 1)[0]
    if first.lower() in verbs:
        # "Rotate API key" → "rotate API key"; an all-caps word ("CREATE TABLE") stays
        if first[:1].isupper() and first[1:].islower():
            lowered = lowered[0].lower() + lowered[1:]
        return f"How do I {lowered}?"
    return f"What do the docs say about “{title}”?"


def not_found(retrieval: Retrieval, limit: int = 3) -> Draft:
    """The honest answer when neither the local docs nor the docs site answer."""
    sources = [source_for(h.chunk) for h in retrieval.hits[:limit]]
    if not sources:
        return Draft(text=NOTHING_AT_ALL)
    listing = "\n".join(f"- [{s.section or s.title}]({s.url})" for s in sources)
    return Draft(text=f"{NOT_FOUND}\n\n{listing}", sources=sources)
