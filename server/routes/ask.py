"""The GitBook-compatible docs surfaces: `/<page>.md` (or `Accept: text/markdown`),
`/llms.txt` and `/llms-full.txt[/<n>]`, and `?ask=<q>[&goal=]` on any of them (any path
ending in `.md`, `llms.txt` or `llms-full.txt`: the URL llms.txt's footer tells agents to
call, and the one askQuestion's follow-up links use).

Public unless DOCSAGENT_REQUIRE_AUTH. A missing page is a 200 listing the closest pages,
as GitBook does, because many agents discard 404 bodies. `?ask=` goes through the one
`answer()` of the agent like every other surface.
"""

from __future__ import annotations

from typing import Annotated, NoReturn
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from agent.errors import QuestionError, UpstreamError
from agent.limits import MAX_QUESTION_CHARS, MAX_URL_CHARS
from agent.pages import body, titles
from agent.redact import redact
from agent.toolbox import docs
from agent.toolbox.registry import ToolCall, invoke
from ingest.cache import DocsCache
from ingest.llms_txt import LlmsEntry, parse_llms_txt, render_llms_txt
from server import markdown as md
from server.config import Settings
from server.deps import AnsweringDep, OptionalPrincipal, ServicesDep, SettingsDep
from server.errors import BadRequest, NotFound
from server.toolhost import ServerHost

router = APIRouter(tags=["docs (GitBook-compatible)"])
MARKDOWN = "text/markdown; charset=utf-8"
FULL_BATCH = 100


def base_url(request: Request, settings: Settings) -> str:
    """Where links point: DOCSAGENT_PUBLIC_URL, else the address this server listens on.
    Never the request's Host header, which any client can set (links in /llms.txt and
    answers would point wherever it said)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    scheme = request.scope.get("scheme", "http")
    host, port = request.scope.get("server") or (settings.host, settings.port)
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a bind-all address is not a link target
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}")


def _site(settings: Settings) -> str:
    return settings.site_url.rstrip("/")


def _markdown(text: str, *, noindex: bool = False) -> Response:
    headers = {"X-Robots-Tag": "noindex"} if noindex else {}
    return Response(text, media_type=MARKDOWN, headers=headers)


INDEX_FILES = ("llms.txt", "llms-full.txt")  # with `.md` pages, where `?ask=` is answered


@router.get("/llms.txt", response_class=Response)
async def llms_txt(
    request: Request,
    settings: SettingsDep,
    services: ServicesDep,
    answering: AnsweringDep,
    principal: OptionalPrincipal,
    ask: Annotated[str | None, Query(max_length=MAX_QUESTION_CHARS)] = None,
    goal: Annotated[str | None, Query(max_length=MAX_QUESTION_CHARS)] = None,
) -> Response:
    """The index of the ingested pages, links pointing at this server (`?ask=` answers)."""
    base, site = base_url(request, settings), _site(settings)
    if ask is not None:
        return await _ask(ask, goal, request, settings, answering, principal, f"{base}/llms.txt")

    def build() -> str:
        pages = titles(services)
        host = urlsplit(site).hostname or ""
        upstream = DocsCache(settings.docs_cache).llms_txt(host) or ""
        title = next(
            (line[2:].strip() for line in upstream.splitlines() if line.startswith("# ")), host
        )
        known = {e.url.removesuffix(".md"): e for e in parse_llms_txt(upstream)}
        entries = []
        for url, page_title in sorted(pages.items()):
            found = known.get(url)
            entries.append(
                LlmsEntry(
                    title=found.title if found else page_title,
                    url=md.local_md_url(url, site, base),
                    description=found.description if found else "",
                    section=found.section if found else "Docs",
                )
            )
        return render_llms_txt(title, entries, f"{base}/llms.txt")

    return _markdown(await anyio.to_thread.run_sync(build))


@router.get("/llms-full.txt", response_class=Response)
@router.get("/llms-full.txt/{batch}", response_class=Response)
async def llms_full(
    request: Request,
    settings: SettingsDep,
    services: ServicesDep,
    answering: AnsweringDep,
    principal: OptionalPrincipal,
    batch: int = 1,
    ask: Annotated[str | None, Query(max_length=MAX_QUESTION_CHARS)] = None,
    goal: Annotated[str | None, Query(max_length=MAX_QUESTION_CHARS)] = None,
) -> Response:
    """Every ingested page's markdown, 100 pages per batch, a next link between batches
    (`?ask=` answers)."""
    base, site = base_url(request, settings), _site(settings)
    if ask is not None:
        md_url = f"{base}{request.url.path}"
        return await _ask(ask, goal, request, settings, answering, principal, md_url)

    def build() -> str:
        urls = sorted(titles(services))
        chosen = urls[(batch - 1) * FULL_BATCH : batch * FULL_BATCH]
        if batch < 1 or (batch > 1 and not chosen):
            raise NotFound(f"llms-full.txt has no batch {batch}")
        docs = [md.rewrite_links(body(services, u), site, base) for u in chosen]
        text = "\n\n---\n\n".join(docs)
        if len(urls) > batch * FULL_BATCH:
            text += f"\n\n[Next Page]({base}/llms-full.txt/{batch + 1})\n"
        return text + "\n"

    return _markdown(await anyio.to_thread.run_sync(build))


@router.get("/{path:path}", response_class=Response, include_in_schema=True)
async def page(
    path: Annotated[str, Path(max_length=MAX_URL_CHARS)],
    request: Request,
    settings: SettingsDep,
    services: ServicesDep,
    answering: AnsweringDep,
    principal: OptionalPrincipal,
    ask: Annotated[str | None, Query(max_length=MAX_QUESTION_CHARS)] = None,
    goal: Annotated[str | None, Query(max_length=MAX_QUESTION_CHARS)] = None,
) -> Response:
    """`<page>.md` as markdown, or `?ask=` answered in GitBook's shape (also on a
    section's `…/llms.txt` or `…/llms-full.txt`)."""
    accept = request.headers.get("accept", "")
    base = base_url(request, settings)
    if ask is not None and path.rpartition("/")[2] in INDEX_FILES:
        return await _ask(ask, goal, request, settings, answering, principal, f"{base}/{path}")
    if not path.endswith(".md") and "text/markdown" not in accept:
        _no_route(request, path)
    page_path = path.removesuffix(".md").strip("/") or "readme"
    md_url = f"{base}/{page_path}.md"
    if ask is not None:
        return await _ask(ask, goal, request, settings, answering, principal, md_url)
    call = ToolCall(services, principal, "rest", ServerHost(settings, base))
    return _markdown((await invoke(docs.get_page, call, {"url": page_path})).rendered)


