"""Which links may leave the server: http(s) and site-relative ones only.

Markdown from outside (the docs site's `?ask=` answers, ingested pages) can carry
`javascript:`, `data:` or `vbscript:` links in inline links, images, autolinks, reference
definitions or raw HTML attributes. `safe_links` keeps the text of such a link and drops
the destination; every surface that emits markdown passes it through here.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

SAFE_SCHEMES = frozenset({"", "http", "https"})
REMOVED = "[link removed]"
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
# [text](dest "title") and ![alt](dest); the destination may be in <…>
_INLINE = re.compile(
    r"(?P<bang>!?)\[(?P<text>[^\[\]]*)\]\(\s*(?P<dest><[^<>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)"
    r"(?P<title>\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?\s*\)"
)
_AUTOLINK = re.compile(r"<(?P<dest>[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^<>\s]*)>")
_REFERENCE = re.compile(r"(?m)^ {0,3}\[[^\]\n]+\]:[ \t]*(?P<dest><[^<>\n]*>|\S+).*$")
_ATTRIBUTE = re.compile(
    r"(?P<name>\b(?:href|src|action|formaction|xlink:href|srcset|poster)\s*=\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s>]+)",
    re.IGNORECASE,
)


def is_safe_url(url: str) -> bool:
    """True for http(s) URLs and site-relative ones (path, query or #fragment only)."""
    cleaned = _CONTROL.sub("", html.unescape(url.strip().strip("<>")))
    try:
        scheme = urlsplit(cleaned).scheme.lower()
    except ValueError:
        return False
    return scheme in SAFE_SCHEMES


def safe_links(markdown: str) -> str:
    """`markdown` with every link whose destination is not http(s) or relative defused."""
    if ":" not in markdown and "&" not in markdown:
        return markdown  # no scheme can be spelled without a colon (or an entity for one)

    def inline(match: re.Match[str]) -> str:
        if is_safe_url(match.group("dest")):
            return match.group(0)
        return match.group("text") or REMOVED

    def autolink(match: re.Match[str]) -> str:
        return match.group(0) if is_safe_url(match.group("dest")) else REMOVED

    def reference(match: re.Match[str]) -> str:
        return match.group(0) if is_safe_url(match.group("dest")) else ""

    def attribute(match: re.Match[str]) -> str:
        value = match.group("value").strip("\"'")
        return match.group(0) if is_safe_url(value) else f'{match.group("name")}"#"'

    text = _INLINE.sub(inline, markdown)
    text = _AUTOLINK.sub(autolink, text)
    text = _REFERENCE.sub(reference, text)
    return _ATTRIBUTE.sub(attribute, text)
