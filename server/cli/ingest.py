"""`docsagent ingest`, `docsagent search`, `docsagent stats`: build and inspect the index.

The index (Chroma, the embedder) is imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from ingest.errors import DocIndexError
from server.cli.common import console, friendly_errors, load_settings

if TYPE_CHECKING:
    from ingest.report import IngestReport
    from ingest.store import DocIndex
    from server.config import Settings

_PHASES = {"parse": "Parsing pages", "embed": "Embedding chunks"}


def _open(settings: Settings) -> DocIndex:
    from ingest.embed import make_embeddings
    from ingest.store import open_index

    return open_index(settings, make_embeddings(settings))


def print_report(report: IngestReport) -> None:
    from rich.table import Table

    title = "Ingest (dry run: nothing written)" if report.dry_run else "Ingest"
    table = Table(title=title)
    for name in ("new", "changed", "unchanged", "removed", "failed", "chunks", "embedded", "s"):
        table.add_column(name, justify="right")
    table.add_row(
        *map(
            str,
            (
                report.new,
                report.changed,
                report.unchanged,
                report.removed,
                len(report.failures),
                report.chunks,
                report.chunks_embedded,
                f"{report.seconds:.1f}",
            ),
        )
    )
    console.print(table)
    for page in report.failures:
        console.print(f"[red]failed[/red] {page.url}: {page.reason}", highlight=False)
    for page in report.pages:
        for warning in page.warnings:
            console.print(f"[yellow]warning[/yellow] {page.url}: {warning}", highlight=False)


def ingest(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            help="Markdown files/directories, page URLs, or site/llms.txt URLs. "
            "None = the docs cache."
        ),
    ] = None,
    rebuild: Annotated[bool, typer.Option(help="Drop the index and embed everything.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Show what would change; write nothing.")] = False,
    allow_host: Annotated[
        list[str] | None, typer.Option(help="Also allow fetching from (and redirects to) HOST.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Fetch, chunk and embed docs into the index; only what changed is re-embedded."""
    settings = load_settings()
    with friendly_errors():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskID,
            TextColumn,
            TimeElapsedColumn,
        )

        from ingest.pipeline import ingest_sync

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=True, disable=as_json) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(_PHASES.get(phase, phase), total=total)
                bar.update(tasks[phase], completed=done, total=total)

            report = ingest_sync(
                settings,
                sources or [],
                rebuild=rebuild,
                dry_run=dry_run,
                allow_hosts=allow_host or [],
                progress=progress,
            )
        if as_json:
            console.print_json(json.dumps(report.as_dict()))
        else:
            print_report(report)


def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="How many chunks.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the sections that best match QUERY (the retrieval answers use: dense and
    keyword search fused), with their scores and anchor URLs."""
    from agent.profile import load_profile
    from agent.retrieve import Retriever

    settings = load_settings()
    with friendly_errors():
        index = _open(settings)
        if index.count() == 0:
            raise DocIndexError("the index is empty: run `docsagent ingest` first")
        retriever = Retriever(index, profile=load_profile(settings.docs_cache))
        hits = retriever.search(query, k=k)
        if as_json:
            rows = [
                {
                    "score": round(hit.score, 4),
                    "dense": round(hit.dense, 4),
                    "lexical": round(hit.lexical, 4),
                    "id": hit.chunk.id,
                    "title": hit.chunk.title,
                    "section": hit.chunk.section,
                    "breadcrumb": hit.chunk.breadcrumb,
                    "anchor_url": hit.chunk.anchor_url,
                    "text": hit.chunk.text,
                }
                for hit in hits
            ]
            console.print_json(json.dumps(rows))
            return
        for rank, hit in enumerate(hits, 1):
            console.print(
                f"[bold]{rank}. {hit.score:.3f}[/bold]  {hit.chunk.breadcrumb}\n"
                f"   [link={hit.chunk.anchor_url}]{hit.chunk.anchor_url}[/link]",
                highlight=False,
            )
            snippet = " ".join(hit.chunk.text.split())
            console.print(f"   {snippet[:200]}{'…' if len(snippet) > 200 else ''}", markup=False)


def stats(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print pages, chunks, embedding model and store location of the index."""
    settings = load_settings()
    with friendly_errors():
        from ingest.stats import index_stats

        info = index_stats(settings)
        if as_json:
            console.print_json(json.dumps(info))
            return
        from rich.table import Table

        table = Table(show_header=False)
        for key in ("pages", "chunks", "model", "dimension", "store", "collection", "version"):
            table.add_row(key, str(info[key]))
        console.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("ingest")(ingest)
    app.command("search")(search)
    app.command("stats")(stats)
