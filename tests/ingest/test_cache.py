"""The docs cache layout: <host>/<path>.md, llms.txt and a manifest per host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.cache import DocsCache
from ingest.errors import FetchError
from tests.ingest.conftest import API_KEYS_URL


def test_path_for_page_and_md_url(tmp_path: Path) -> None:
    cache = DocsCache(tmp_path)
    expected = tmp_path / "docs.nexos.ai" / "workspace" / "chat.md"
    assert cache.path_for("https://docs.nexos.ai/workspace/chat") == expected
    assert cache.path_for("https://docs.nexos.ai/workspace/chat.md?ask=x#frag") == expected


@pytest.mark.parametrize(
    "url",
    ["https://docs.nexos.ai/a/../../etc/passwd", "https://docs.nexos.ai/.hidden", "ftp://x.y/a"],
)
def test_unsafe_urls_are_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(FetchError):
        DocsCache(tmp_path).path_for(url)


def test_write_read_and_manifest(tmp_path: Path) -> None:
    cache = DocsCache(tmp_path)
    cache.write("https://docs.example.com/guide/start.md", "# Start\n", etag='"v1"')
    assert cache.read("https://docs.example.com/guide/start") == "# Start\n"
    on_disk = json.loads((tmp_path / "docs.example.com" / "manifest.json").read_text())
    entry = on_disk["https://docs.example.com/guide/start.md"]
    assert entry["etag"] == '"v1"' and len(entry["sha256"]) == 64 and entry["fetched_at"]
    # a fresh cache object reads the manifest back
    assert (
        DocsCache(tmp_path)
        .manifest("docs.example.com")["https://docs.example.com/guide/start.md"]
        .etag
        == '"v1"'
    )
    assert not list((tmp_path / "docs.example.com").rglob("*.tmp"))


def test_remove_forgets_page_and_manifest_entry(tmp_path: Path) -> None:
    cache = DocsCache(tmp_path)
    cache.write("https://docs.example.com/a.md", "A")
    cache.remove("https://docs.example.com/a")
    assert cache.read("https://docs.example.com/a") is None
    assert DocsCache(tmp_path).manifest("docs.example.com") == {}


def test_shipped_cache_without_manifest(docs_cache: Path) -> None:
    cache = DocsCache(docs_cache)
    assert cache.manifest("docs.nexos.ai") == {}  # no manifest shipped: tolerated
    pages = cache.pages()
    assert [p.url for p in pages] == [API_KEYS_URL]
    assert pages[0].md_url == API_KEYS_URL + ".md"
    assert "# API Keys" in (cache.read(API_KEYS_URL) or "")
    assert (cache.llms_txt("docs.nexos.ai") or "").startswith("# nexos.ai documentation")


def test_corrupt_manifest_is_treated_as_empty(tmp_path: Path) -> None:
    (tmp_path / "docs.example.com").mkdir()
    (tmp_path / "docs.example.com" / "manifest.json").write_text("{not json")
    assert DocsCache(tmp_path).manifest("docs.example.com") == {}
