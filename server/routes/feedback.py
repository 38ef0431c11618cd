"""Feedback on answers (`POST /v1/feedback`, like GitBook's) and the insights a docs owner
reads (`GET /v1/insights`, admins only): what was asked, what the docs could not answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from agent.service import AgentServices
from agent.toolbox.docs import FeedbackArgs
from server.deps import AdminPrincipal, InsightsDep, OptionalPrincipal, ServicesDep

router = APIRouter(tags=["feedback"])


@router.post("/v1/feedback")
def feedback(
    body: FeedbackArgs, insights: InsightsDep, principal: OptionalPrincipal
) -> dict[str, bool]:
    """Rate an answer up or down, with an optional comment (≤ 2,048 characters)."""
    insights.rate(
        principal.owner if principal else None,
        conversation_id=body.conversation_id,
        turn=body.turn,
        rating=body.rating,
        comment=body.comment,
    )
    return {"ok": True}


def closest_pages(services: AgentServices, question: str, k: int = 3) -> list[dict[str, str]]:
    """The local pages nearest to a question, for the unanswered list."""
    seen: dict[str, str] = {}
    for hit in services.index.search(question, k=k * 2):
        seen.setdefault(hit.chunk.page_url, hit.chunk.title)
    return [{"title": title, "url": url} for url, title in list(seen.items())[:k]]


@router.get("/v1/insights")
def insights(
    store: InsightsDep,
    services: ServicesDep,
    _admin: AdminPrincipal,
    days: int = Query(7, ge=1, le=366),
) -> dict[str, Any]:
    """Answers by mode per day, fallback rate, latency, unanswered questions, feedback."""
    return store.summary(days, closest=lambda q: closest_pages(services, q))
