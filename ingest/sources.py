"""Ingest sources → page documents: local markdown files/directories, page URLs (their
`.md`), sites (`llms.txt`), or, with no source, the docs cache.

Each source also says which part of the index it covers (its scopes), so that a page
gone from a source can be removed without touching pages that came from elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ingest.cache import DocsCache, md_url_of, page_url_of
from ingest.errors import ParseError
from ingest.fetch import Fetcher, is_site_url
from ingest.parse import decode_page

ALL_WEB = ("http://", "https://")


@dataclass
class SourceDoc:
    url: str  # page URL
    md_url: str
    body: str


@dataclass
class Collected:
    docs: dict[str, SourceDoc] = field(default_factory=dict)  # page url → doc
    scopes: list[str] = field(default_factory=list)  # URL prefixes fully described here
    failed: dict[str, str] = field(default_factory=dict)  # url → reason (kept in the index)

    def add(self, doc: SourceDoc) -> None:
        self.docs[doc.url] = doc
        self.failed.pop(doc.url, None)

    def fail(self, url: str, reason: str) -> None:
        if url not in self.docs:
            self.failed[url] = reason


def in_scope(url: str, scopes: Sequence[str]) -> bool:
    for scope in scopes:
        if scope in ALL_WEB:
            if url.startswith(scope):
                return True
        elif url == scope or url.startswith(scope.rstrip("/") + "/"):
            return True
    return False


def _read(path: Path, url: str, md_url: str, out: Collected) -> None:
    try:
        out.add(SourceDoc(url, md_url, decode_page(path.read_bytes())))
    except (OSError, ParseError) as exc:
        out.fail(url, str(exc))


def _local_urls(path: Path, cache_root: Path, site: str, root: Path) -> tuple[str, str]:
    """https://<host>/<path> for a file inside a docs-cache layout; else a URL under the
    served site, `<site>/<name of the ingested directory>/<path inside it>` (never the
    server's own file path, which would leak into llms.txt and answers)."""
    resolved = path.resolve()
    try:
        rel = resolved.relative_to(cache_root.resolve())
    except ValueError:
        inside = resolved.relative_to(root.resolve().parent).as_posix()
        md_url = f"{site.rstrip('/')}/{inside}"
        return page_url_of(md_url), md_url_of(md_url)
    md_url = "https://" + rel.as_posix()
    return page_url_of(md_url), md_url


def collect_local(path: Path, cache_root: Path, out: Collected, site: str) -> None:
    """A markdown file, a directory of markdown, or a docs-cache-layout directory; pages
    outside a docs-cache layout get URLs under `site` (see `_local_urls`)."""
    if not path.exists():
        out.fail(str(path), "no such file or directory")
        return
    if path.is_file():
        url, md_url = _local_urls(path, cache_root, site, path)
        _read(path, url, md_url, out)
        return
    if _is_cache_root(path, cache_root):
        for page in DocsCache(path).pages():
            _read(page.path, page.url, page.md_url, out)
        out.scopes.extend(ALL_WEB)
        return
    files = sorted(p for p in path.rglob("*.md") if not _hidden(p.relative_to(path)))
    for file in files:
        url, md_url = _local_urls(file, cache_root, site, path)
        _read(file, url, md_url, out)
    out.scopes.append(_local_urls(path, cache_root, site, path)[0].removesuffix(".md") + "/")


def _is_cache_root(path: Path, cache_root: Path) -> bool:
    """The configured docs cache, or a copy of one (host dirs with llms.txt or manifest)."""
    if path.resolve() == cache_root.resolve():
        return True
    return any(
        (path / host / name).is_file()
        for host in DocsCache(path).hosts()
        for name in ("llms.txt", "manifest.json")
    )


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


async def collect_url(url: str, fetcher: Fetcher, out: Collected) -> None:
    """A site (root or llms.txt) or one page; failures are recorded, never raised."""
    if is_site_url(url):
        crawl = await fetcher.fetch_site(url)
        if crawl.error:
            out.fail(crawl.llms_url, crawl.error)
            return
        for result in crawl.results:
            if result.body is not None:
                out.add(SourceDoc(result.url, result.md_url, result.body))
            else:
                out.fail(result.url, result.error or "failed")
        listed = {r.url for r in crawl.results}
        host = urlsplit(crawl.llms_url).hostname or ""
        if fetcher.write_cache:
            for page in fetcher.cache.pages(host):
                if in_scope(page.url, [crawl.prefix]) and page.url not in listed:
                    fetcher.cache.remove(page.md_url)
        out.scopes.append(crawl.prefix)
        return
    result = await fetcher.fetch_page(url)
    if result.body is not None:
        out.add(SourceDoc(result.url, result.md_url, result.body))
    else:
        out.fail(page_url_of(url), f"{md_url_of(url)}: {result.error}")
