"""`POST /v1/secrets/claim`: the one-time page behind a new secret's link (the
OpenAI-compatible surface never puts a secret in a message). Only the owner, signed in,
once, within ten minutes (`agent.secret_tickets`)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from agent.models import NewSecret
from server.deps import CurrentPrincipal, OpenAIStateDep

router = APIRouter(tags=["keys"])


class Claim(BaseModel):
    ticket: str = Field(..., min_length=16, max_length=128, description="From the link.")


@router.post("/v1/secrets/claim", response_model=NewSecret)
async def claim_secret(
    body: Claim, principal: CurrentPrincipal, state: OpenAIStateDep, response: Response
) -> NewSecret:
    """The new secret a one-time link stands for; 404 when used, expired or not yours."""
    response.headers["Cache-Control"] = "no-store"
    return await anyio.to_thread.run_sync(lambda: state.tickets.open(body.ticket, principal.owner))
