"""The one function that answers everything: the CLI, the chat API, the `?ask=` proxy and
MCP all call `answer` (or `answer_events`, `decide`, `history`).

Offline (the default): deterministic routing → key action, or retrieval → extractive
answer → fallback to the docs site → honest "not found". With `settings.llm` (or an
injected chat model) a LangChain tool-calling agent answers instead; approvals of key
actions are decided here, deterministically, in both modes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import httpx
from langchain_core.language_models import BaseChatModel
from sqlalchemy import Engine

from agent import actions
from agent.approvals import Approvals, Pending
from agent.config import AgentSettings
from agent.conversations import Conversations
from agent.errors import ConversationNotFoundError, QuestionError, UpstreamError
from agent.extractive import compose, not_found
from agent.fallback import AnswerCache, Fallback
from agent.grounded import Delta, GroundedWriter, Written, grounding
from agent.keys.base import APIKeyRecord, Channel, KeyManager, Principal
from agent.links import is_safe_url, safe_links
from agent.models import Answer, DecidedAction, Source
from agent.profile import load_profile
from agent.redact import redact
from agent.replies import reply_to_pending, suggestable
from agent.retrieve import Context, Retrieval, Retriever, SearchIndex
from agent.routing import ACTIONS, Intent, route

FALLBACK_NOTE = "*Answered by the docs site's assistant; the local docs did not cover this.*"


@dataclass
class AgentServices:
    """Everything `answer` needs, built once per process (or injected by tests)."""

    settings: AgentSettings
    index: SearchIndex
    keys: KeyManager
    engine: Engine
    retriever: Retriever
    fallback: Fallback
    approvals: Approvals
    conversations: Conversations
    chat_model: BaseChatModel | None = None  # LLM mode's tool-calling agent
    writer: GroundedWriter | None = None  # LLM mode's grounded answers
    llm_server: Any = None  # the llama-server docsagent started (stopped by `close`)
    clock: Callable[[], float] = time.time
    http_client: httpx.AsyncClient | None = field(default=None, repr=False)
    # conversation writes take turns inside a process: SQLite's busy handler sleeps in
    # steps of up to 100 ms when threads race for its write lock, which made the tail slow
    turn_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def build_services(
    settings: AgentSettings,
    *,
    index: SearchIndex | None = None,
    keys: KeyManager | None = None,
    engine: Engine | None = None,
    http_client: httpx.AsyncClient | None = None,
    chat_model: BaseChatModel | None = None,
    clock: Callable[[], float] = time.time,
) -> AgentServices:
    """Wire the real components (migrating the database); any may be injected."""
    from agent.db import make_engine, migrate
    from agent.keys.factory import make_key_manager

    engine = engine or make_engine(settings)
    migrate(engine)
    if index is None:
        from ingest.embed import make_embeddings
        from ingest.store import open_index

        # on a shared database the page records use the agent's pooled engine: a connection
        # per version check would cost a PostgreSQL log-in per question, twice
        records = engine if settings.database_url else None
        index = open_index(settings, make_embeddings(settings), engine=records)
    client = http_client or httpx.AsyncClient(follow_redirects=True)
    llm_server = None
    if chat_model is None and settings.llm:
        from agent.llm import make_chat_model

        chat_model, llm_server = make_chat_model(settings)
    writer = None
    if chat_model is not None and settings.grounded:
        writer = GroundedWriter(
            chat_model,
            site=settings.site_url,
            max_tokens=settings.llm_max_tokens,
            timeout=settings.llm_timeout,
            queue_wait=settings.llm_queue_wait,
            concurrency=settings.llm_concurrency,
        )
        chat_model = None
    return AgentServices(
        settings=settings,
        index=index,
        keys=keys or make_key_manager(settings, engine=engine, http_client=client),
        engine=engine,
        retriever=Retriever(index, profile=load_profile(settings.docs_cache)),
        fallback=Fallback(
            settings,
            client,
            cache=AnswerCache(engine, clock, ttl=settings.fallback_cache_ttl_seconds),
        ),
        approvals=Approvals(engine, clock, settings.approval_ttl_seconds),
        conversations=Conversations(engine, clock),
        chat_model=chat_model,
        writer=writer,
        llm_server=llm_server,
        clock=clock,
        http_client=None if http_client is not None else client,  # closed by `close`
    )


def check_question(settings: AgentSettings, question: str) -> str:
    """The question stripped and with pasted secrets redacted (before it is routed,
    searched, sent upstream, stored or shown to a model); QuestionError when empty or
    too long."""
    text = (question or "").strip()
    if not text:
        raise QuestionError("the question is empty")
    if len(text) > settings.max_question_chars:
        raise QuestionError(f"the question is longer than {settings.max_question_chars} characters")
    return redact(text, (settings.key_prefix,))


async def answer(
    services: AgentServices,
    question: str,
    *,
    conversation_id: str | None = None,
    principal: Principal | None = None,
    channel: Channel = "chat",
    conversation_token: str | None = None,
    start_if_unknown: bool = False,
    by_history: bool = False,
    on_delta: Delta | None = None,
) -> Answer:
    """Answer a docs question or carry out / stage a key action, in a conversation.

    `on_delta` gets the answer's text as a model writes it (grounded LLM mode only).

    A yes/no decides only the pending action of the immediately preceding assistant turn;
    any other message cancels a pending action (and says so), in both modes.

    `conversation_id` continues one the caller may open (an anonymous one needs its
    `conversation_token`, or `by_history`: the caller resent the history `agent.threads`
    matched to it); otherwise ConversationNotFoundError, or with `start_if_unknown` a new
    conversation. A new anonymous conversation's token is in `Answer.conversation_token`,
    this once.
    """
    text = check_question(services.settings, question)
    owner = principal.owner if principal else ""
    conv, token, previous, pending = await asyncio.to_thread(
        _open_turn,
        services,
        conversation_id,
        owner,
        principal is not None,
        Opening(conversation_token, start_if_unknown, by_history),
    )
    reply = reply_to_pending(text)
    bound = pending is not None and previous.get("pending_id") == pending.id
    if reply is not None and bound and pending is not None and principal is not None:
        result, _ = await _decide(
            services, conv, pending.id, reply == "confirm", principal, channel
        )
        meta: dict[str, Any] = {"intent": reply, "key_ref": pending.key_id}
    else:
        dropped = None
        if pending is not None and await asyncio.to_thread(
            services.approvals.cancel, pending.id, owner=owner
        ):
            dropped = pending
        # a yes/no after a request that is gone never reaches the model or the router
        stale = reply is not None and bool(
            dropped or previous.get("pending_id") or previous.get("cancelled")
        )
        if stale and reply is not None:
            result, meta = actions.not_waiting(previous, reply), {"intent": reply}
        elif services.chat_model is not None:
            from agent.llm import run_turn

            asked = await _route(services, text, previous, principal)
            result, meta = await run_turn(services, text, conv, principal, channel, asked)
            meta["intent"] = "llm"
        else:
            result, meta = await _offline(
                services, text, previous, principal, channel, conv, on_delta
            )
        if dropped is not None:
            result.answer = f"{actions.moved_on(dropped)}\n\n{result.answer}"
            result.decided_action = DecidedAction(id=dropped.id, status="cancelled")
            meta["cancelled"] = actions.request_of(dropped)
    result = safe_answer(result)
    result.conversation_id = conv
    await asyncio.to_thread(record_turn, services, conv, text, result, meta)
    result.conversation_token = token  # after recording: the token is never stored
    return result


def safe_answer(result: Answer) -> Answer:
    """The answer with only http(s) and site-relative links, in its text and its sources."""
    result.answer = safe_links(result.answer)
    result.sources = [s for s in result.sources if is_safe_url(s.url)]
    return result


async def _route(
    services: AgentServices, text: str, previous: dict[str, Any], principal: Principal | None
) -> Intent:
    """What the message asks for, its key references resolved against the user's keys."""
    if principal is None:
        return route(text, previous)
    owner = principal.owner

    def live_keys() -> list[APIKeyRecord]:
        return [r for r in services.keys.list(owner, principal=principal) if not r.removed]

    return await asyncio.to_thread(route, text, previous, live_keys)


