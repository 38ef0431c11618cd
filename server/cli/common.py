"""Helpers shared by the CLI subcommands: settings, friendly errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console

from agent.errors import AgentError
from ingest.errors import IngestError

if TYPE_CHECKING:
    from server.config import Settings

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def load_settings() -> Settings:
    """Settings for a CLI run; a bad setting is a one-line error naming the variable."""
    with friendly_errors():
        from server.config import get_settings

        return get_settings()
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn our errors (and bad settings) into one line on stderr and exit code 1."""
    try:
        yield
    except (AgentError, IngestError, ValueError) as exc:
        if os.environ.get("DOCSAGENT_CLI_RAISE") == "1":
            raise
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, markup=True)
        raise typer.Exit(code=1) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


def run_friendly(func: Callable[[], T]) -> T:
    with friendly_errors():
        return func()
    raise AssertionError("unreachable")  # pragma: no cover
