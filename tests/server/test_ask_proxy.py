"""The GitBook-compatible surfaces: `.md` pages, `?ask=`, llms.txt, llms-full.txt."""

from __future__ import annotations

from pathlib import Path

import httpx

from agent.keys.format import generate_key
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
    # the one rule: a source is the docs site's page with its section anchor
    assert f"(https://docs.nexos.ai{PAGE}#rotate-api-key)" in sources
    if "# Suggested Follow-up Questions:" in text:
        assert f"http://127.0.0.1{PAGE}.md?ask=" in text
    as_json = await client.get(
        f"{PAGE}.md",
        params={"ask": "How do I rotate an API key?"},
        headers={"Accept": "application/json"},
    )
    assert as_json.json()["mode"] == "local" and as_json.headers["x-robots-tag"] == "noindex"


async def test_ask_on_llms_txt_and_llms_full_txt_answers_the_question(
    client: httpx.AsyncClient,
) -> None:
    """llms.txt's footer tells agents to call `…/llms.txt?ask=`: it answers, like a page."""
    for path in ("/llms.txt", "/llms-full.txt", "/workspace/llms.txt", "/workspace/llms-full.txt"):
        response = await client.get(path, params={"ask": "How do I rotate an API key?"})
        assert response.status_code == 200, path
        text = response.text
        assert text.startswith("# How do I rotate an API key?\n"), path
        assert "# Sources:" in text and "#rotate-api-key)" in text, path
        assert response.headers["x-robots-tag"] == "noindex"
        if "# Suggested Follow-up Questions:" in text:
            assert f"(http://127.0.0.1{path}?ask=" in text
    index = await client.get("/llms.txt")
    assert index.text.startswith("# nexos.ai documentation")  # without ?ask= still the index
    as_json = await client.get(
        "/llms.txt",
        params={"ask": "How do I rotate an API key?"},
        headers={"Accept": "application/json"},
    )
    assert as_json.json()["mode"] == "local"
    help_text = await client.get("/llms.txt", params={"ask": ""})
    assert "Ask this documentation" in help_text.text and "/llms.txt?ask=" in help_text.text
    assert_error(await client.get("/llms.txt", params={"ask": "q" * 513}), 400, "bad_request")


async def test_served_page_links_images_to_the_docs_site(client: httpx.AsyncClient) -> None:
    """The page's images (`/files/…`) are not ingested: they point at the site that has them."""
    text = (await client.get(f"{PAGE}.md")).text
    assert '<img src="https://docs.nexos.ai/files/Fx6gZRTc0OcwlJzfLPqw"' in text
    assert 'src="/files/' not in text and "http://127.0.0.1/files/" not in text


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


async def test_served_documents_carry_safe_links_only_and_ask_redacts(tmp_path: Path) -> None:
    """A page with `javascript:`/`data:` links keeps their text and loses them in every
    served document (the page, llms-full.txt), while its docs links still point here; a
    key pasted into `?ask=` on llms.txt or llms-full.txt is not echoed."""
    docs = tmp_path / "mydocs"
    docs.mkdir()
    (docs / "intro.md").write_text(
        "# Intro\n\nSee [Evil](javascript:alert(1)), ![pic](data:text/html,hi), "
        '<a href="javascript:alert(2)">raw</a> and [Setup](/mydocs/setup).\n'
    )
    (docs / "setup.md").write_text("# Setup\n\nRun the installer.\n")
    settings = make_settings(tmp_path)
    services = build_services(settings)
    app = create_app(settings, services=services)
    key = generate_key(settings.key_prefix)
    async with running(app):
        await run_ingest(settings, [str(docs)], index=doc_index(services))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            served = [(await c.get(p)).text for p in ("/mydocs/intro.md", "/llms-full.txt")]
            asked = [
                await c.get(p, params={"ask": f"why is {key} rejected?"})
                for p in ("/llms.txt", "/llms-full.txt", "/mydocs/llms.txt")
            ]
    for text in served:
        assert "javascript:" not in text and "data:" not in text
        assert "See Evil, pic, raw and" in text
        assert "(http://127.0.0.1/mydocs/setup.md)" in text
    for response in asked:
        assert response.status_code == 200
        assert key not in response.text
        assert response.text.startswith("# why is [redacted] rejected?\n")
