"""The OpenAPI document as the server really answers: every error is the one JSON error
shape (`ErrorBody`), invalid input is a 400 (never FastAPI's 422, which the error
handlers turn into 400), and any other error status is covered by a `default` response
of that shape. Built once per app, on first request of /openapi.json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_BODY = {
    "title": "ErrorBody",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "request_id"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "request_id": {"type": "string"},
            },
        }
    },
}
_REF = {"$ref": "#/components/schemas/ErrorBody"}
_ERROR = {"content": {"application/json": {"schema": _REF}}}


def install(app: FastAPI) -> None:
    """Replace the app's `openapi()` with one that describes our error responses."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _describe_errors(spec)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _describe_errors(spec: dict[str, Any]) -> None:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorBody"] = ERROR_BODY
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            if responses.pop("422", None) is not None:
                responses["400"] = {"description": "Invalid request", **_ERROR}
            responses["default"] = {"description": "An error (the one JSON error shape)", **_ERROR}
