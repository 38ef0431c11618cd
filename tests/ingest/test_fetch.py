"""Fetching pages and sites over HTTP (respx): retries, conditional GETs, limits, hosts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import respx

from ingest.cache import DocsCache
from ingest.fetch import Fetcher

SITE = "https://docs.example.com"
PAGE_A = "# Page A\n\nAlpha text.\n"
PAGE_B = "# Page B\n\nBeta text.\n"
LLMS = f"""# Example docs

## Docs

- [A]({SITE}/a.md): the first page
- [B]({SITE}/guide/b.md)
- [Elsewhere](https://other.example.org/x.md)
"""


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def make_fetcher(
    client: httpx.AsyncClient, tmp_path: Path, sleeps: Sleeps, **kwargs: object
) -> Fetcher:
    options: dict[str, object] = {
        "allowed_hosts": ["docs.example.com"],
        "retries": 2,
        "timeout": 1.0,
        "sleep": sleeps,
        **kwargs,
    }
    return Fetcher(client, DocsCache(tmp_path / "cache"), **options)  # type: ignore[arg-type]


@respx.mock
async def test_llms_txt_crawl_fetches_every_listed_page(
    client: httpx.AsyncClient, tmp_path: Path, sleeps: Sleeps
) -> None:
    respx.get(f"{SITE}/llms.txt").respond(200, text=LLMS)
    respx.get(f"{SITE}/a.md").respond(200, text=PAGE_A, headers={"ETag": '"a1"'})
    respx.get(f"{SITE}/guide/b.md").respond(200, text=PAGE_B)
    fetcher = make_fetcher(client, tmp_path, sleeps)
    crawl = await fetcher.fetch_site(SITE)
    by_url = {r.url: r for r in crawl.results}
    assert by_url[f"{SITE}/a"].status == "fetched" and by_url[f"{SITE}/a"].body == PAGE_A
    assert by_url[f"{SITE}/guide/b"].body == PAGE_B
    other = by_url["https://other.example.org/x"]
    assert other.status == "failed" and "not allowed" in (other.error or "")
    cache = fetcher.cache
    assert cache.read(f"{SITE}/guide/b") == PAGE_B
    assert cache.llms_txt("docs.example.com") == LLMS
    assert cache.manifest("docs.example.com")[f"{SITE}/a.md"].etag == '"a1"'


@respx.mock
async def test_304_keeps_cached_body(
    client: httpx.AsyncClient, tmp_path: Path, sleeps: Sleeps
) -> None:
    fetcher = make_fetcher(client, tmp_path, sleeps)
    fetcher.cache.write(
        f"{SITE}/a.md", PAGE_A, etag='"a1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT"
    )
    route = respx.get(f"{SITE}/a.md").respond(304)
    result = await fetcher.fetch_page(f"{SITE}/a")
    assert result.status == "not_modified" and result.body == PAGE_A
    sent = route.calls.last.request.headers
    assert sent["if-none-match"] == '"a1"'
    assert sent["if-modified-since"] == "Mon, 01 Jan 2024 00:00:00 GMT"


@respx.mock
async def test_404_is_a_failure_without_retries(
    client: httpx.AsyncClient, tmp_path: Path, sleeps: Sleeps
) -> None:
    route = respx.get(f"{SITE}/missing.md").respond(404)
    result = await make_fetcher(client, tmp_path, sleeps).fetch_page(f"{SITE}/missing")
    assert result.status == "failed" and "HTTP 404" in (result.error or "")
    assert route.call_count == 1 and sleeps.calls == []


@respx.mock
async def test_500_then_200_is_retried_with_backoff(
    client: httpx.AsyncClient, tmp_path: Path, sleeps: Sleeps
) -> None:
    route = respx.get(f"{SITE}/a.md")
    route.side_effect = [httpx.Response(500), httpx.Response(503), httpx.Response(200, text=PAGE_A)]
    result = await make_fetcher(client, tmp_path, sleeps).fetch_page(f"{SITE}/a.md")
    assert result.status == "fetched" and result.body == PAGE_A
    assert route.call_count == 3
    assert len(sleeps.calls) == 2 and sleeps.calls[1] > sleeps.calls[0]


@respx.mock
async def test_429_honours_retry_after_capped(
    client: httpx.AsyncClient, tmp_path: Path, sleeps: Sleeps
) -> None:
    route = respx.get(f"{SITE}/a.md")
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(429, headers={"Retry-After": "3600"}),
        httpx.Response(200, text=PAGE_A),
    ]
    fetcher = make_fetcher(client, tmp_path, sleeps, max_retry_after=30.0)
    result = await fetcher.fetch_page(f"{SITE}/a")
    assert result.status == "fetched"
    assert sleeps.calls == [7.0, 30.0]


@respx.mock
async def test_timeouts_are_retried_then_reported(
    client: httpx.AsyncClient, tmp_path: Path, sleeps: Sleeps
) -> None:
    route = respx.get(f"{SITE}/slow.md").mock(side_effect=httpx.ReadTimeout("slow"))
    result = await make_fetcher(client, tmp_path, sleeps).fetch_page(f"{SITE}/slow")
    assert result.status == "failed" and "timed out" in (result.error or "")
    assert route.call_count == 3 and len(sleeps.calls) == 2


@respx.mock
async def test_cross_host_redirect_is_refused(
    client: httpx.AsyncClient, tmp_path: Path, sleeps: Sleeps
) -> None:
    respx.get(f"{SITE}/a.md").respond(302, headers={"Location": "https://evil.example.net/a.md"})
    evil = respx.get("https://evil.example.net/a.md").respond(200, text="# Evil")
    result = await make_fetcher(client, tmp_path, sleeps).fetch_page(f"{SITE}/a")
    assert result.status == "failed" and "evil.example.net" in (result.error or "")
    assert "--allow-host" in (result.error or "")
    assert evil.call_count == 0


@respx.mock
async def test_cross_host_redirect_allowed_with_allow_host(
    client: httpx.AsyncClient, tmp_path: Path, sleeps: Sleeps
) -> None:
    respx.get(f"{SITE}/a.md").respond(301, headers={"Location": "https://mirror.example.net/a.md"})
    respx.get("https://mirror.example.net/a.md").respond(200, text=PAGE_A)
    fetcher = make_fetcher(
        client, tmp_path, sleeps, allowed_hosts=["docs.example.com", "mirror.example.net"]
    )
    result = await fetcher.fetch_page(f"{SITE}/a")
    assert result.status == "fetched" and result.body == PAGE_A


@respx.mock
async def test_same_host_relative_redirect_is_followed(
    client: httpx.AsyncClient, tmp_path: Path, sleeps: Sleeps
) -> None:
    respx.get(f"{SITE}/old.md").respond(308, headers={"Location": "/new.md"})
    respx.get(f"{SITE}/new.md").respond(200, text=PAGE_B)
    result = await make_fetcher(client, tmp_path, sleeps).fetch_page(f"{SITE}/old")
    assert result.body == PAGE_B


@respx.mock
async def test_oversized_body_is_refused(
    client: httpx.AsyncClient, tmp_path: Path, sleeps: Sleeps
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 1000

    respx.get(f"{SITE}/big.md").respond(200, content=b"y" * 5000)  # declared length
    respx.get(f"{SITE}/stream.md").respond(200, stream=chunks())  # no length: streamed
    fetcher = make_fetcher(client, tmp_path, sleeps, max_bytes=4096)
    big, streamed = await fetcher.fetch_pages([f"{SITE}/big", f"{SITE}/stream"])
    assert big.status == "failed" and "exceeds 4096" in (big.error or "")
    assert streamed.status == "failed" and "exceeds 4096" in (streamed.error or "")
    assert fetcher.cache.read(f"{SITE}/big") is None


@respx.mock
async def test_binary_body_is_a_failure(
    client: httpx.AsyncClient, tmp_path: Path, sleeps: Sleeps
) -> None:
    respx.get(f"{SITE}/bin.md").respond(200, content=b"\x89PNG\x00\x00\x01")
    result = await make_fetcher(client, tmp_path, sleeps).fetch_page(f"{SITE}/bin")
    assert result.status == "failed" and "binary" in (result.error or "")


@respx.mock
async def test_failing_llms_txt_is_reported(
    client: httpx.AsyncClient, tmp_path: Path, sleeps: Sleeps
) -> None:
    respx.get(f"{SITE}/llms.txt").respond(404)
    crawl = await make_fetcher(client, tmp_path, sleeps).fetch_site(f"{SITE}/llms.txt")
    assert crawl.error and "404" in crawl.error and crawl.results == []
