"""The incremental ingest pipeline end to end (real parser, chunker, embedder and Chroma)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import respx

from ingest import pipeline
from ingest.config import IngestSettings
from ingest.pipeline import ingest_sync, run_ingest
from ingest.records import PageRecords
from ingest.store import DocIndex
from tests.conftest import API_KEYS_MD
from tests.ingest.conftest import API_KEYS_URL, CountingEmbeddings

STEPS = ["create-your-api-key", "generate-a-key", "name-the-key-and-generate",
         "save-your-api-key", "rotate-api-key"]  # fmt: skip


def ingest(settings: IngestSettings, index: DocIndex, *sources: str, **kw: object):  # type: ignore[no-untyped-def]
    return ingest_sync(settings, list(sources), index=index, **kw)


def write_page(root: Path, rel: str, title: str, body: str) -> Path:
    path = root / "docs.example.com" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {title}\n\n{body}\n", encoding="utf-8")
    return path


def test_api_keys_page_steps_and_search(
    docs_cache: Path, settings: IngestSettings, index: DocIndex
) -> None:
    report = ingest(settings, index)
    assert (report.new, report.failures) == (1, [])
    chunks = index.page_chunks(API_KEYS_URL)
    anchors = [c.anchor_url.rsplit("#", 1)[-1] for c in chunks if c.step]
    assert anchors == STEPS
    assert all(c.step and c.step[1] == 5 for c in chunks if c.step)
    rotate = next(c for c in chunks if c.anchor_url.endswith("#rotate-api-key"))
    assert rotate.breadcrumb == "API Keys › How to generate your API key › Rotate API key"
    assert not any("Agent Instructions" in c.text or "?ask=" in c.text for c in chunks)
    hits = index.search("what if my key was shared by mistake?", k=3)
    assert hits[0].chunk.anchor_url == API_KEYS_URL + "#rotate-api-key"


def test_rerun_on_unchanged_input_embeds_nothing(
    docs_cache: Path, settings: IngestSettings, index: DocIndex, counting: CountingEmbeddings
) -> None:
    first = ingest(settings, index)
    assert len(counting.embedded) == first.chunks_embedded == first.chunks > 0
    counting.reset()
    version = index.version()
    again = ingest(settings, index)
    assert (again.new, again.changed, again.unchanged, again.removed) == (0, 0, 1, 0)
    assert counting.embedded == [] and again.chunks == first.chunks
    assert index.version() == version


def test_editing_one_step_reembeds_exactly_that_chunk(
    docs_cache: Path, settings: IngestSettings, index: DocIndex, counting: CountingEmbeddings
) -> None:
    ingest(settings, index)
    page = docs_cache / API_KEYS_MD.relative_to(API_KEYS_MD.parents[4])
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("Click **Generate API key**.", "Press **New key**."), "utf-8")
    counting.reset()
    version = index.version()
    report = ingest(settings, index)
    assert report.changed == 1 and report.chunks_embedded == 1
    assert len(counting.embedded) == 1 and "Press New key." in counting.embedded[0]
    assert index.version() > version
    texts = [c.text for c in index.page_chunks(API_KEYS_URL)]
    assert "Press **New key**." in texts and "Click **Generate API key**." not in texts
    assert len(texts) == 6


def test_deleted_page_has_its_chunks_removed(
    docs_cache: Path, settings: IngestSettings, index: DocIndex
) -> None:
    gone = write_page(docs_cache, "billing.md", "Billing", "Invoices arrive monthly.")
    ingest(settings, index)
    assert index.page_chunks("https://docs.example.com/billing")
    gone.unlink()
    report = ingest(settings, index)
    assert [p.url for p in report.pages if p.status == "removed"] == [
        "https://docs.example.com/billing"
    ]
    assert index.page_chunks("https://docs.example.com/billing") == []
    assert {c.page_url for c in index.all_chunks()} == {API_KEYS_URL}
    assert "https://docs.example.com/billing" not in index.page_hashes()


class KilledError(RuntimeError):
    pass


def test_killed_ingest_is_completed_by_next_run(
    docs_cache: Path,
    settings: IngestSettings,
    index: DocIndex,
    counting: CountingEmbeddings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for n in range(4):
        write_page(docs_cache, f"p{n}.md", f"Page {n}", f"Body of page {n}. " * 5)
    monkeypatch.setattr(pipeline, "EMBED_WINDOW", 2)  # several windows
    calls = {"n": 0}
    real = PageRecords.finalise

    def finalise_then_die(self: PageRecords, records: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # chunks of window 2 written, its record not: "killed" here
            raise KilledError("killed")
        real(self, records)  # type: ignore[arg-type]

    monkeypatch.setattr(PageRecords, "finalise", finalise_then_die)
    with pytest.raises(KilledError):
        ingest(settings, index)
    monkeypatch.setattr(PageRecords, "finalise", real)
    pending = [url for url, sha in index.page_hashes().items() if sha == ""]
    assert pending  # the half-written window is recognisable
    embedded_before = len(counting.embedded)
    report = ingest(settings, index)
    assert report.failures == []
    assert all(sha for sha in index.page_hashes().values())
    assert len(index.page_hashes()) == 5
    # chunks already in Chroma were not embedded again; only never-written ones were
    assert len(counting.embedded) - embedded_before == report.chunks_embedded
    assert report.chunks_embedded < report.chunks
    assert len(index.all_chunks()) == report.chunks
    again = ingest(settings, index)
    assert again.unchanged == 5 and again.chunks_embedded == 0


def test_dry_run_writes_nothing(
    docs_cache: Path, settings: IngestSettings, index: DocIndex, counting: CountingEmbeddings
) -> None:
    report = ingest(settings, index, dry_run=True)
    assert report.dry_run and report.new == 1 and report.chunks_embedded == 6
    assert counting.embedded == [] and index.count() == 0 and index.version() == 0


def test_local_directory_with_a_broken_file(
    tmp_path: Path, settings: IngestSettings, index: DocIndex
) -> None:
    docs = tmp_path / "mydocs"
    (docs / "sub").mkdir(parents=True)
    (docs / "intro.md").write_text("# Intro\n\nWelcome to the product.\n")
    (docs / "sub" / "setup.md").write_text("# Setup\n\n## Install\n\nRun the installer.\n")
    (docs / "broken.md").write_bytes(b"\x00\x01\x02binary")
    report = ingest(settings, index, str(docs))
    assert report.new == 2
    (failed,) = report.failures
    assert failed.url.endswith("/mydocs/broken") and "binary" in failed.reason
    urls = {c.page_url for c in index.all_chunks()}
    site = settings.site_url.rstrip("/")  # under the served site, no server path
    assert urls == {f"{site}/mydocs/intro", f"{site}/mydocs/sub/setup"}
    (docs / "intro.md").unlink()
    assert ingest(settings, index, str(docs)).removed == 1


SITE = "https://docs.example.com"


@respx.mock
async def test_site_crawl_ingests_and_prunes(settings: IngestSettings, index: DocIndex) -> None:
    llms = f"# Example\n\n## Docs\n\n- [A]({SITE}/a.md)\n- [B]({SITE}/b.md)\n- [C]({SITE}/c.md)\n"
    respx.get(f"{SITE}/llms.txt").respond(200, text=llms)
    respx.get(f"{SITE}/a.md").respond(200, text="# A\n\nAlpha is the first letter.\n")
    respx.get(f"{SITE}/b.md").respond(200, text="# B\n\nBeta is the second letter.\n")
    respx.get(f"{SITE}/c.md").respond(404)
    async with httpx.AsyncClient() as client:
        report = await run_ingest(settings, [SITE], index=index, http_client=client)
        assert report.new == 2 and [f.url for f in report.failures] == [f"{SITE}/c"]
        assert "HTTP 404" in report.failures[0].reason
        assert (settings.docs_cache / "docs.example.com" / "a.md").is_file()
        assert (settings.docs_cache / "docs.example.com" / "manifest.json").is_file()

        respx.get(f"{SITE}/llms.txt").respond(200, text=f"# Example\n\n- [A]({SITE}/a.md)\n")
        respx.get(f"{SITE}/a.md").respond(500)
        report = await run_ingest(
            settings, [f"{SITE}/llms.txt"], index=index, http_client=client, sleep=_no_sleep
        )
    assert [p.url for p in report.pages if p.status == "removed"] == [f"{SITE}/b"]
    assert [f.url for f in report.failures] == [f"{SITE}/a"]  # failed: old content kept
    assert {c.page_url for c in index.all_chunks()} == {f"{SITE}/a"}
    assert not (settings.docs_cache / "docs.example.com" / "b.md").exists()


async def _no_sleep(_seconds: float) -> None:
    return None


@respx.mock
def test_single_page_url_fetches_its_md_variant(settings: IngestSettings, index: DocIndex) -> None:
    route = respx.get(f"{SITE}/guide/start.md").respond(200, text="# Start\n\nHello.\n")
    report = ingest(settings, index, f"{SITE}/guide/start")
    assert route.called and report.new == 1
    assert index.pages()[0].url == f"{SITE}/guide/start"
