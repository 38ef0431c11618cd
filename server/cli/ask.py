"""`docsagent ask "question" [--json]` (one answer; JSON is the Answer contract) and
`docsagent chat` (a REPL: markdown, sources, y/n for pending key actions, a new secret
shown once in a panel). Both call `agent.service`, like every other surface."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer
from rich.markdown import Markdown
from rich.panel import Panel

from agent import service
from agent.keys.base import LOCAL_OWNER, Principal
from agent.models import Answer
from server.cli.common import console, err_console, friendly_errors, load_settings

AsJson = Annotated[bool, typer.Option("--json", help="Print the Answer contract as JSON.")]
Owner = Annotated[str, typer.Option("--owner", help="Whose keys chat key actions manage.")]


def _render(result: Answer) -> None:
    console.print(Markdown(result.answer))
    if result.sources:
        console.print("[bold]Sources[/bold]")
        for n, source in enumerate(result.sources, 1):
            label = f"{source.title} › {source.section}" if source.section else source.title
            console.print(f"  [{n}] {label} — {source.url}", highlight=False, markup=False)
    if result.secret:
        console.print(
            Panel(
                f"{result.secret.api_key}\n\nCopy it now: it is shown once and never again.",
                title=f"New API key “{result.secret.name}”",
                border_style="green",
            ),
            highlight=False,
            markup=False,
        )
    if result.followups:
        console.print("[dim]You could also ask: " + " · ".join(result.followups) + "[/dim]")


async def _ask(question: str, as_json: bool, owner: str) -> None:
    services = service.build_services(load_settings())
    try:
        result = await service.answer(
            services, question, principal=Principal(owner=owner), channel="cli"
        )
    finally:
        await service.close(services)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        _render(result)


def _read(prompt: str) -> str:
    console.print(prompt, end="")
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


async def _chat(owner: str) -> None:
    services = service.build_services(load_settings())
    principal = Principal(owner=owner)
    conversation: str | None = None
    console.print("[bold]docsagent chat[/bold] — ask about the docs; empty line or Ctrl-D ends.")
    question: str | None = None  # a message typed at the approval prompt is the next one
    try:
        while True:
            try:
                question = question or _read("[bold cyan]you>[/bold cyan] ")
            except EOFError:
                break
            if not question.strip():
                break
            with friendly_errors():
                result = await service.answer(
                    services,
                    question,
                    conversation_id=conversation,
                    principal=principal,
                    channel="cli",
                )
            conversation, question = result.conversation_id, None
            _render(result)
            if result.pending_action:
                try:
                    reply = _read("Approve? \\[y/N, or ask something else] ")
                except EOFError:
                    reply = ""
                if reply.strip().lower() in {"y", "yes", "n", "no", ""}:
                    decided = await service.decide(
                        services,
                        conversation,
                        result.pending_action.id,
                        approve=reply.strip().lower() in {"y", "yes"},
                        principal=principal,
                        channel="cli",
                    )
                    _render(decided)
                else:  # anything else moves on: the agent cancels the action and says so
                    question = reply
    finally:
        await service.close(services)


def register(app: typer.Typer) -> None:
    """Add `ask` and `chat` to the main app."""

    @app.command()
    def ask(question: str, as_json: AsJson = False, owner: Owner = LOCAL_OWNER) -> None:
        """Answer one question from the docs (or carry out a key request)."""
        with friendly_errors():
            asyncio.run(_ask(question, as_json, owner))

    @app.command()
    def chat(owner: Owner = LOCAL_OWNER) -> None:
        """An interactive chat with the docs agent."""
        try:
            asyncio.run(_chat(owner))
        except KeyboardInterrupt:
            err_console.print("bye")
