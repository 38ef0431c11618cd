"""The GitBook-compatible surfaces: `.md` pages, `?ask=`, llms.txt, llms-full.txt."""

from __future__ import annotations

from pathlib import Path

import httpx

from agent.service import build_services
from ingest.pipeline import run_ingest
from server.app import create_app
from server.deps import doc_index
from tests.server.conftest import make_settings, running
from tests.server.test_errors_and_ops import assert_error

PAGE = "/workspace/settings/user-settings/api-keys"


async def test_page_markdown_points_at_this_server(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PAGE}.md")
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert text.splitlines()[0] == (
        "> For the complete documentation index, see [llms.txt](http://127.0.0.1/llms.txt)"
    )
    assert "# API Keys" in text
    assert text.count("# Agent Instructions") == 1  # the upstream footer is replaced, not doubled
    assert f"GET http://127.0.0.1{PAGE}.md?ask=<question>" in text
    assert "GET https://docs.nexos.ai" not in text
    same = await client.get(PAGE, headers={"Accept": "text/markdown"})
    assert same.text == text
    assert_error(await client.get(PAGE), 404, "not_found")


async def test_ask_in_gitbook_shape(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PAGE}.md", params={"ask": "How do I rotate an API key?"})
    assert response.headers["x-robots-tag"] == "noindex"
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert text.startswith("# How do I rotate an API key?\n")
    assert "# Sources:" in text
    sources = text.split("# Sources:")[1]
    assert f"(http://127.0.0.1{PAGE}.md#" in sources
    if "# Suggested Follow-up Questions:" in text:
        assert f"http://127.0.0.1{PAGE}.md?ask=" in text
    as_json = await client.get(
        f"{PAGE}.md",
        params={"ask": "How do I rotate an API key?"},
        headers={"Accept": "application/json"},
    )
    assert as_json.json()["mode"] == "local" and as_json.headers["x-robots-tag"] == "noindex"


async def test_ask_help_text_and_limits(client: httpx.AsyncClient) -> None:
    for empty in ("", "   ", "<question>"):
        response = await client.get(f"{PAGE}.md", params={"ask": empty})
        assert response.status_code == 200 and "Ask this documentation" in response.text
    assert (await client.get(f"{PAGE}.md", params={"ask": "q" * 512})).status_code == 200
    assert_error(await client.get(f"{PAGE}.md", params={"ask": "q" * 513}), 400, "bad_request")


async def test_unknown_page_is_200_with_closest_pages(client: httpx.AsyncClient) -> None:
    response = await client.get("/workspace/settings/user-settings/api-key.md")
    assert response.status_code == 200
    assert "Page not found" in response.text
    assert f"(http://127.0.0.1{PAGE}.md)" in response.text


async def test_llms_txt_and_full(client: httpx.AsyncClient) -> None:
    index = (await client.get("/llms.txt")).text
    assert index.startswith("# nexos.ai documentation")
    assert f"- [API Keys](http://127.0.0.1{PAGE}.md)" in index
    assert "https://docs.nexos.ai/workspace/chat.md" not in index  # only ingested pages
    full = await client.get("/llms-full.txt")
    assert "# API Keys" in full.text and "[Next Page]" not in full.text  # one page < 100
    assert "# Agent Instructions" not in full.text
    assert_error(await client.get("/llms-full.txt/2"), 404, "not_found")


async def test_llms_files_after_a_local_ingest(tmp_path: Path) -> None:
    """`docsagent ingest DIR`: the pages are served under the site, /llms-full.txt works
    and neither file shows the server's file paths."""
    docs = tmp_path / "mydocs"
    (docs / "sub").mkdir(parents=True)
    (docs / "intro.md").write_text("# Intro\n\nWelcome to the product.\n")
    (docs / "sub" / "setup.md").write_text("# Setup\n\nRun the installer.\n")
    settings = make_settings(tmp_path)
    services = build_services(settings)
    app = create_app(settings, services=services)
    async with running(app):
        report = await run_ingest(settings, [str(docs)], index=doc_index(services))
        assert report.new == 2
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            index, full = await c.get("/llms.txt"), await c.get("/llms-full.txt")
            page = await c.get("/mydocs/sub/setup.md")
    assert index.status_code == full.status_code == page.status_code == 200
    for body in (index.text, full.text, page.text):
        assert "file:" not in body and str(tmp_path) not in body
    assert "http://127.0.0.1/mydocs/intro.md" in index.text
    assert "Run the installer." in full.text and "Run the installer." in page.text
