"""Fetch GitBook pages (their `.md` variant) and sites (via `llms.txt`) into the docs cache.

Polite and bounded: per-request timeouts, a concurrency limit, retries with exponential
backoff on 429 (honouring Retry-After, capped), 5xx and timeouts, conditional GETs from the
cache manifest (304 = unchanged), a streamed body-size cap and a host allowlist that also
applies to redirects. A failing page is reported, never raised to the caller of a crawl."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpx

from ingest.cache import DocsCache, md_url_of, page_url_of
from ingest.errors import FetchError, ParseError
from ingest.llms_txt import parse_llms_txt
from ingest.parse import decode_page

Sleep = Callable[[float], Awaitable[None]]
FetchStatus = Literal["fetched", "not_modified", "failed"]
MAX_REDIRECTS = 5


@dataclass
class FetchResult:
    url: str  # page URL (no .md)
    md_url: str
    status: FetchStatus
    body: str | None = None
    error: str | None = None


@dataclass
class SiteCrawl:
    llms_url: str
    prefix: str  # page URLs under this prefix belong to the site
    results: list[FetchResult] = field(default_factory=list)
    error: str | None = None  # llms.txt itself failed: nothing else is known


@dataclass
class _Response:
    status: int
    body: bytes
    headers: httpx.Headers


def is_site_url(url: str) -> bool:
    """A site root or an llms.txt URL (as opposed to one page)."""
    path = urlsplit(url).path
    return path in ("", "/") or path.endswith("/llms.txt") or path.endswith("/")


class Fetcher:
    """Fetches through an injected `httpx.AsyncClient`; state lives in the `DocsCache`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        cache: DocsCache,
        *,
        allowed_hosts: Iterable[str] = (),
        timeout: float = 20.0,
        concurrency: int = 4,
        retries: int = 3,
        max_bytes: int = 5 * 1024 * 1024,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
        write_cache: bool = True,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.cache = cache
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.timeout = httpx.Timeout(timeout)
        self.retries = retries
        self.max_bytes = max_bytes
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.write_cache = write_cache
        self.sleep = sleep
        self._limit = asyncio.Semaphore(concurrency)

    def _check_host(self, url: str) -> None:
        host = (urlsplit(url).hostname or "").lower()
        if host not in self.allowed_hosts:
            raise FetchError(url, f"host {host!r} is not allowed (use --allow-host {host})")

    async def get(self, url: str, headers: dict[str, str] | None = None) -> _Response:
        """GET with retries and manual, allowlist-checked redirects."""
        for _hop in range(MAX_REDIRECTS + 1):
            self._check_host(url)
            response = await self._get_with_retries(url, headers or {})
            if response.status in (301, 302, 303, 307, 308) and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            return response
        raise FetchError(url, f"more than {MAX_REDIRECTS} redirects")

    async def _get_with_retries(self, url: str, headers: dict[str, str]) -> _Response:
        reason = ""
        for attempt in range(self.retries + 1):
            delay = self.backoff * (2**attempt)
            try:
                response = await self._get_once(url, headers)
            except httpx.TimeoutException:
                reason = f"timed out after {self.timeout.read}s"
            except httpx.TransportError as exc:
                reason = f"connection failed: {exc.__class__.__name__}"
            else:
                if response.status != 429 and response.status < 500:
                    return response
                reason = f"HTTP {response.status}"
                retry_after = _retry_after(response.headers.get("retry-after"))
                if retry_after is not None:
                    delay = min(retry_after, self.max_retry_after)
            if attempt < self.retries:
                await self.sleep(delay)
        raise FetchError(url, f"{reason} (after {self.retries + 1} attempts)")

    async def _get_once(self, url: str, headers: dict[str, str]) -> _Response:
        async with self.client.stream(
            "GET", url, headers=headers, timeout=self.timeout, follow_redirects=False
        ) as response:
            if response.status_code != 200:
                return _Response(response.status_code, b"", response.headers)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise FetchError(url, f"body of {declared} bytes exceeds {self.max_bytes}")
            body = bytearray()
            async for block in response.aiter_bytes():
                body.extend(block)
                if len(body) > self.max_bytes:
                    raise FetchError(url, f"body exceeds {self.max_bytes} bytes")
            return _Response(200, bytes(body), response.headers)

    async def fetch_page(self, url: str) -> FetchResult:
        """Fetch one page's `.md`; conditional when the cache has it. Never raises."""
        page, md = page_url_of(url), md_url_of(url)
        async with self._limit:
            try:
                return await self._fetch_page(page, md)
            except (FetchError, ParseError) as exc:
                reason = exc.reason if isinstance(exc, FetchError) else str(exc)
                return FetchResult(page, md, "failed", error=reason)

    async def _fetch_page(self, page: str, md: str) -> FetchResult:
        headers = {"Accept": "text/markdown, text/plain;q=0.9"}
        cached = self.cache.read(md)
        entry = self.cache.manifest(urlsplit(md).hostname or "").get(md)
        if cached is not None and entry is not None:
            if entry.etag:
                headers["If-None-Match"] = entry.etag
            if entry.last_modified:
                headers["If-Modified-Since"] = entry.last_modified
        response = await self.get(md, headers)
        if response.status == 304 and cached is not None:
            return FetchResult(page, md, "not_modified", body=cached)
        if response.status != 200:
            raise FetchError(md, f"HTTP {response.status}")
        body = decode_page(response.body)
        if self.write_cache:
            self.cache.write(
                md,
                body,
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )
        return FetchResult(page, md, "fetched", body=body)

    async def fetch_pages(self, urls: Iterable[str]) -> list[FetchResult]:
        return list(await asyncio.gather(*(self.fetch_page(u) for u in urls)))

    async def fetch_site(self, url: str) -> SiteCrawl:
        """Fetch `llms.txt` and every page it lists on an allowed host."""
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        path = parts.path if parts.path.endswith("llms.txt") else parts.path.rstrip("/") + "/"
        root_path = path.removesuffix("llms.txt")
        llms_url = base + root_path + "llms.txt"
        crawl = SiteCrawl(llms_url=llms_url, prefix=base + root_path.rstrip("/"))
        try:
            response = await self.get(llms_url, {"Accept": "text/plain, text/markdown"})
            if response.status != 200:
                raise FetchError(llms_url, f"HTTP {response.status}")
            text = decode_page(response.body)
        except (FetchError, ParseError) as exc:
            crawl.error = exc.reason if isinstance(exc, FetchError) else str(exc)
            return crawl
        if self.write_cache:
            self.cache.write_llms_txt(parts.hostname or "", text)
        urls: dict[str, None] = {}
        for entry in parse_llms_txt(text):
            urls.setdefault(urljoin(llms_url, entry.url), None)
        crawl.results = await self.fetch_pages(urls)
        return crawl


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
