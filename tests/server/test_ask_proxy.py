"""The GitBook-compatible surfaces: `.md` pages, `?ask=`, llms.txt, llms-full.txt."""

from __future__ import annotations

import httpx

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
