"""The web pages: chat (`/`), Settings → API Keys, Insights, and their static files.

Plain HTML/CSS/JS shipped inside the package; nothing loads from the network. Every page
is served with a strict Content-Security-Policy (scripts and styles from this origin only,
no inline script), so even a rendering mistake cannot run injected markup.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from server.errors import NotFound

STATIC_DIR: Final = Path(__file__).resolve().parent.parent / "static"

SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

PAGES: Final = {
    "/": "chat.html",
    "/settings/api-keys": "api-keys.html",
    "/insights": "insights.html",
}

router = APIRouter(include_in_schema=False)


def _page(filename: str) -> HTMLResponse:
    """One HTML page with the security headers; pages hold no data, so they may be cached."""
    body = (STATIC_DIR / filename).read_text(encoding="utf-8")
    return HTMLResponse(body, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


@router.get("/", response_class=HTMLResponse)
def chat_page() -> HTMLResponse:
    """The chat assistant."""
    return _page(PAGES["/"])


@router.get("/settings/api-keys", response_class=HTMLResponse)
def api_keys_page() -> HTMLResponse:
    """Settings → API Keys: generate, list, rotate, revoke."""
    return _page(PAGES["/settings/api-keys"])


@router.get("/insights", response_class=HTMLResponse)
def insights_page() -> HTMLResponse:
    """Insights for admins (the data itself is admin-only at `/v1/insights`)."""
    return _page(PAGES["/insights"])


@router.get("/ui/config.json")
def ui_config(request: Request) -> JSONResponse:
    """What the pages need to know of the server's settings (the question limit)."""
    settings = request.app.state.settings
    return JSONResponse({"max_question_chars": settings.max_question_chars})


def resolve_static(path: str) -> Path:
    """The file under STATIC_DIR that `path` names; NotFound for anything outside it."""
    candidate = (STATIC_DIR / path).resolve()
    if not candidate.is_relative_to(STATIC_DIR) or not candidate.is_file():
        raise NotFound(f"No static file {path!r}.")
    return candidate


@router.get("/static/{path:path}")
def static_file(path: str) -> Response:
    """A CSS/JS/SVG file shipped with the package."""
    file = resolve_static(path)
    media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    if file.suffix == ".js":
        media_type = "text/javascript"
    return FileResponse(
        file,
        media_type=media_type,
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )
