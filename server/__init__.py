"""docsagent's server layer: the FastAPI app, its routes per surface, the CLI."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _installed


def version() -> str:
    """docsagent's version, as the OpenAPI document and MCP's serverInfo give it."""
    try:
        return _installed("docsagent")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"
