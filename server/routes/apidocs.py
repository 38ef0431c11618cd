"""The OpenAPI document's browser page, `/docs` (Swagger UI), served entirely from this
server: its script and styles come from the `swagger-ui-bundle-v2` package, never from a
CDN, so the page works offline. (ReDoc has no packaged build and is not served.)"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Final

import swagger_ui_bundle
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from server.errors import NotFound

ASSETS: Final = Path(str(swagger_ui_bundle.swagger_ui_path))
ASSET_FILES: Final = frozenset({"swagger-ui-bundle.js", "swagger-ui.css"})
DOCS_PATH: Final = "/docs"

router = APIRouter(include_in_schema=False)


@router.get(DOCS_PATH, response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI for `/openapi.json`, with packaged assets."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} · API",
        swagger_js_url=f"{DOCS_PATH}/assets/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_PATH}/assets/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )


@router.get(DOCS_PATH + "/assets/{name}")
async def swagger_asset(name: str) -> FileResponse:
    """One of Swagger UI's two files, from the installed package (cached for a day)."""
    if name not in ASSET_FILES:
        raise NotFound(f"no asset {name!r}")
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if name.endswith(".js"):
        media_type = "text/javascript"
    return FileResponse(
        ASSETS / name, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
    )