async def _offline(
    services: AgentServices,
    text: str,
    previous: dict[str, Any],
    principal: Principal | None,
    channel: Channel,
    conv: str,
    on_delta: Delta | None = None,
) -> tuple[Answer, dict[str, Any]]:
    """One offline turn: routing against the user's keys, then a key action or the docs
    (the grounded model, when there is one, writes docs answers; it never decides)."""
    intent = await _route(services, text, previous, principal)
    meta: dict[str, Any] = {"intent": intent.kind}
    if intent.kind in ("confirm", "deny"):  # nothing of the previous turn waits for it
        if previous.get("awaiting") in ("rotate", "revoke") and intent.kind == "confirm":
            meta["awaiting"] = previous["awaiting"]  # still waiting for the key's name
        return actions.not_waiting(previous, intent.kind), meta
    if intent.kind == "clarify" and principal is not None:
        outcome = await asyncio.to_thread(
            actions.clarify, intent, keys=services.keys, principal=principal
        )
    elif intent.kind in ACTIONS and principal is not None:
        outcome = await actions.key_action(
            services, intent, principal=principal, channel=channel, conversation_id=conv
        )
    elif intent.kind in ACTIONS:
        # signed out nothing is staged: what the docs say of it, and how to sign in
        result, meta = await _docs_turn(services, text, previous, meta, on_delta)
        result.answer = f"{result.answer.rstrip()}\n\n{actions.SIGN_IN}"
        return result, meta
    else:
        return await _docs_turn(services, text, previous, meta, on_delta)
    meta.update(outcome.meta)
    return outcome.answer, meta


