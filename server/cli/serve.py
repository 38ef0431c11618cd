"""`docsagent serve`: run the app with uvicorn (host, port and workers default to settings).

Start-up makes sure the index exists (ingesting docs_cache/ when empty) and, on a first
start with an empty key store, prints the bootstrap admin key once. SIGINT/SIGTERM shut
down gracefully: in-flight requests get up to 10 seconds to finish.
"""

from __future__ import annotations

from typing import Any

import typer

from server.cli.common import load_settings
from server.config import Settings

GRACEFUL_SECONDS = 10


def register(app: typer.Typer) -> None:
    """Add `serve` to the main app."""

    @app.command()
    def serve(
        host: str | None = typer.Option(None, help="Address to bind (default: DOCSAGENT_HOST)."),
        port: int | None = typer.Option(None, help="Port to bind (default: DOCSAGENT_PORT)."),
        workers: int | None = typer.Option(
            None, help="uvicorn worker processes (default: DOCSAGENT_WORKERS)."
        ),
    ) -> None:
        """Serve the chat API, the ask proxy, the key API, MCP and the web UI."""
        import uvicorn

        settings = load_settings()
        uvicorn.run(
            "server.app:app_factory",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers or settings.workers,
            **uvicorn_options(settings),
        )


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How docsagent runs uvicorn: our JSON logs, and X-Forwarded-For trusted only from
    the proxies in DOCSAGENT_TRUSTED_PROXIES (uvicorn by default trusts it from loopback,
    so anyone on the host could pose as any address and dodge or aim the rate limits)."""
    proxies = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    return {
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or [],
    }
