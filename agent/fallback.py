"""Fallback to the docs site's own answer engine: `GET {upstream}{page}.md?ask={question}`.

Timeout, two retries on timeouts/5xx with exponential backoff, a circuit breaker after
repeated failures, a response size cap, and a TTL cache keyed by normalised question +
page. The upstream markdown (`# question`, answer, `# Suggested Follow-up Questions:`,
`# Sources:`) is parsed into parts; its "Agent Instructions" footer is dropped. The text
is untrusted data: it is shown or handed to the model as a tool result, never obeyed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine, delete, insert, select

from agent.config import AgentSettings
from agent.errors import CircuitOpenError, UpstreamError
from agent.links import is_safe_url, safe_links
from agent.redact import redact
from agent.tables import fallback_cache
from agent.text import normalise_question

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
_HEADING = re.compile(r"^#{1,2}\s+(.*?)\s*$", re.MULTILINE)
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_FOOTER = re.compile(r"(?im)^(?:-{3,}\s*\n\s*)?#{1,3}\s*Agent Instructions\b.*\Z", re.DOTALL)
_NO_ANSWER = re.compile(r"could not be answered|couldn't find an answer|unable to answer", re.I)


@dataclass
class UpstreamAnswer:
    """The docs site's answer, parsed; `sources` are (title, url) with '.md' removed."""

    question: str
    text: str
    followups: list[str] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; lets one trial through after `reset_after`."""

    def __init__(
        self, threshold: int = 3, reset_after: float = 30.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.threshold, self.reset_after, self.clock = threshold, reset_after, clock
        self.failures = 0
        self.opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        if self.opened_at is None:
            return False
        return self.clock() - self.opened_at < self.reset_after

    def success(self) -> None:
        self.failures, self.opened_at = 0, None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = self.clock()


class AnswerCache:
    """TTL cache of parsed upstream answers in SQL (shared by workers)."""

    def __init__(self, engine: Engine, clock: Callable[[], float], ttl: float) -> None:
        self.engine, self.clock, self.ttl = engine, clock, ttl

    def get(self, key: str) -> UpstreamAnswer | None:
        with self.engine.begin() as conn:
            row = conn.execute(
                select(fallback_cache.c.value, fallback_cache.c.expires_at).where(
                    fallback_cache.c.key == key
                )
            ).first()
        if row is None or row.expires_at <= self.clock():
            return None
        data = json.loads(row.value)
        data["sources"] = [tuple(s) for s in data["sources"]]
        return UpstreamAnswer(**data)

    def put(self, key: str, value: UpstreamAnswer) -> None:
        if self.ttl <= 0:  # caching is off
            return
        with self.engine.begin() as conn:
            conn.execute(delete(fallback_cache).where(fallback_cache.c.key == key))
            conn.execute(
                insert(fallback_cache).values(
                    key=key, value=json.dumps(asdict(value)), expires_at=self.clock() + self.ttl
                )
            )


def parse_answer(body: str, question: str) -> UpstreamAnswer:
    """GitBook's ask markdown → UpstreamAnswer; raises UpstreamError when it is not one."""
    body = _FOOTER.sub("", body.replace("\r\n", "\n")).strip()
    if not body or "\x00" in body or body.lstrip().startswith("<"):
        raise UpstreamError(
            "the docs site returned something that is not a markdown answer", cause="garbage"
        )
    parts: dict[str, str] = {}
    matches = list(_HEADING.finditer(body))
    if not matches:
        raise UpstreamError("the docs site's answer has no recognisable structure", cause="garbage")
    answer_start = matches[0].end()
    answer_end = len(body)
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(body)
        title = match.group(1).lower()
        if title.startswith("suggested follow"):
            parts["followups"] = body[match.end() : end]
            answer_end = min(answer_end, match.start())
        elif title.startswith("sources"):
            parts["sources"] = body[match.end() : end]
            answer_end = min(answer_end, match.start())
    text = safe_links(body[answer_start:answer_end].strip())
    if not text or _NO_ANSWER.search(text):
        raise UpstreamError("the docs site could not answer the question", cause="no_answer")
    followups = [m.group(1).strip() for m in _LINK.finditer(parts.get("followups", ""))]
    sources = [
        (m.group(1).strip(), _page_url(m.group(2)))
        for m in _LINK.finditer(parts.get("sources", ""))
        if is_safe_url(m.group(2))
    ]
    return UpstreamAnswer(question=question, text=text, followups=followups, sources=sources)


def _page_url(url: str) -> str:
    url = url.split("?", 1)[0]
    return url[:-3] if url.endswith(".md") else url


