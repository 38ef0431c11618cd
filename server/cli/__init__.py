"""The `docsagent` command: composes the subcommands each job owns.

    docsagent ingest / search / stats      server/cli/ingest.py
    docsagent keys ...                     server/cli/keys.py
    docsagent ask / chat                   server/cli/ask.py
    docsagent serve                        server/cli/serve.py

Errors print one friendly line and exit non-zero; with DOCSAGENT_CLI_RAISE=1 (set by the
tests) they propagate instead.
"""

from __future__ import annotations

import typer

from server.cli import ask, ingest, keys, serve

app = typer.Typer(
    name="docsagent",
    help="A self-hostable documentation agent for GitBook-style docs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for module in (ingest, keys, ask, serve):
    module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
