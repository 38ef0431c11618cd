"""`docsagent ask "question" [--json]` (one answer; JSON is the Answer contract) and
`docsagent chat` (a REPL: markdown, sources, y/n for pending key actions, a new secret
shown once in a panel). Both call `agent.service`, like every other surface; it is
imported when a command runs, so `--help` does not wait for it."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from agent.keys.base import LOCAL_OWNER, Principal
from server.cli.common import console, err_console, friendly_errors, load_settings

if TYPE_CHECKING:
    from agent.models import Answer

AsJson = Annotated[bool, typer.Option("--json", help="Print the Answer contract as JSON.")]
Owner = Annotated[str, typer.Option("--owner", help="Whose keys chat key actions manage.")]


ONE_SHOT = (
    "Nothing was changed: `docsagent ask` answers one message and cannot take your yes. "
    "To confirm, ask again in `docsagent chat` (y/n at its prompt) or in the web chat, or run "
    "`docsagent keys {verb} {key_id}`."
)


def _render(result: Answer, *, one_shot: bool = False, streamed: str = "") -> None:
    """The answer (unless exactly that text was streamed already), sources, secret."""
    from rich.markdown import Markdown
    from rich.panel import Panel

    pending = result.pending_action if one_shot else None
    if pending is not None:  # `ask` cannot take the yes its answer would ask for
        verb = "rotate" if pending.tool == "rotate_api_key" else "revoke"
        key_id = str(pending.args.get("key_id") or pending.args.get("key") or "")
        console.print(pending.preview, highlight=False, markup=False)
        console.print(ONE_SHOT.format(verb=verb, key_id=key_id), highlight=False, markup=False)
    elif streamed and streamed.strip() == result.answer.strip():
        console.print()  # the text is on screen already, as the model wrote it
    else:
        if streamed:
            console.print("\n[dim](the answer below replaces the one above)[/dim]")
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
    from agent import service

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
        _render(result, one_shot=True)


def _read(prompt: str) -> str:
    console.print(prompt, end="")
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


async def _chat(owner: str) -> None:
    from agent import service

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
            streamed: list[str] = []

            async def show(text: str, streamed: list[str] = streamed) -> None:
                streamed.append(text)  # a model's text, printed as it is written
                console.print(text, end="", highlight=False, markup=False)

            with friendly_errors():
                result = await service.answer(
                    services,
                    question,
                    conversation_id=conversation,
                    principal=principal,
                    channel="cli",
                    on_delta=show,
                )
            conversation, question = result.conversation_id, None
            _render(result, streamed="".join(streamed))
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
