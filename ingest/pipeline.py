"""The incremental ingest: sources → pages → chunks → embeddings → index.

Unchanged pages (same content sha256 as recorded) are skipped before parsing; a changed
page re-embeds only the chunks whose sha256 changed; pages gone from a source's scope are
removed. Chunks are written before a page's record, so a killed run leaves pending records
that the next run completes. Embedding runs over many pages at once, so the embedder gets
full, length-sorted batches (it is the bottleneck; everything else is kept negligible)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from langchain_core.embeddings import Embeddings

from ingest.cache import DocsCache
from ingest.chunk import chunk_page
from ingest.config import IngestSettings
from ingest.embed import count_tokens_many_of, count_tokens_of, make_embeddings
from ingest.fetch import Fetcher, Sleep
from ingest.models import Chunk
from ingest.parse import parse_page
from ingest.records import PageRecord
from ingest.report import IngestReport, PageOutcome, PageStatus
from ingest.sources import Collected, SourceDoc, collect_local, collect_url, in_scope
from ingest.store import DocIndex, open_index

Progress = Callable[[str, int, int], None]  # (phase, done, total)
PIPELINE_VERSION = "12"  # bump when parse/chunk output changes, to re-chunk every page
MAX_TOKENS = 254  # the model's 256 minus [CLS] and [SEP]
OVERLAP = 32
EMBED_WINDOW = 512  # chunks embedded (and written) together


@dataclass
class _Prepared:
    doc: SourceDoc
    sha: str
    status: PageStatus
    title: str
    chunks: list[Chunk]
    warnings: list[str]


def page_sha(body: str) -> str:
    """Content hash of a page, salted with the chunking parameters and version."""
    salt = f"{PIPELINE_VERSION}\0{MAX_TOKENS}\0{OVERLAP}\0"
    return hashlib.sha256((salt + body).encode("utf-8", "surrogatepass")).hexdigest()


async def collect_sources(
    settings: IngestSettings,
    sources: Sequence[str],
    *,
    http_client: httpx.AsyncClient | None = None,
    allow_hosts: Sequence[str] = (),
    write_cache: bool = True,
    sleep: Sleep | None = None,
) -> Collected:
    """Every page the sources describe (no source = the docs cache)."""
    out = Collected()
    cache = DocsCache(settings.docs_cache)
    urls = [s for s in sources if s.startswith(("http://", "https://"))]
    for source in sources or [str(settings.docs_cache)]:
        if source not in urls:
            collect_local(Path(source), settings.docs_cache, out, settings.site_url)
    if not urls:
        return out
    owned = http_client is None
    client = http_client or httpx.AsyncClient(headers={"User-Agent": "docsagent-ingest"})
    try:
        for url in urls:
            hosts = {urlsplit(url).hostname or "", *allow_hosts}
            fetcher = Fetcher(
                client,
                cache,
                allowed_hosts=hosts,
                timeout=settings.fetch_timeout,
                concurrency=settings.fetch_concurrency,
                retries=settings.fetch_retries,
                max_bytes=settings.max_page_bytes,
                write_cache=write_cache,
                sleep=sleep or asyncio.sleep,
            )
            await collect_url(url, fetcher, out)
    finally:
        if owned:
            await client.aclose()
    return out


def _prepare(
    doc: SourceDoc,
    sha: str,
    status: PageStatus,
    count: Callable[[str], int] | None,
    count_many: Callable[[list[str]], list[int]] | None = None,
) -> _Prepared:
    page = parse_page(doc.body, doc.md_url)
    chunks = chunk_page(
        page,
        max_tokens=MAX_TOKENS,
        overlap=OVERLAP,
        count_tokens=count,
        count_many=count_many,
    )
    return _Prepared(doc, sha, status, page.title, chunks, page.warnings)


def _windows(items: list[_Prepared], need: dict[str, list[Chunk]]) -> list[list[_Prepared]]:
    out: list[list[_Prepared]] = [[]]
    size = 0
    for item in items:
        if size >= EMBED_WINDOW:
            out.append([])
            size = 0
        out[-1].append(item)
        size += len(need[item.doc.url])
    return [w for w in out if w]


def _write_window(
    index: DocIndex,
    window: list[_Prepared],
    need: dict[str, list[Chunk]],
    stored: dict[str, dict[str, str]],
) -> None:
    todo = [c for item in window for c in need[item.doc.url]]
    vectors = index.embeddings.embed_documents([c.embed_text for c in todo]) if todo else []
    if vectors:
        index.check_model(len(vectors[0]))
    by_id = dict(zip([c.id for c in todo], vectors, strict=True))
    index.records.mark_pending([(i.doc.url, i.doc.md_url, i.title) for i in window])
    index.write_pages([(i.doc.url, i.chunks, stored[i.doc.url]) for i in window], by_id)
    index.records.finalise(
        PageRecord(i.doc.url, i.doc.md_url, i.title, i.sha, len(i.chunks)) for i in window
    )


async def run_ingest(
    settings: IngestSettings,
    sources: Sequence[str] = (),
    *,
    rebuild: bool = False,
    dry_run: bool = False,
    embeddings: Embeddings | None = None,
    http_client: httpx.AsyncClient | None = None,
    index: DocIndex | None = None,
    progress: Progress | None = None,
    allow_hosts: Sequence[str] = (),
    sleep: Sleep | None = None,
) -> IngestReport:
    """Bring the index in line with the sources; see the module docstring."""
    started = time.perf_counter()
    report = IngestReport(dry_run=dry_run)
    embeddings = embeddings or (index.embeddings if index else make_embeddings(settings))
    index = index or open_index(settings, embeddings)
    if rebuild and not dry_run:
        index.reset()
        report.rebuilt = True
    elif not rebuild:
        index.check_model()
    notify = progress or (lambda _phase, _done, _total: None)

    collected = await collect_sources(
        settings,
        sources,
        http_client=http_client,
        allow_hosts=allow_hosts,
        write_cache=not dry_run,
        sleep=sleep,
    )
    records = {} if rebuild else index.records.all()
    count, count_many = count_tokens_of(embeddings), count_tokens_many_of(embeddings)
    prepared: list[_Prepared] = []
    docs = list(collected.docs.values())
    for n, doc in enumerate(docs, 1):
        sha, record = page_sha(doc.body), records.get(doc.url)
        if record is not None and record.sha256 == sha:
            report.pages.append(PageOutcome(doc.url, "unchanged", chunks=record.chunks))
        else:
            status: PageStatus = "changed" if record else "new"
            prepared.append(_prepare(doc, sha, status, count, count_many))
        if n % 50 == 0 or n == len(docs):
            notify("parse", n, len(docs))
    report.pages += [PageOutcome(u, "failed", reason=r) for u, r in collected.failed.items()]

    stored = index.stored_hashes([p.doc.url for p in prepared])
    need = {
        p.doc.url: [c for c in p.chunks if stored[p.doc.url].get(c.id) != c.sha256]
        for p in prepared
    }
    for p in prepared:
        report.pages.append(
            PageOutcome(p.doc.url, p.status, len(p.chunks), len(need[p.doc.url]), "", p.warnings)
        )
    total = sum(len(v) for v in need.values())
    tokens_before = int(getattr(embeddings, "tokens_embedded", 0))
    done = 0
    notify("embed", 0, total)
    for window in [] if dry_run else _windows(prepared, need):
        await asyncio.to_thread(_write_window, index, window, need, stored)
        done += sum(len(need[i.doc.url]) for i in window)
        notify("embed", done, total)
    report.tokens_embedded = int(getattr(embeddings, "tokens_embedded", 0)) - tokens_before

    gone = [
        url
        for url in records
        if url not in collected.docs
        and url not in collected.failed
        and in_scope(url, collected.scopes)
    ]
    report.pages += [PageOutcome(url, "removed") for url in gone]
    if gone and not dry_run:
        index.remove_pages(gone)
    if not dry_run:
        index.remember_model()
    report.seconds = time.perf_counter() - started
    return report


def ingest_sync(
    settings: IngestSettings,
    sources: Sequence[str] = (),
    *,
    rebuild: bool = False,
    dry_run: bool = False,
    embeddings: Embeddings | None = None,
    index: DocIndex | None = None,
    progress: Progress | None = None,
    allow_hosts: Sequence[str] = (),
) -> IngestReport:
    """`run_ingest` for synchronous callers (the CLI, the Makefile, bench)."""
    return asyncio.run(
        run_ingest(
            settings,
            sources,
            rebuild=rebuild,
            dry_run=dry_run,
            embeddings=embeddings,
            index=index,
            progress=progress,
            allow_hosts=allow_hosts,
        )
    )
