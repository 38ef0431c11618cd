"""The tools other assistants get (REST `/v1/tools/*`, MCP): docs search, a whole page,
a question answered by the docs agent, and the key tools gated by approvals.

Each is a plain typed function taking the `AgentServices` first. Rotate and revoke never
execute here: they return an `Answer` with a `pending_action` that the user approves with
`agent.service.decide` (or an MCP elicitation that calls it).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from agent import actions
from agent.keys.base import Channel, Principal
from agent.models import Answer
from agent.routing import Intent
from agent.service import AgentServices, answer_docs, check_question, record_turn


def search_docs(services: AgentServices, query: str, k: int = 5) -> list[dict[str, Any]]:
    """The sections of the docs that best match `query` (hybrid search), best first:
    title, url with section anchor, section, breadcrumb and the section's text."""
    check_question(services.settings, query)
    retrieval = services.retriever.retrieve(query, k=max(1, min(k, 20)))
    return [
        {
            "title": hit.chunk.title,
            "url": hit.chunk.anchor_url,
            "section": hit.chunk.section,
            "breadcrumb": hit.chunk.breadcrumb,
            "text": hit.chunk.text,
        }
        for hit in retrieval.hits[:k]
    ]


def _page_url(url: str) -> str:
    parts = urlsplit(url.strip())
    path = parts.path[:-3] if parts.path.endswith(".md") else parts.path
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/"), "", ""))


def get_page(services: AgentServices, url: str) -> dict[str, Any]:
    """A whole indexed page as markdown (page or '.md' URL, anchors ignored). An unknown
    page answers `found: false` with similar pages, as GitBook does, instead of failing."""
    wanted = _page_url(url)
    chunks = sorted(services.index.page_chunks(wanted), key=lambda c: c.position)
    if not chunks:
        hits = services.retriever.retrieve(
            urlsplit(wanted).path.replace("/", " ").replace("-", " ") or "docs"
        ).hits
        similar = list({h.chunk.page_url: h.chunk.title for h in hits}.items())
        return {
            "found": False,
            "url": wanted,
            "similar": [{"url": u, "title": t} for u, t in similar],
        }
    lines = [f"# {chunks[0].title}", ""]
    seen: set[str] = set()
    for chunk in chunks:
        if chunk.section and chunk.section not in seen and chunk.section != chunks[0].title:
            lines += [f"## {chunk.section}", ""]
            seen.add(chunk.section)
        lines += [chunk.text, ""]
    return {
        "found": True,
        "url": chunks[0].page_url,
        "md_url": chunks[0].md_url,
        "title": chunks[0].title,
        "markdown": "\n".join(lines).strip() + "\n",
    }


async def ask_question(services: AgentServices, question: str, goal: str | None = None) -> Answer:
    """A docs question answered like the chat does (local docs, then the docs site), without
    a conversation and never as a key action; `goal` is passed on to the docs site."""
    text = check_question(services.settings, question)
    return await answer_docs(services, text, goal=goal)


def list_api_keys(services: AgentServices, principal: Principal | None) -> Answer:
    """The principal's API keys (names, ids, masked keys)."""
    return _run(services, Intent("list"), principal, "mcp", "")


def generate_api_key(
    services: AgentServices, principal: Principal | None, name: str, *, channel: Channel = "mcp"
) -> Answer:
    """Create a key; the secret is in `Answer.secret` only, shown once."""
    return _run(services, Intent("generate", name=name), principal, channel, "")


def rotate_api_key(
    services: AgentServices,
    principal: Principal | None,
    key: str,
    *,
    conversation_id: str | None = None,
    channel: Channel = "mcp",
) -> Answer:
    """Stage a rotation: returns a pending action to approve with `service.decide`."""
    return _staged(services, "rotate", principal, key, conversation_id, channel)


def revoke_api_key(
    services: AgentServices,
    principal: Principal | None,
    key: str,
    *,
    conversation_id: str | None = None,
    channel: Channel = "mcp",
) -> Answer:
    """Stage a revocation: returns a pending action to approve with `service.decide`."""
    return _staged(services, "revoke", principal, key, conversation_id, channel)


def _staged(
    services: AgentServices,
    verb: str,
    principal: Principal | None,
    key: str,
    conversation_id: str | None,
    channel: Channel,
) -> Answer:
    if principal is None:
        return Answer(answer=actions.SIGN_IN, mode="action")
    conv = services.conversations.ensure(conversation_id, principal.owner)
    intent = Intent("rotate" if verb == "rotate" else "revoke", key_ref=key)
    result = _run(services, intent, principal, channel, conv)
    meta: dict[str, Any] = {"intent": verb}
    if result.pending_action:  # a "yes" typed next in this conversation confirms it
        meta["pending_id"] = result.pending_action.id
    record_turn(services, conv, f"{verb} key {key}", result, meta)
    return result


def _run(
    services: AgentServices,
    intent: Intent,
    principal: Principal | None,
    channel: Channel,
    conversation_id: str,
) -> Answer:
    outcome = actions.key_action(
        intent,
        keys=services.keys,
        approvals=services.approvals,
        principal=principal,
        channel=channel,
        conversation_id=conversation_id,
    )
    outcome.answer.conversation_id = conversation_id
    return outcome.answer


__all__ = [
    "ask_question",
    "generate_api_key",
    "get_page",
    "list_api_keys",
    "revoke_api_key",
    "rotate_api_key",
    "search_docs",
]
