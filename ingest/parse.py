"""A GitBook page's markdown → `Page` (title, description, sections, metadata).

The page envelope is handled here: URL normalisation, the llms.txt pointer line at the
top, the "Agent Instructions" footer at the bottom (both page metadata, never content),
and YAML front matter. GitBook's `{% %}` blocks are expanded by `ingest.gitbook_tags`,
and `ingest.md_sections` turns the markdown into heading-aware sections.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from ingest.errors import ParseError
from ingest.gitbook_tags import expand_tags
from ingest.md_sections import build_sections
from ingest.models import Page

_LLMS_URL_RE = re.compile(r"(?:https?://[^\s)>\]\"']*|[\w./-]*)llms(?:-full)?\.txt", re.IGNORECASE)
_FOOTER_RE = re.compile(r"^#{1,3}[ \t]+Agent Instructions\b.*$", re.MULTILINE | re.IGNORECASE)
_ASK_URL_RE = re.compile(r"GET[ \t]+(\S+?)\?ask=")
_RULE_RE = re.compile(r"\n[ \t]*(?:-{3,}|\*{3,}|_{3,})[ \t]*\s*$")
_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_LEADING_BLANK_RE = re.compile(r"\A(?:[ \t]*\n)+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f]")


def decode_page(data: bytes) -> str:
    """UTF-8 bytes (a BOM is fine) → str; binary or undecodable data → ParseError."""
    if b"\x00" in data:
        raise ParseError(f"binary data, not a markdown page (NUL byte at offset {data.index(0)})")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text: invalid byte at offset {exc.start}") from exc
    controls = len(_CONTROL_RE.findall(text[:65536]))
    if controls > max(8, len(text[:65536]) // 100):
        raise ParseError(f"binary data, not a markdown page ({controls} control characters)")
    return text


def normalize_urls(url: str) -> tuple[str, str]:
    """A page URL or its `.md` URL → (page url without '.md', '.md' url); query/fragment dropped."""
    parts = urlsplit(url.strip())
    path = parts.path
    if path.endswith(".md"):
        path = path[:-3]
    path = path.rstrip("/")
    page = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    md = urlunsplit((parts.scheme, parts.netloc, path + ".md" if path else "/readme.md", "", ""))
    return page, md


def _title_from_url(url: str) -> str:
    slug = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    words = slug.replace("-", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else "Untitled page"


def _strip_pointer(text: str, meta: dict[str, Any]) -> str:
    """Remove the llms.txt pointer (a line or a `>` quote block) at the top of the page."""
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None or start > 5 or lines[start].lstrip().startswith("#"):
        return text
    end = start + 1
    if lines[start].lstrip().startswith(">"):
        while end < len(lines) and lines[end].lstrip().startswith(">"):
            end += 1
    block = "\n".join(lines[start:end])
    found = sorted(_LLMS_URL_RE.findall(block), key=lambda u: not u.lower().startswith("http"))
    if not found or len(block) > 600:
        return text
    meta["llms_txt"] = found[0]
    return "\n".join(lines[:start] + lines[end:])


def _strip_footer(text: str, meta: dict[str, Any]) -> str:
    """Remove the trailing "Agent Instructions" block addressed to AI readers."""
    matches = list(_FOOTER_RE.finditer(text))
    if not matches:
        return text
    start = matches[-1].start()
    footer = text[start:]
    if "?ask=" not in footer and "ask" not in matches[-1][0].lower():
        return text
    meta["supports_ask"] = True
    ask = _ASK_URL_RE.search(footer)
    if ask:
        meta["ask_url"] = ask[1]
    head = text[:start]
    rule = _RULE_RE.search(head)
    return head[: rule.start()] if rule else head


def _front_matter(text: str, meta: dict[str, Any], warnings: list[str]) -> str:
    text = _LEADING_BLANK_RE.sub("", text)
    m = _FRONT_MATTER_RE.match(text)
    if m is None:
        return text
    try:
        data = yaml.safe_load(m[1])
    except (yaml.YAMLError, RecursionError) as exc:
        warnings.append(f"front matter is not valid YAML, kept as page text ({type(exc).__name__})")
        return text
    if data is None:
        return text[m.end() :]
    if not isinstance(data, dict):
        warnings.append("front matter is not a YAML mapping, kept as page text")
        return text
    meta["front_matter"] = {str(k): v for k, v in data.items()}
    return text[m.end() :]


def parse_page(markdown: str, url: str) -> Page:
    """Parse one GitBook markdown page; never raises, malformed input → `Page.warnings`."""
    warnings: list[str] = []
    meta: dict[str, Any] = {}
    page_url, md_url = normalize_urls(url)
    text = markdown.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
        warnings.append("invalid unicode (lone surrogates) replaced by '?'")
    text = _strip_pointer(text, meta)
    text = _strip_footer(text, meta)
    text = _front_matter(text, meta, warnings)
    front = meta.get("front_matter", {})
    if not text.strip():
        warnings.append("empty page: no text to index")
    text, tag_warnings = expand_tags(text)
    warnings += tag_warnings
    explicit = front.get("title")
    title, sections, section_warnings = build_sections(
        text, _title_from_url(page_url), str(explicit) if explicit else None, base_url=md_url
    )
    warnings += section_warnings
    description = " ".join(str(front.get("description") or "").split())
    if description and sections:  # GitBook shows it under the title: the page's summary
        intro = sections[0]
        intro.text = f"{description}\n\n{intro.text}".strip()
    return Page(
        url=page_url,
        md_url=md_url,
        title=title,
        description=description,
        sections=sections,
        meta=meta,
        warnings=warnings,
    )