async def _docs_turn(
    services: AgentServices,
    text: str,
    previous: dict[str, Any],
    meta: dict[str, Any],
    on_delta: Delta | None = None,
) -> tuple[Answer, dict[str, Any]]:
    """The docs answer of a turn, and what its follow-ups need to know of it."""
    result = await answer_docs(services, text, context=_context(previous), on_delta=on_delta)
    meta["question"] = text
    if result.sources:
        meta["topic"] = result.sources[0].title
        if result.mode == "local":
            meta["anchor_url"] = result.sources[0].url
            meta["page_url"] = result.sources[0].url.split("#", 1)[0]
    return result, meta


class Opening(NamedTuple):
    """What lets a turn open the conversation it names (see `answer`)."""

    token: str | None
    start_if_unknown: bool
    by_history: bool


def _open_turn(
    services: AgentServices,
    conversation_id: str | None,
    owner: str,
    signed_in: bool,
    opening: Opening,
) -> tuple[str, str | None, dict[str, Any], Pending | None]:
    """The conversation (and a new anonymous one's token), its last turn's meta and any
    pending action (off the event loop)."""
    conversations = services.conversations
    with services.turn_lock:
        new_token = None
        conv = conversation_id or ""
        if conv:
            try:
                conversations.check(conv, owner, opening.token, by_history=opening.by_history)
            except ConversationNotFoundError:
                if not opening.start_if_unknown:
                    raise
                conv = ""
        if not conv:
            conv, new_token = conversations.create(owner)
        previous = conversations.last_meta(conv)
        pending = services.approvals.active(conv, owner) if signed_in else None
    return conv, new_token, previous, pending


def record_turn(
    services: AgentServices, conv: str, text: str, result: Answer, meta: dict[str, Any]
) -> None:
    """Store a question and its answer in the conversation (one writer per process)."""
    with services.turn_lock:
        services.conversations.add_user(conv, text)
        services.conversations.add_answer(conv, result, meta)


def _context(previous: dict[str, Any]) -> Context | None:
    """The previous docs turn, for a follow-up question ("and how do I save it?")."""
    if previous.get("intent") != "docs" or not previous.get("question"):
        return None
    return Context(
        question=str(previous["question"]),
        page_url=str(previous.get("page_url", "")),
        anchor_url=str(previous.get("anchor_url", "")),
    )


