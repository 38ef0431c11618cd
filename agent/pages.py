"""The ingested pages as readers get them: which pages there are, a page's markdown (the
cached file, else its chunks joined), and the closest pages to a path that is not one.

Shared by the GitBook-compatible page routes and the `getPage` tool, so a page reads the
same on every surface; how links and the page frame look is the surface's business.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

from ingest.cache import DocsCache
from ingest.errors import FetchError

if TYPE_CHECKING:
    from agent.service import AgentServices
    from ingest.store import DocIndex

_FOOTER = re.compile(r"^#{1,3} Agent Instructions\b.*", re.MULTILINE | re.DOTALL)


def titles(services: AgentServices) -> dict[str, str]:
    """Ingested page URL → title."""
    index = cast("DocIndex", services.index)
    return {page.url: page.title for page in index.pages()}


def strip_upstream(markdown: str) -> str:
    """The page without a GitBook pointer line and "Agent Instructions" footer."""
    lines = markdown.lstrip("\ufeff").splitlines()
    if lines and lines[0].startswith(">") and "llms" in lines[0].lower():
        lines = lines[1:]
    return _FOOTER.sub("", "\n".join(lines)).rstrip()


def body(services: AgentServices, url: str) -> str:
    """A page's markdown as cached at ingest (site frame removed), else rebuilt from its
    chunks under their section headings."""
    try:
        cached = DocsCache(services.settings.docs_cache).read(url)
    except FetchError:  # not a URL the cache can hold: the page is its chunks
        cached = None
    if cached is not None:
        return strip_upstream(cached)
    chunks = sorted(services.index.page_chunks(url), key=lambda c: c.position)
    if not chunks:
        return ""
    parts, headed = [f"# {chunks[0].title}"], {chunks[0].title}
    for chunk in chunks:
        if chunk.section and chunk.section not in headed:  # each section's heading once
            parts.append(f"## {chunk.section}")
            headed.add(chunk.section)
        parts.append(chunk.text)
    return "\n\n".join(parts)


def page_url(site_url: str, ref: str) -> str:
    """The docs-site page URL a reference means: a page or `.md` URL of the site, or a
    path (`/a/b`, `a/b.md`); anchors and queries ignored, the site root is `readme`."""
    path = urlsplit(ref.strip()).path if "://" in ref else ref.split("#")[0].split("?")[0]
    path = path.strip().removesuffix(".md").strip("/") or "readme"
    return f"{site_url.rstrip('/')}/{path}"


def closest(services: AgentServices, pages: dict[str, str], path: str) -> list[tuple[str, str]]:
    """Up to five (title, page URL) pairs nearest to `path`: similar paths first, then
    pages a search for the path's words finds."""
    by_path = {urlsplit(url).path.strip("/"): url for url in pages}
    names = difflib.get_close_matches(path.strip("/"), list(by_path), n=5, cutoff=0.3)
    urls = [by_path[name] for name in names]
    if len(urls) < 3:
        words = path.replace("/", " ").replace("-", " ")
        for hit in services.index.search(words, k=5):
            if hit.chunk.page_url not in urls:
                urls.append(hit.chunk.page_url)
    return [(pages.get(u, u), u) for u in urls[:5]]
