"""`/docs` (Swagger UI) renders with no network at all: every file comes from this server."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Page, Route, expect

from tests.web.conftest import LiveServer


def test_api_docs_render_offline(page: Page, live_server: LiveServer) -> None:
    elsewhere: list[str] = []

    def only_this_server(route: Route) -> None:
        if urlsplit(route.request.url).netloc == urlsplit(live_server.url).netloc:
            route.continue_()
        else:  # a CDN would be unreachable offline: fail the request and remember it
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("docsagent")
    expect(page.locator(".opblock-summary-path", has_text="/v1/chat/completions")).to_be_visible()
    assert elsewhere == []


def test_api_docs_assets_are_packaged(live_server: LiveServer) -> None:
    html = live_server.http.get("/docs").text
    assert "cdn" not in html.lower() and "/docs/assets/swagger-ui-bundle.js" in html
    script = live_server.http.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert len(script.content) > 100_000
    assert live_server.http.get("/docs/assets/index.html").status_code == 404
    assert live_server.http.get("/redoc").status_code == 404