async def answer_docs(
    services: AgentServices,
    question: str,
    *,
    goal: str | None = None,
    local_only: bool = False,
    context: Context | None = None,
    on_delta: Delta | None = None,
) -> Answer:
    """Local grounded answer, else the docs site's answer, else an honest 'not found'.

    `context` is the previous docs turn of the conversation: a follow-up question is
    searched together with it, and the fallback gets the self-contained question."""
    retriever = services.retriever
    retrieval = await asyncio.to_thread(lambda: retriever.retrieve(question, context=context))
    if retrieval.confident:
        draft = compose(question, retrieval, verbs=retriever.lexicon().verbs)
        result = Answer(
            answer=draft.text,
            mode="local",
            sources=draft.sources,
            followups=suggestable(draft.followups),
        )
        if services.writer is not None:
            written = await services.writer.write(grounding(question, retrieval, draft), on_delta)
            if isinstance(written, Written):
                result.answer, result.sources = written.text, written.sources
                result.generation = "llm"
            else:
                result.generation = f"extractive: {written}"
        return safe_answer(result)
    if services.fallback.enabled and not local_only:
        page = retrieval.best.chunk.page_url if retrieval.best else None
        try:
            asked = retrieval.query if retrieval.followup else question  # self-contained
            upstream = await services.fallback.ask(asked, page, goal)
        except UpstreamError as exc:
            return _none(retrieval, unreachable_note(exc) if exc.unreachable else "")
        else:
            sources = [Source(title=title, url=url) for title, url in upstream.sources]
            return Answer(
                answer=f"{upstream.text}\n\n{FALLBACK_NOTE}",
                mode="fallback",
                sources=sources,
                followups=suggestable(upstream.followups)[:3],  # never a clickable "yes"
            )
    return _none(retrieval)


_UNREACHABLE_BECAUSE = {
    "timeout": "it did not respond in time",
    "deadline": "it did not answer in time",
    "connect": "no connection could be made",
    "transport": "the connection broke off",
    "http_status": "it answered with an error",
    "circuit_open": "it failed several times in a row, so it is not being asked for a while",
}


def unreachable_note(error: UpstreamError) -> str:
    """What an answer says when the docs site could not be reached (not: had no answer)."""
    because = _UNREACHABLE_BECAUSE.get(error.cause, "it failed")
    return (
        f"*The docs site could not be reached just now ({because}); "
        "only the local docs were searched.*"
    )


def _none(retrieval: Retrieval, note: str = "") -> Answer:
    draft = not_found(retrieval)
    text = f"{note}\n\n{draft.text}" if note else draft.text
    return Answer(answer=text, mode="none", sources=draft.sources)


async def answer_stream(
    services: AgentServices,
    question: str,
    *,
    conversation_id: str | None = None,
    principal: Principal | None = None,
    channel: Channel = "chat",
    conversation_token: str | None = None,
    start_if_unknown: bool = False,
    by_history: bool = False,
) -> AsyncGenerator[str | Answer, None]:
    """`answer` as it is written: the model's text in pieces (grounded LLM mode only), then
    the finished Answer, last. Closing the stream (a client that went away) cancels the
    answer, and with it the generation."""
    pieces: asyncio.Queue[str | None] = asyncio.Queue()

    async def on_delta(text: str) -> None:
        await pieces.put(text)

    task = asyncio.ensure_future(
        answer(
            services,
            question,
            conversation_id=conversation_id,
            principal=principal,
            channel=channel,
            conversation_token=conversation_token,
            start_if_unknown=start_if_unknown,
            by_history=by_history,
            on_delta=on_delta,
        )
    )
    task.add_done_callback(lambda _: pieces.put_nowait(None))
    try:
        while (piece := await pieces.get()) is not None:
            yield piece
        result = await task
    finally:
        task.cancel()
    yield result


async def answer_events(
    services: AgentServices,
    question: str,
    *,
    conversation_id: str | None = None,
    principal: Principal | None = None,
    channel: Channel = "chat",
    conversation_token: str | None = None,
) -> AsyncIterator[tuple[str, Any]]:
    """`answer` as events: `delta`s of the text, then sources / pending_action / secret, `done`.

    A model's text streams as it is written, up to a link the finished answer would defuse
    (`javascript:`…; the writer never sends that, `agent.grounded`). Should the finished
    answer differ from what was streamed (the model cited nothing, timed out, wrote such a
    link, or a note was added), a `reset` event says to drop the streamed text and the
    finished text follows. Closing the
    stream (a client that went away) cancels the answer, and with it the generation."""
    streamed: list[str] = []
    result: Answer | None = None
    stream = answer_stream(
        services,
        question,
        conversation_id=conversation_id,
        principal=principal,
        channel=channel,
        conversation_token=conversation_token,
    )
    async with aclosing(stream):
        async for item in stream:
            if isinstance(item, Answer):
                result = item
            else:
                streamed.append(item)
                yield "delta", {"text": item}
    assert result is not None  # answer_stream ends with the Answer
    same = streamed and "".join(streamed).strip() == result.answer.strip()
    if streamed and not same:
        yield "reset", {}
    async for event in events_of(result, text=not same):
        yield event


