"""The page routes over plain HTTP: security headers, static files, no path escapes."""

from __future__ import annotations

import pytest

from tests.web.conftest import LiveServer

pytestmark = [pytest.mark.e2e]


@pytest.mark.parametrize("path", ["/", "/settings/api-keys", "/insights"])
def test_pages_are_html_with_a_strict_content_security_policy(
    live_server: LiveServer, path: str
) -> None:
    response = live_server.http.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/static/' in response.text
    assert "http://" not in response.text and "https://" not in response.text  # no CDN


def test_static_files_are_served_with_their_types(live_server: LiveServer) -> None:
    js = live_server.http.get("/static/markdown.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    css = live_server.http.get("/static/app.css")
    assert css.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "path", ["/static/%2e%2e/config.py", "/static/..%2F..%2Fpyproject.toml", "/static/nope.js"]
)
def test_static_paths_cannot_leave_the_static_folder(live_server: LiveServer, path: str) -> None:
    response = live_server.http.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