class Fallback:
    """Asks the upstream docs site; every failure is an `UpstreamError` with a `cause`,
    counted in `failures` (read by the server's metrics). One `ask` takes at most
    `upstream_deadline` seconds, retries and backoff included."""

    def __init__(
        self,
        settings: AgentSettings,
        client: httpx.AsyncClient,
        *,
        cache: AnswerCache | None = None,
        breaker: CircuitBreaker | None = None,
        retries: int = 2,
        backoff: float = 0.25,
        max_bytes: int = MAX_BODY_BYTES,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings, self.client, self.cache = settings, client, cache
        self.breaker = breaker or CircuitBreaker()
        self.retries, self.backoff, self.max_bytes, self.sleep = retries, backoff, max_bytes, sleep
        self.failures: Counter[str] = Counter()

    @property
    def enabled(self) -> bool:
        return self.settings.fallback_enabled

    def url_for(self, page_url: str | None) -> str:
        """`{upstream}{page path}.md` for the page (the site root when no page)."""
        path = urlsplit(page_url).path.rstrip("/") if page_url else ""
        if path.endswith(".md"):
            path = path[:-3]
        base = self.settings.upstream_url.rstrip("/")
        return f"{base}{path}.md" if path else f"{base}/.md"

    async def ask(
        self, question: str, page_url: str | None = None, goal: str | None = None
    ) -> UpstreamAnswer:
        """The upstream answer for `question`, from cache when fresh."""
        try:
            return await self._ask(question, page_url, goal)
        except UpstreamError as exc:
            self.failures[exc.cause] += 1
            raise

    async def _ask(self, question: str, page_url: str | None, goal: str | None) -> UpstreamAnswer:
        prefixes = (self.settings.key_prefix,)
        question = redact(question, prefixes)  # never send a pasted secret to the docs site
        goal = redact(goal, prefixes) if goal else goal
        url = self.url_for(page_url)
        key = hashlib.sha256(
            f"{normalise_question(question)}|{url}|{normalise_question(goal or '')}".encode()
        ).hexdigest()
        if self.cache and (cached := self.cache.get(key)):
            return cached
        if self.breaker.is_open:
            raise CircuitOpenError(
                "the docs site could not be reached several times in a row; "
                f"not asking it again for {self.breaker.reset_after:.0f} s"
            )
        params = {"ask": question[: self.settings.max_question_chars]}
        if goal:
            params["goal"] = goal[:512]
        try:
            body = await self._fetch(url, params)
            answer = parse_answer(body, question)
        except UpstreamError as exc:
            if exc.cause != "no_answer":  # a site that says it has no answer is working
                self.breaker.failure()
            raise
        self.breaker.success()
        if self.cache:
            self.cache.put(key, answer)
        return answer

    async def _fetch(self, url: str, params: dict[str, str]) -> str:
        deadline = self.settings.upstream_deadline
        try:
            async with asyncio.timeout(deadline):
                return await self._attempts(url, params)
        except TimeoutError as exc:
            raise UpstreamError(
                f"the docs site did not answer within {deadline:g} s", cause="deadline"
            ) from exc

    async def _attempts(self, url: str, params: dict[str, str]) -> str:
        last: _RetryableError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                await self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return await self._get(url, params)
            except _RetryableError as exc:
                last = exc
                log.info("fallback attempt %d failed: %s", attempt + 1, exc)
                if exc.cause == "connect":  # nothing listens / no route: retrying will not help
                    break
        assert last is not None
        raise UpstreamError(f"the docs site could not be reached: {last}", cause=last.cause)

    async def _get(self, url: str, params: dict[str, str]) -> str:
        timeout = httpx.Timeout(self.settings.upstream_timeout)
        headers = {"Accept": "text/markdown, text/plain;q=0.9"}
        try:
            async with self.client.stream(
                "GET", url, params=params, timeout=timeout, headers=headers
            ) as response:
                if response.status_code >= 500 or response.status_code == 429:
                    raise _RetryableError(f"HTTP {response.status_code}", cause="http_status")
                if response.status_code != 200:
                    raise UpstreamError(
                        f"the docs site answered HTTP {response.status_code}", cause="http_status"
                    )
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data.extend(chunk)
                    if len(data) > self.max_bytes:
                        raise UpstreamError(
                            f"the docs site's answer exceeds {self.max_bytes} bytes",
                            cause="too_large",
                        )
        except httpx.TimeoutException as exc:
            raise _RetryableError("timed out", cause="timeout") from exc
        except httpx.ConnectError as exc:
            raise _RetryableError(f"connection failed: {exc}", cause="connect") from exc
        except httpx.TransportError as exc:
            raise _RetryableError(
                f"connection failed: {type(exc).__name__}", cause="transport"
            ) from exc
        try:
            return bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UpstreamError(
                "the docs site's answer is not UTF-8 text", cause="garbage"
            ) from exc


class _RetryableError(UpstreamError):
    """A failure worth another attempt (timeout, 5xx, 429, connection error)."""
