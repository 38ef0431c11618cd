"""GitBook's Liquid-style `{% tag %}` blocks → CommonMark plus marker comments.

GitBook keeps its blocks (hint, stepper/step, tabs/tab, code, embed, …) in the page
markdown as `{% name attrs %}…{% endname %}`. This module finds those tags outside code,
builds a tolerant tree (stray end tags and unclosed tags become warnings, their text is
kept) and writes the page back as markdown where each tag is replaced by a marker line
`<!--docsagent:KIND ARG…-->` that the section builder (`ingest.md_sections`) understands.
Markers are HTML comments, so markdown-it parses them as their own HTML blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

MARKER_PREFIX = "<!--docsagent:"
MARKER_RE = re.compile(r"<!--docsagent:([a-z]+)((?: [^ \n>]*)*)-->")

_TAG_RE = re.compile(r"\{%-?\s*(end)?([A-Za-z][\w-]*)((?:(?!\{%).)*?)-?%\}")
_ATTR_RE = re.compile(r"([A-Za-z][\w-]*)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"']+))")
_QUOTED_RE = re.compile(r"\"([^\"]*)\"|'([^']*)'")
_FENCE_RE = re.compile(r"^([ \t>]*)(`{3,}|~{3,})")
_PREFIX_RE = re.compile(r"^[ \t>]*")
_CODE_SPAN_RE = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")
_RESIDUE_RE = re.compile(r"\{%|%\}")
# GitBook's Git sync writes a link whose target page is gone as `broken-reference` (or
# `/broken/pages/<id>`), often with the text "Broken link"
_BROKEN_RE = re.compile(r"^(?:broken-reference/?(?:[#?].*)?|/?broken/pages/.*)$")
BROKEN_LINK_TEXT = "Broken link"
_HTML_TAG_RE = re.compile(r"<(/?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?)>")

_HINT_LABELS = {"info": "Info", "success": "Success", "warning": "Warning", "danger": "Danger"}
_LAYOUT_ONLY = {"tabs", "columns", "column", "updates", "if", "else", "elsif", "vars", "raw"}
_KNOWN = _LAYOUT_ONLY | {
    "hint", "stepper", "step", "tab", "code", "content-ref", "embed", "update", "prompt",
    "file", "include", "openapi", "openapi-operation", "openapi-schemas", "openapi-webhook",
    "swagger", "endraw",
}  # fmt: skip


_NEEDS_END = {
    "hint", "stepper", "step", "tabs", "tab", "code", "content-ref", "update", "updates", "prompt",
    "columns", "column", "if",
}  # fmt: skip


def marker(kind: str, *args: str) -> str:
    """A marker comment; arguments are URL-quoted so they never contain spaces or '-->'."""
    return MARKER_PREFIX + " ".join([kind, *(quote(a, safe="") for a in args)]) + "-->"


def broken_link(href: str) -> bool:
    """A link GitBook marks as pointing at a page that no longer exists."""
    return bool(_BROKEN_RE.match(href.strip()))


def strip_residue(text: str) -> str:
    """Remove leftover `{%`/`%}` and make tag-looking `<x>` text plain (outside code only)."""
    if "{%" in text or "%}" in text:
        text = _RESIDUE_RE.sub("", text)
    if "<" in text:
        text = _HTML_TAG_RE.sub(r"\1", text)
    return text


@dataclass
class _Tag:
    name: str
    closing: bool
    attrs: dict[str, str]
    raw: str
    prefix: str


@dataclass
class _Node:
    tag: _Tag | None
    children: list[_Node | str] = field(default_factory=list)
    block: bool = False  # has a matching end tag


def _parse_attrs(body: str) -> dict[str, str]:
    attrs = {
        m[1]: m[2] if m[2] is not None else (m[3] or m[4] or "") for m in _ATTR_RE.finditer(body)
    }
    if not attrs:
        positional = _QUOTED_RE.search(body)
        if positional:
            attrs["_"] = positional[1] if positional[1] is not None else positional[2]
        elif body.strip():
            attrs["_"] = body.strip()
    return attrs


def _scan(markdown: str, warnings: list[str]) -> list[_Tag | str]:
    """Split the page into text lines and tags; tags inside code fences/spans are text."""
    items: list[_Tag | str] = []
    fence: str | None = None
    residue_lines = 0
    for line in markdown.split("\n"):
        fence_match = _FENCE_RE.match(line)
        if fence is not None:
            items.append(line)
            if fence_match and fence_match[2][0] == fence[0] and len(fence_match[2]) >= len(fence):
                if not line[fence_match.end() :].strip():
                    fence = None
            continue
        if fence_match:
            fence = fence_match[2]
            items.append(line)
            continue
        if "{%" not in line:
            items.append(line)
            continue
        spans = [m.span() for m in _CODE_SPAN_RE.finditer(line)] if "`" in line else []
        prefix = _PREFIX_RE.match(line)[0]  # type: ignore[index]  # always matches
        pos = 0
        for m in _TAG_RE.finditer(line):
            if any(a <= m.start() < b for a, b in spans):
                continue
            before = line[pos : m.start()]
            if before.strip(" \t>"):
                items.append(before if pos == 0 else prefix + before.lstrip())
            name = m[2].lower()
            items.append(_Tag(name, bool(m[1]), _parse_attrs(m[3]), m[0], prefix))
            pos = m.end()
        rest = line[pos:]
        if pos == 0:
            items.append(line)
        elif rest.strip():
            items.append(prefix + rest.lstrip())
        if _RESIDUE_RE.search(_TAG_RE.sub("", line)):
            residue_lines += 1
    if fence is not None:
        warnings.append(f"unclosed code fence {fence!r}: the rest of the page is kept as code")
    if residue_lines:
        warnings.append(f"{residue_lines} line(s) with an unterminated '{{%' or stray '%}}'")
    return items


def _build_tree(items: list[_Tag | str], warnings: list[str]) -> _Node:
    """Nest tags; an open tag is a block only if enough matching end tags follow it."""
    remaining_open: dict[str, int] = {}
    remaining_end: dict[str, int] = {}
    for item in items:
        if isinstance(item, _Tag):
            counts = remaining_end if item.closing else remaining_open
            counts[item.name] = counts.get(item.name, 0) + 1
    root = _Node(None, block=True)
    stack = [root]
    for item in items:
        if isinstance(item, str):
            stack[-1].children.append(item)
            continue
        if not item.closing:
            remaining_open[item.name] -= 1
            node = _Node(item)
            stack[-1].children.append(node)
            if remaining_end.get(item.name, 0) > remaining_open[item.name]:
                node.block = True
                stack.append(node)
            elif item.name in _NEEDS_END:
                warnings.append(
                    f"{item.raw} has no {{% end{item.name} %}}: its text is kept in place"
                )
            continue
        remaining_end[item.name] -= 1
        depth = next(
            (i for i in range(len(stack) - 1, 0, -1) if stack[i].tag.name == item.name),  # type: ignore[union-attr]
            0,
        )
        if depth == 0:
            warnings.append(f"stray {item.raw} without a matching opening tag: ignored")
            continue
        for unclosed in stack[depth + 1 :]:
            warnings.append(f"{unclosed.tag.raw} closed implicitly by {item.raw}")  # type: ignore[union-attr]
        del stack[depth:]
    for unclosed in stack[1:]:
        warnings.append(f"{unclosed.tag.raw} is never closed: closed at the end of the page")  # type: ignore[union-attr]
    return root


def _link_name(url: str) -> str:
    path = urlsplit(url).path.rstrip("/")
    return path.rsplit("/", 1)[-1] or url


def _open_markers(tag: _Tag, step: tuple[int, int] | None, warnings: list[str]) -> list[str]:
    """Marker lines for an opening tag (the body, if any, follows)."""
    a = tag.attrs
    name = tag.name
    if name == "hint":
        style = a.get("style", "info").lower()
        return [marker("label", "hints", style, _HINT_LABELS.get(style, style.capitalize()))]
    if name == "stepper":
        return [marker("stepper")]
    if name == "step":
        if step is None:
            warnings.append(f"{tag.raw} outside a stepper: its text is kept in the section")
            return []
        return [marker("step", str(step[0]), str(step[1]))]
    if name == "tab":
        title = a.get("title", "").strip()
        return [marker("label", "tabs", title, title)] if title else []
    if name == "code":
        title = a.get("title", "").strip()
        return [marker("label", "code_titles", title, title)] if title else []
    if name == "content-ref":
        url = a.get("url", a.get("_", ""))
        if broken_link(url):  # a card to a page that is gone: nothing to see
            return []
        return [marker("label", "links", url, "See also")]
    if name == "embed":
        url = a.get("url", a.get("_", ""))
        return [marker("meta", "links", url), marker("text", f"Embed: {url}")] if url else []
    if name == "update":
        date = a.get("date", "").strip()
        return [marker("label", "updates", date, f"Update {date}".strip())]
    if name == "prompt":
        desc = a.get("description", "").strip()
        return [marker("label", "prompts", desc, f"Prompt ({desc})" if desc else "Prompt")]
    if name == "file":
        src = a.get("src", a.get("_", ""))
        return [marker("meta", "files", src), marker("text", f"File: {_link_name(src)}")]
    if name == "include":
        path = a.get("_", a.get("src", ""))
        warnings.append(f"{tag.raw}: included content lives elsewhere and is not part of this page")
        return [marker("meta", "includes", path)]
    if name.startswith("openapi") or name == "swagger":
        method, path = a.get("method", "").upper(), a.get("path", "")
        spec = a.get("src", a.get("spec", a.get("_", "")))
        text = f"API operation: {method} {path}".strip() if path else f"API reference: {spec}"
        return [marker("meta", "openapi", f"{method} {path}".strip() or spec), marker("text", text)]
    if name not in _KNOWN:
        warnings.append(f"unknown block {tag.raw}: tag removed, text kept")
    return []


def _render(node: _Node, out: list[str], warnings: list[str], step: tuple[int, int] | None) -> None:
    tag = node.tag
    if tag is not None:
        out.extend(tag.prefix + m for m in _open_markers(tag, step, warnings))
    steps = [c for c in node.children if isinstance(c, _Node) and c.tag and c.tag.name == "step"]
    n = 0
    for child in node.children:
        if isinstance(child, str):
            out.append(child)
            continue
        child_step = None
        if tag is not None and tag.name == "stepper" and child.tag and child.tag.name == "step":
            n += 1
            child_step = (n, len(steps))
        _render(child, out, warnings, child_step)
    if tag is not None and node.block:
        end = {"stepper": "endstepper", "hint": "endhint"}.get(tag.name, "endblock")
        out.append(tag.prefix + marker(end))


def expand_tags(markdown: str) -> tuple[str, list[str]]:
    """Replace GitBook `{% %}` tags outside code by marker lines; return (markdown, warnings)."""
    warnings: list[str] = []
    if "{%" not in markdown:
        return markdown, warnings
    items = _scan(markdown, warnings)
    tree = _build_tree(items, warnings)
    out: list[str] = []
    _render(tree, out, warnings, None)
    return "\n".join(out), warnings
