"""A section's markdown as blocks a reader sees, and sentences that respect code.

Blocks are paragraphs, list items, fenced code, tables and quotes (hints); an answer is
built from whole blocks, so code fences keep their lines and language, lists keep their
markers and tables their rows. Sentences are split only where a sentence ends: never
inside a code span or a link, after an abbreviation ("e.g.", "i.e.", "etc.", "v1.2") or
inside an ellipsis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["para", "item", "code", "table", "quote", "heading"]

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_PROTECT = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)|\[[^\]]*\]\([^)]*\)|https?://\S+")
_ABBREVIATIONS = re.compile(
    r"\b(?:e\.g|i\.e|etc|vs|cf|approx|incl|min|max|no|fig|ver|dr|mr|mrs|ms|st|jr)\.$",
    re.IGNORECASE,
)
_END = re.compile(r"(?<=[.!?])[\"”')\]]*\s+(?=[A-Z0-9\"“(*`\[])")


@dataclass(frozen=True)
class Block:
    kind: Kind
    text: str

    @property
    def words(self) -> int:
        return len(self.text.split())


def blocks(text: str) -> list[Block]:
    """The section text as blocks, in order; fences are kept whole, verbatim."""
    out: list[Block] = []
    lines = text.split("\n")
    i = 0
    para: list[str] = []

    def flush() -> None:
        if para:
            joined = "\n".join(para).rstrip()
            if not _ITEM.match(joined):  # a nested list item keeps its indentation
                joined = joined.lstrip()
            if joined.strip():
                out.append(Block(_kind_of(joined), joined))
            para.clear()

    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            flush()
            marker = fence[1]
            body = [line]
            i += 1
            while i < len(lines):
                body.append(lines[i])
                close = _FENCE.match(lines[i])
                i += 1
                if close and close[1][0] == marker[0] and len(close[1]) >= len(marker):
                    break
            out.append(Block("code", "\n".join(body)))
            continue
        if not line.strip():
            flush()
        elif _ITEM.match(line):  # each list item is a block; its wrapped lines follow it
            flush()
            para.append(line)
        else:
            para.append(line)
        i += 1
    flush()
    return out


def _kind_of(text: str) -> Kind:
    first = text.lstrip()
    if _ITEM.match(first):
        return "item"
    if first.startswith(">"):
        return "quote"
    if first.startswith("|") or (text.count("\n") and all(" | " in ln for ln in text.split("\n"))):
        return "table"
    if first.startswith("#"):
        return "heading"
    return "para"


def section_blocks(pieces: list[str]) -> list[Block]:
    """The blocks of a section stored as several chunks, as one text: the lines a piece
    repeats from the one before it are dropped, and a table cut across pieces (each
    with its own header) becomes one table again."""
    out: list[Block] = []
    for n, piece in enumerate(pieces):
        parts = blocks(piece)
        if n and out:
            parts = parts[_repeated(out, parts) :]
            while parts and parts[0] in out[-3:]:
                parts.pop(0)
            if parts and out and parts[0].kind == out[-1].kind == "table":
                head = out[-1].text.split("\n")[:2]
                rows = parts.pop(0).text.split("\n")
                if rows[:2] == head:
                    rows = rows[2:]
                out[-1] = Block("table", "\n".join([out[-1].text, *rows]))
        out.extend(parts)
    return out


def _repeated(out: list[Block], parts: list[Block]) -> int:
    """How many of a piece's first blocks say again what the last blocks before it said
    (the chunker's overlap: the last lines of the piece before, which may join two short
    paragraphs into one block or start in the middle of a list item)."""
    said = " " + _flat(out[-6:])
    for count in range(min(len(parts), 6), 0, -1):
        if said.endswith(" " + _flat(parts[:count])):
            return count
    return 0


def _flat(parts: list[Block]) -> str:
    return " ".join(" ".join(b.text.split()) for b in parts)


def render(parts: list[Block]) -> str:
    """Blocks back to markdown: list items stay one list, other blocks are paragraphs."""
    out: list[str] = []
    previous: Block | None = None
    for block in parts:
        if out:
            tight = previous is not None and previous.kind == "item" and block.kind == "item"
            out.append("\n" if tight else "\n\n")
        out.append(block.text)
        previous = block
    return "".join(out)


def sentences(text: str) -> list[str]:
    """The sentences of one paragraph; code spans, links and abbreviations stay whole."""
    protected: list[str] = []

    def hide(match: re.Match[str]) -> str:
        protected.append(match[0])
        return f"\x00{len(protected) - 1}\x00"

    hidden = _PROTECT.sub(hide, " ".join(text.split()))
    pieces: list[str] = []
    start = 0
    for match in _END.finditer(hidden):
        candidate = hidden[start : match.start()].rstrip()
        if _ABBREVIATIONS.search(candidate) or candidate.endswith(".."):
            continue
        pieces.append(candidate)
        start = match.end()
    pieces.append(hidden[start:])

    def show(piece: str) -> str:
        return re.sub(r"\x00(\d+)\x00", lambda m: protected[int(m[1])], piece).strip()

    return [s for s in (show(p) for p in pieces) if s]