async def events_of(result: Answer, *, text: bool = True) -> AsyncIterator[tuple[str, Any]]:
    """A finished Answer as the stream's events: deltas (unless `text` was streamed
    already), sources, pending_action, secret, done."""
    if result.decided_action:  # first, so the decided card stops being clickable at once
        yield "decided_action", result.decided_action.model_dump()
    body = result.answer if text else ""
    step = 48
    for start in range(0, len(body), step):
        yield "delta", {"text": body[start : start + step]}
    if result.sources:
        yield "sources", [s.model_dump() for s in result.sources]
    if result.pending_action:
        yield "pending_action", result.pending_action.model_dump()
    if result.secret:
        yield "secret", result.secret.model_dump()
    yield "done", result.model_dump()


async def decide(
    services: AgentServices,
    conversation_id: str,
    pending_id: str,
    *,
    approve: bool,
    principal: Principal,
    channel: Channel = "chat",
) -> Answer:
    """Approve or reject a pending key action (only its owner, once, before it expires)."""
    await asyncio.to_thread(services.conversations.check, conversation_id, principal.owner)
    result, pending = await _decide(
        services, conversation_id, pending_id, approve, principal, channel
    )
    result.conversation_id = conversation_id
    said = "approve pending key action" if approve else "reject pending key action"
    meta = {"intent": "decide", "key_ref": pending.key_id}
    await asyncio.to_thread(record_turn, services, conversation_id, said, result, meta)
    return result


async def _decide(
    services: AgentServices,
    conversation_id: str,
    pending_id: str,
    approve: bool,
    principal: Principal,
    channel: Channel,
) -> tuple[Answer, Pending]:
    """Consume the decision, then execute (or resume the LLM agent) and report the outcome."""
    pending = services.approvals.consume(
        pending_id, owner=principal.owner, conversation_id=conversation_id, approve=approve
    )
    if pending.source == "llm":
        from agent.llm import resume_turn

        result, _ = await resume_turn(services, pending, approve, principal, channel)
    elif not approve:
        result = actions.cancelled(pending)
    else:
        result = await actions.execute(services, pending, principal=principal, channel=channel)
    result.decided_action = DecidedAction(
        id=pending.id, status="approved" if approve else "rejected"
    )
    return result, pending


def history(
    services: AgentServices,
    conversation_id: str,
    principal: Principal | None,
    token: str | None = None,
) -> list[dict[str, Any]]:
    """The turns of a conversation its owner may read (an anonymous one: with its token;
    secrets were never stored); each pending action carries its status now, so a decided
    one is not offered again."""
    services.conversations.check(conversation_id, principal.owner if principal else "", token)
    turns = services.conversations.turns(conversation_id)
    actions_in = [t["pending_action"] for t in turns if t.get("pending_action")]
    statuses = services.approvals.statuses([str(a["id"]) for a in actions_in])
    for action in actions_in:
        action["status"] = statuses.get(str(action["id"]), "expired")
    return turns


def claim(
    services: AgentServices,
    conversation_id: str,
    principal: Principal,
    token: str | None = None,
) -> None:
    """A conversation started signed out continues as the user's who signs in holding
    it: `token`, the anonymous conversation's capability, must open it (its id alone does
    not); ConversationNotFoundError otherwise."""
    with services.turn_lock:
        services.conversations.claim(conversation_id, principal.owner, token)


async def close(services: AgentServices) -> None:
    """Write the key store's buffered uses, release the HTTP client `build_services` made
    (an injected one is the caller's)."""
    await asyncio.to_thread(services.keys.close)
    if services.http_client is not None:
        await services.http_client.aclose()
    if services.llm_server is not None:
        await asyncio.to_thread(services.llm_server.stop)
