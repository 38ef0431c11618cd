"""markdown-it tokens (with our block markers) → the page's sections as readable text.

The walk keeps a heading stack. A stepper pins the stack at the heading that opened it
(its "floor"), so each step's heading nests under that heading whatever its level, and
each step starts its own section. Labels (hint style, tab title, code title…) prefix the
next block of text: "Warning: …", "Python:". A hint is a quote from its first block to its
end, and the paragraphs of one quote are joined by a quoted blank line ("> a\n>\n> b"),
so the chunker and the answer see one callout, not a title quote and a body quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ingest.gitbook_tags import BROKEN_LINK_TEXT, MARKER_PREFIX, broken_link, strip_residue
from ingest.html_blocks import HtmlHeading, MarkerPiece, html_to_pieces, parse_marker
from ingest.models import Section

_MD = MarkdownIt("commonmark", {"html": True, "maxNesting": 40}).enable(["table", "strikethrough"])
_BR_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)


def slugify(title: str) -> str:
    """GitBook-style anchor: lowercase, runs of non-alphanumerics → '-', trimmed."""
    out = "".join(c if c.isalnum() else "-" for c in title.lower())
    return re.sub(r"-{2,}", "-", out).strip("-")


@dataclass
class _Draft:
    section: Section
    parts: list[str] = field(default_factory=list)
    heading_pending: bool = False  # a step waiting for its heading
    continuation: bool = False  # text after a stepper, under the stepper's parent heading


@dataclass
class _Head:
    level: int
    title: str
    anchor: str


class SectionBuilder:
    """Consumes headings, text blocks and markers; produces Sections."""

    def __init__(self, page_title: str, *, title_from_h1: bool = True, base_url: str = "") -> None:
        self.title = page_title
        self.title_from_h1 = title_from_h1
        self.base_url = base_url  # relative links resolve against it
        self.drafts = [_Draft(Section(page_title, "", 1, [page_title], ""))]
        self.stack: list[_Head] = []
        self.floors: list[int] = []
        self.step: list[tuple[int, int] | None] = [None]
        self.label: tuple[str, str, str] | None = None  # (meta key, value, text)
        self.anchors: dict[str, int] = {}
        self.skipped_title = False
        self.list_depth = 0
        self.quote_depth = 0  # inside a "> " quote (a tip box on many sites)
        self.hint_depth = 0  # inside a GitBook hint: all of its blocks are one quote
        # the quote depth the last block was written at, 0 when a quote or hint has
        # opened or closed since: the next block at that depth goes on the same quote
        self.open_quote = 0
        self.warnings: list[str] = []

    @property
    def current(self) -> _Draft:
        return self.drafts[-1]

    def _unique(self, anchor: str) -> str:
        if not anchor:
            return anchor
        seen = self.anchors.get(anchor, 0)
        self.anchors[anchor] = seen + 1
        return anchor if not seen else f"{anchor}-{seen}"

    def _path(self) -> list[str]:
        return [self.title, *(h.title for h in self.stack)]

    def heading(self, level: int, title: str, anchor: str) -> None:
        self.hint_depth = 0  # a callout never spans a heading (nor does one never closed)
        if level == 1 and not self.skipped_title and len(self.drafts) == 1:
            self.skipped_title = True
            if self.title_from_h1 and title:
                self.title = title
            return
        title = title or "Untitled section"
        anchor = self._unique(anchor or slugify(title))
        draft = self.current
        if draft.heading_pending and not draft.parts:
            draft.heading_pending = False
            self.stack.append(_Head(level, title, anchor))
            s = draft.section
            s.title, s.anchor, s.level, s.path = title, anchor, level, self._path()
            return
        floor = self.floors[-1] if self.floors else 0
        while len(self.stack) > floor and self.stack[-1].level >= level:
            self.stack.pop()
        self.stack.append(_Head(level, title, anchor))
        section = Section(title, anchor, level, self._path(), "", step=self.step[-1])
        self.drafts.append(_Draft(section))

    def _reopen_parent(self) -> None:
        """Text after a stepper belongs to the heading above the stepper again."""
        head = self.stack[-1] if self.stack else None
        title, anchor, level = (
            (head.title, head.anchor, head.level) if head else (self.title, "", 1)
        )
        section = Section(title, anchor, level, self._path(), "", step=self.step[-1])
        self.drafts.append(_Draft(section, continuation=True))

    def marker(self, kind: str, args: list[str]) -> None:
        if kind == "label" and len(args) == 3:
            self._flush_label()
            self.label = (args[0], args[1], args[2])
            if args[0] == "hints":
                self.hint_depth += 1
                self.open_quote = 0
        elif kind == "meta" and len(args) == 2:
            self.current.section.meta.setdefault(args[0], []).append(args[1])
        elif kind == "text" and args:
            self.block(args[0])
        elif kind == "stepper":
            self.floors.append(len(self.stack))
            self.step.append(None)
        elif kind == "step" and len(args) == 2 and self.floors:
            del self.stack[self.floors[-1] :]
            n, total = int(args[0]), int(args[1])
            self.step[-1] = (n, total)
            path = [*self._path(), f"Step {n}"]
            parent = self.stack[-1] if self.stack else _Head(1, self.title, "")
            section = Section(
                f"Step {n}", parent.anchor, parent.level + 1, path, "", step=(n, total)
            )
            self.drafts.append(_Draft(section, heading_pending=True))
        elif kind == "endstepper" and self.floors:
            del self.stack[self.floors.pop() :]
            self.step.pop()
            self._reopen_parent()
        elif kind == "endblock":
            self.label = None
        elif kind == "endhint" and self.hint_depth:
            self.label = None
            self.hint_depth -= 1
            self.open_quote = 0  # what follows the hint is not part of it

    def _flush_label(self) -> None:
        if self.label is not None:
            key, value, text = self.label
            self.label = None
            self.block(_labelled(key, text, ""))
            self.current.section.meta.setdefault(key, []).append(value)

    def block(self, text: str, *, paragraph: bool = False) -> None:
        if not text.strip():
            return
        if self.label is not None:
            key, value, label = self.label
            self.label = None
            self.current.section.meta.setdefault(key, []).append(value)
            text = _labelled(key, label, text, paragraph=paragraph)
        elif self.hint_depth:  # a hint's later blocks stay inside its quote
            text = _quoted(text, self.hint_depth)
        if self.quote_depth:
            text = _quoted(text, self.quote_depth)
        depth = self.quote_depth + self.hint_depth
        # the paragraphs of one quote are joined by a quoted blank line ("> a\n>\n> b"),
        # so the quote stays one block for the chunker and the answer
        same = depth and self.open_quote == depth and self.current.parts
        gap = "\n" if self.list_depth else ("\n" + _quoted("", depth) + "\n" if same else "\n\n")
        self.current.parts.append(gap + text)
        self.open_quote = depth

    def image(self, info: dict[str, str]) -> None:
        self.current.section.meta.setdefault("images", []).append(info)

    def sections(self) -> list[Section]:
        self._flush_label()
        out = []
        for i, draft in enumerate(self.drafts):
            draft.section.text = "".join(draft.parts).strip()
            if i and draft.continuation and not draft.section.text:
                continue
            draft.section.path[0] = self.title
            out.append(draft.section)
        out[0].title = self.title
        return out


def _labelled(key: str, label: str, text: str, *, paragraph: bool = True) -> str:
    """A block under a label: a hint is a quote led by its style ("> **Warning:** …"),
    any other label (tab, code title, "See also") a bold lead-in ("**Python:**")."""
    lead = f"**{label}:**"
    if key != "hints":
        return f"{lead} {text}".rstrip() if paragraph else f"{lead}\n{text}".rstrip()
    body = f"{lead} {text}" if paragraph else f"{lead}\n{text}"
    return _quoted(body.rstrip())


def _quoted(text: str, depth: int = 1) -> str:
    """`text` as a markdown quote: every line led by "> " (once per level)."""
    return "\n".join(("> " * depth + line).rstrip() for line in text.split("\n"))


def _resolve(href: str, base_url: str) -> str:
    """A link as a reader can follow it: relative targets resolved against the page,
    a linked '.md' file as its page URL (GitBook serves `a/README.md` as `a`)."""
    if not base_url or href.startswith(("#", "mailto:", "tel:")) or "://" in href:
        return href
    target = urljoin(base_url, href)
    path, sep, fragment = target.partition("#")
    if path.endswith(".md"):
        path = path[:-3]
        if path.lower().endswith("/readme"):
            path = path[: -len("/readme")]
    return path + sep + fragment


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _inline(children: list[Token], b: SectionBuilder, ids: list[str] | None = None) -> str:
    """Render inline tokens to text; images go to meta, `<a id>` to `ids`."""
    out: list[str] = []
    links: list[tuple[int, str]] = []
    for tok in children:
        t = tok.type
        if t == "text":
            text = strip_residue(tok.content)
            # a literal asterisk ("the *Async methods") is escaped again, now that bold
            # is markup: it must not pair with a bold mark into emphasis (titles are plain)
            out.append(text if ids is not None else text.replace("*", "\\*"))
        elif t == "code_inline":
            code = tok.content
            if code.startswith("`") or code.endswith("`"):  # `` `x` `` needs its spaces back
                code = f" {code} "
            out.append(f"{tok.markup}{code}{tok.markup}")
        elif t in ("softbreak", "hardbreak"):
            out.append("\n")
        elif t in ("strong_open", "strong_close") and ids is None:
            out.append("**")  # bold stays for the reader (headings are plain titles)
        elif t == "link_open":
            links.append((len(out), str(tok.attrGet("href") or "")))
        elif t == "link_close" and links:
            start, href = links.pop()
            inner = "".join(out[start:])
            if broken_link(href):  # its text alone, or nothing when that says only "broken"
                out[start:] = [] if inner.strip() == BROKEN_LINK_TEXT else [inner]
            elif href and inner.strip() and not href.startswith("#"):
                if inner != href or "://" not in href:  # a bare URL stays its own text
                    out[start:] = [f"[{inner}]({_resolve(href, b.base_url)})"]
        elif t == "image":
            alt = "".join(c.content for c in tok.children or [])
            b.image(
                {
                    "src": str(tok.attrGet("src") or ""),
                    "alt": alt,
                    "caption": str(tok.attrGet("title") or ""),
                }
            )
            out.append(alt)
        elif t == "html_inline":
            content = tok.content
            piece = parse_marker(content) if content.startswith(MARKER_PREFIX) else None
            if piece is not None:
                if piece.kind in ("text", "meta"):
                    b.marker(piece.kind, piece.args)
            elif _BR_RE.fullmatch(content.strip()):
                out.append("\n")
            else:
                result = html_to_pieces(content)
                for image in result.images:
                    b.image(image)
                    out.append(image["alt"])
                if ids is not None:
                    ids.extend(result.ids)
    return "".join(out)


def _html(content: str, b: SectionBuilder) -> None:
    piece = parse_marker(content) if content.lstrip().startswith(MARKER_PREFIX) else None
    if piece is not None:
        b.marker(piece.kind, piece.args)
        return
    result = html_to_pieces(content)
    if result.warning:
        b.warnings.append(result.warning)
    for image in result.images:
        b.image(image)
    for p in result.pieces:
        if isinstance(p, HtmlHeading):
            b.heading(p.level, p.text, p.anchor)
        elif isinstance(p, MarkerPiece):
            b.marker(p.kind, p.args)
        else:
            b.block(p)


def build_sections(
    markdown: str, fallback_title: str, title: str | None = None, *, base_url: str = ""
) -> tuple[str, list[Section], list[str]]:
    """Parse marker-annotated markdown into (page title, sections, warnings).

    The title is `title` if given, else the first H1 (when it comes before any other
    heading), else `fallback_title`.
    """
    b = SectionBuilder(title or fallback_title, title_from_h1=title is None, base_url=base_url)
    tokens = _MD.parse(markdown)
    prefixes: list[str] = []  # one per open list: "- " or the next ordered number
    row: list[str] = []
    rows: list[str] = []
    item_prefix = ""
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        t = tok.type
        if t == "heading_open":
            ids: list[str] = []
            title = " ".join(_inline(tokens[i + 1].children or [], b, ids).split())
            level = int(tok.tag[1])
            b.heading(level, title, ids[-1] if ids else "")
            i += 3
            continue
        if t == "blockquote_open":
            b.quote_depth += 1
            b.open_quote = 0
        elif t == "blockquote_close":
            b.quote_depth -= 1
            b.open_quote = 0
        elif t in ("bullet_list_open", "ordered_list_open"):
            start = tok.attrGet("start")
            prefixes.append("- " if t == "bullet_list_open" else f"{start or 1}")
            b.list_depth += 1
        elif t in ("bullet_list_close", "ordered_list_close"):
            prefixes.pop()
            b.list_depth -= 1
        elif t == "list_item_open" and prefixes:
            indent = "  " * (len(prefixes) - 1)
            p = prefixes[-1]
            if p == "- ":
                item_prefix = indent + "- "
            else:
                item_prefix = f"{indent}{p}. "
                prefixes[-1] = str(int(p) + 1)
        elif t == "inline" and tokens[i - 1].type in ("th_open", "td_open"):
            row.append(_cell(_inline(tok.children or [], b)))
        elif t == "inline":
            text = _inline(tok.children or [], b)
            b.block(item_prefix + text, paragraph=True)
            item_prefix = ""
        elif t == "tr_close":
            rows.append("| " + " | ".join(row) + " |")
            if len(rows) == 1:  # the header row: a markdown table needs its rule
                rows.append("|" + "|".join(" --- " for _ in row) + "|")
            row = []
        elif t == "table_close":
            b.block("\n".join(rows))
            rows = []
        elif t == "fence":
            b.block(f"{tok.markup}{tok.info}\n{tok.content}{tok.markup}")
        elif t == "code_block":
            _code_block(tok.content, b)
        elif t == "html_block":
            _html(tok.content, b)
        i += 1
    sections = b.sections()
    return b.title, sections, b.warnings


def _code_block(content: str, b: SectionBuilder) -> None:
    """Indented code; a marker that landed here (an indented tag line) still counts."""
    code: list[str] = []
    for line in content.split("\n"):
        piece = parse_marker(line) if MARKER_PREFIX in line else None
        if piece is None:
            code.append(line)
            continue
        b.block("```\n" + "\n".join(code).strip("\n") + "\n```" if "".join(code).strip() else "")
        code = []
        b.marker(piece.kind, piece.args)
    if "".join(code).strip():
        b.block("```\n" + "\n".join(code).strip("\n") + "\n```")
