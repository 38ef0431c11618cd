"""Raw HTML found in GitBook pages → readable text pieces.

Tables keep their rows ("a | b"), figures keep alt text and caption (the image `src`
goes to metadata), `<details>`/`<summary>`, `<kbd>`, `<mark>` keep their text, `<br>`
breaks a line, `<h1>`–`<h6>` become headings, and our marker comments (see
`ingest.gitbook_tags`) pass through so blocks nested in HTML still work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from ingest.gitbook_tags import MARKER_RE, strip_residue

_BLOCK_TAGS = {
    "p", "div", "figure", "figcaption", "table", "thead", "tbody", "tfoot", "tr", "ul", "ol",
    "details", "summary", "section", "blockquote", "picture", "hr", "dl", "dt", "dd",
    "center", "article", "header", "footer", "aside", "nav", "main", "caption",
}  # fmt: skip
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_TAG_RE = re.compile(r"<[^<>]*>")


@dataclass
class HtmlHeading:
    """A heading written in HTML (`<h4 id="x">Title</h4>`)."""

    level: int
    text: str
    anchor: str


@dataclass
class MarkerPiece:
    """One of our `<!--docsagent:kind args-->` markers found inside HTML."""

    kind: str
    args: list[str]


Piece = str | HtmlHeading | MarkerPiece


@dataclass
class HtmlResult:
    pieces: list[Piece] = field(default_factory=list)
    images: list[dict[str, str]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # `id` attributes of `<a>` (heading anchors)
    warning: str | None = None


def parse_marker(comment: str) -> MarkerPiece | None:
    """Decode a full marker comment string, or None if it is not one."""
    from urllib.parse import unquote

    m = MARKER_RE.fullmatch(comment.strip())
    if m is None:
        return None
    return MarkerPiece(m[1], [unquote(a) for a in m[2].split(" ")[1:]])


def normalize_text(text: str) -> str:
    """Collapse whitespace inside lines, drop empty lines, strip tag residue."""
    lines = (" ".join(line.split()) for line in strip_residue(text).split("\n"))
    return "\n".join(line for line in lines if line)


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.result = HtmlResult()
        self.buf: list[str] = []
        self.skip = 0
        self.pre = 0
        self.cell = 0
        self.heading: tuple[int, str] | None = None
        self.links: list[tuple[int, str]] = []
        self.caption_start: int | None = None

    def flush(self) -> None:
        text = normalize_text("".join(self.buf))
        if text:
            self.result.pieces.append(text)
        self.buf = []
        self.links = []
        self.caption_start = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in _HEADINGS:
            self.flush()
            self.heading = (_HEADINGS[tag], a.get("id", ""))
        elif tag == "pre":
            self.flush()
            self.pre += 1
        elif tag == "img":
            alt, src = a.get("alt", "").strip(), a.get("src", "")
            if src:
                self.result.images.append({"src": src, "alt": alt, "caption": ""})
            if alt:
                self.buf.append(f" {alt} ")
        elif tag == "a":
            if a.get("id"):
                self.result.ids.append(a["id"])
            self.links.append((len(self.buf), a.get("href", "")))
        elif tag == "tr":
            self.buf.append("\n")
            self.cell = 0
        elif tag in ("td", "th"):
            self.buf.append(" | " if self.cell else " ")
            self.cell += 1
        elif tag == "li":
            self.buf.append("\n- ")
        elif tag == "br":
            self.buf.append("\n")
        elif tag in _BLOCK_TAGS:
            self.buf.append("\n")
            if tag == "figcaption":
                self.caption_start = len(self.buf)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in _HEADINGS and self.heading is not None:
            level, anchor = self.heading
            text = " ".join(normalize_text("".join(self.buf)).split())
            self.buf = []
            self.links = []
            self.heading = None
            if not anchor and self.result.ids:
                anchor = self.result.ids[-1]
            self.result.pieces.append(HtmlHeading(level, text, anchor))
        elif tag == "pre" and self.pre:
            self.pre -= 1
            code = "".join(self.buf).strip("\n")
            self.buf = []
            if code.strip():
                self.result.pieces.append(f"```\n{code}\n```")
        elif tag == "a" and self.links:
            start, href = self.links.pop()
            inner = " ".join("".join(self.buf[start:]).split())
            if inner and href and not href.startswith("#") and inner != href:
                self.buf[start:] = [f"[{inner}]({href})"]
        elif tag == "figcaption" and self.caption_start is not None:
            caption = " ".join("".join(self.buf[self.caption_start :]).split())
            if self.result.images:
                image = self.result.images[-1]
                image["caption"] = image["caption"] or caption
                if caption and caption == " ".join(image["alt"].split()):
                    del self.buf[self.caption_start :]  # the alt text already said it
            self.caption_start = None
            self.buf.append("\n")
        elif tag in _BLOCK_TAGS:
            self.buf.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.buf.append(data)

    def handle_comment(self, data: str) -> None:
        piece = parse_marker(f"<!--{data}-->")
        if piece is not None:
            self.flush()
            self.result.pieces.append(piece)


def html_to_pieces(html: str) -> HtmlResult:
    """Convert an HTML fragment to text pieces, headings and markers; never raises."""
    converter = _Converter()
    try:
        converter.feed(html)
        converter.close()
    except (AssertionError, AttributeError) as exc:  # html.parser chokes on some `<![` input
        text = normalize_text(_TAG_RE.sub(" ", html))
        return HtmlResult(
            pieces=[text] if text else [], warning=f"unparseable HTML kept as text ({exc})"
        )
    if converter.heading is not None:
        converter.result.pieces.append(
            HtmlHeading(
                converter.heading[0], normalize_text("".join(converter.buf)), converter.heading[1]
            )
        )
        converter.buf = []
    converter.flush()
    return converter.result
