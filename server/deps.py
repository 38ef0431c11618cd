"""Every FastAPI dependency, as `Annotated[..., Depends(...)]` aliases. Objects built at
start-up live on `app.state`; tests pass real services to `create_app(services=...)` or
replace any dependency below with `app.dependency_overrides[get_x] = ...` (every route,
the key listing included, declares what it uses; docs/contracts.md lists what each one
replaces).

Dependencies are `async def`: FastAPI runs a plain `def` dependency in the thread pool,
and a thread hop per trivial lookup costs more than a cached key verification. The
principal dependencies answer from memory on the event loop and hop to a thread only
when the database must be read (`server.auth.authenticate`)."""

from __future__ import annotations

from typing import Annotated, NamedTuple, cast

from fastapi import Depends, Header, Request

from agent.insights import InsightsStore
from agent.keys.base import KeyManager, Principal
from agent.limits import MAX_ID_CHARS
from agent.service import AgentServices
from ingest.store import DocIndex
from server.answering import Answering
from server.auth import extract_key, looks_like_api_key, optional_principal
from server.config import Settings
from server.errors import Forbidden, Unauthorized
from server.metrics import Metrics
from server.openai_state import OpenAIState


def doc_index(services: AgentServices) -> DocIndex:
    """The services' index as the ingest layer's DocIndex (pages, stats, counts)."""
    return cast(DocIndex, services.index)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_services(request: Request) -> AgentServices:
    services: AgentServices = request.app.state.services
    return services


async def get_answering(request: Request) -> Answering:
    answering: Answering = request.app.state.answering
    return answering


async def get_insights(request: Request) -> InsightsStore:
    insights: InsightsStore = request.app.state.insights
    return insights


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_openai_state(request: Request) -> OpenAIState:
    state: OpenAIState = request.app.state.openai
    return state


SettingsDep = Annotated[Settings, Depends(get_settings)]
OpenAIStateDep = Annotated[OpenAIState, Depends(get_openai_state)]
ServicesDep = Annotated[AgentServices, Depends(get_services)]
AnsweringDep = Annotated[Answering, Depends(get_answering)]
InsightsDep = Annotated[InsightsStore, Depends(get_insights)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
# an anonymous conversation's token (handed to its creator once), where it comes as a header
ConversationToken = Annotated[
    str | None,
    Header(
        alias="X-Conversation-Token",
        max_length=MAX_ID_CHARS,
        description="The token an anonymous conversation was created with (what opens it).",
    ),
]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _principal(request: Request, required: bool) -> Principal | None:
    # app.state directly rather than sub-dependencies: FastAPI solves each dependency
    # per request, and on the authenticated hot path that overhead outweighs the work
    state = request.app.state
    principal = await optional_principal(
        request.headers,
        keys=state.services.keys,
        settings=state.settings,
        limiter=state.limiter,
        client=_client(request),
        required=required,
    )
    request.state.principal = principal
    return principal


async def get_optional_principal(request: Request) -> Principal | None:
    """The caller when a key was sent; None for anonymous (unless auth is required)."""
    return await _principal(request, required=False)


OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


async def get_principal(request: Request) -> Principal:
    """The caller; 401 without a valid key."""
    principal = await _principal(request, required=True)
    assert principal is not None  # required=True raises Unauthorized instead
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


class Caller(NamedTuple):
    """The key store and the authenticated caller acting on it: the key API's one
    dependency (each dependency FastAPI solves costs 10-25 µs on the hot listing route, so
    it resolves the caller itself instead of depending on `get_principal`; override
    `get_caller` to replace both for the key API)."""

    keys: KeyManager
    principal: Principal


async def get_caller(request: Request) -> Caller:
    return Caller(request.app.state.services.keys, await get_principal(request))


KeyCaller = Annotated[Caller, Depends(get_caller)]


class CompletionCaller(NamedTuple):
    """The OpenAI-compatible surface's caller: None when anonymous, and whether the key
    sent was a placeholder (not shaped like a key this server verifies)."""

    principal: Principal | None
    placeholder: bool


async def get_completion_caller(request: Request) -> CompletionCaller:
    """OpenAI SDKs insist on some API key: a placeholder is anonymous, a real key is
    verified (a wrong one is a 401, as everywhere)."""
    secret = extract_key(request.headers)
    settings: Settings = request.app.state.settings
    if secret is not None and not looks_like_api_key(secret, settings):
        if settings.require_auth:
            raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
        return CompletionCaller(None, placeholder=True)
    return CompletionCaller(await _principal(request, required=False), placeholder=False)


CompletionCallerDep = Annotated[CompletionCaller, Depends(get_completion_caller)]


async def get_admin(principal: CurrentPrincipal) -> Principal:
    """The caller, who must be an admin (bootstrap owner or DOCSAGENT_ADMINS)."""
    if not principal.is_admin:
        raise Forbidden("only admins may do this")
    return principal


AdminPrincipal = Annotated[Principal, Depends(get_admin)]