def _no_route(request: Request, path: str) -> NoReturn:
    """404, or 405 with Allow when another route has this path for other methods (this
    catch-all GET route would otherwise answer 404 for a GET on a POST-only route)."""
    allowed: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.path != "/{path:path}":
            match, _ = route.matches(request.scope)
            if match == Match.PARTIAL:
                allowed |= route.methods or set()
    if allowed:
        allow = ", ".join(sorted(allowed))
        raise StarletteHTTPException(405, "method not allowed", headers={"Allow": allow})
    raise NotFound(f"no route for /{path}")


async def _ask(
    question: str,
    goal: str | None,
    request: Request,
    settings: Settings,
    answering: AnsweringDep,
    principal: OptionalPrincipal,
    md_url: str,
) -> Response:
    """A question asked with `?ask=` on `md_url`: GitBook's markdown answer (or the Answer
    JSON with `Accept: application/json`), never indexed."""
    wants_json = "application/json" in request.headers.get("accept", "")
    if len(question) > settings.max_question_chars:
        raise BadRequest(f"the question is longer than {settings.max_question_chars} characters")
    if md.is_placeholder(question):
        return _markdown(md.help_text(md_url), noindex=True)
    if goal and len(goal) > settings.max_question_chars:
        raise BadRequest(f"the goal is longer than {settings.max_question_chars} characters")
    # a pasted secret is not echoed in the answer's heading either
    question = redact(question, (settings.key_prefix,))
    goal = redact(goal, (settings.key_prefix,)) if goal else goal
    asked = f"{question.strip()} (goal: {goal.strip()})" if goal and goal.strip() else question
    asked = asked[: settings.max_question_chars]
    try:
        result = await answering.answer(asked, principal=principal, channel="rest")
    except UpstreamError as exc:
        if wants_json:
            raise
        return _markdown(md.failure_document(question, str(exc)), noindex=True)
    except QuestionError:
        raise
    if wants_json:
        return JSONResponse(result.model_dump(), headers={"X-Robots-Tag": "noindex"})
    document = md.ask_document(question, result, md_url=md_url)
    return _markdown(document, noindex=True)
