"""`docsagent serve`: run the app with uvicorn (host, port and workers default to settings).

Start-up makes sure the index exists (ingesting docs_cache/ when empty) and, on a first
start with an empty key store, prints the bootstrap admin key once. SIGINT/SIGTERM shut
down gracefully: in-flight requests get up to 10 seconds to finish.
"""

from __future__ import annotations

import typer

from server.cli.common import load_settings

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
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
        )
