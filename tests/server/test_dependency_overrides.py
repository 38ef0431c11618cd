"""`app.dependency_overrides` reaches every route: the routes sit on the app itself (one
match per request) and are built by the app's own router, so the app is their overrides
provider; the hot key listing declares its dependency like the rest."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from agent.keys.base import Principal
from agent.service import AgentServices
from server.deps import Caller, get_caller, get_principal, get_settings
from server.routes.tools import router as tools_router
from tests.server.conftest import User
from tests.server.test_errors_and_ops import assert_error


async def test_overrides_replace_the_caller_on_every_kind_of_route(
    app: FastAPI, client: httpx.AsyncClient, services: AgentServices, alice: User
) -> None:
    assert_error(await client.get("/v1/me"), 401, "unauthorized")
    app.dependency_overrides[get_principal] = lambda: Principal(alice.owner, alice.key_id)
    assert (await client.get("/v1/me")).json()["owner"] == alice.owner  # no key sent
    app.dependency_overrides[get_caller] = lambda: Caller(services.keys, Principal(alice.owner))
    listed = await client.get("/v1/user/api_keys")
    assert [key["name"] for key in listed.json()] == ["main"]
    app.dependency_overrides.clear()
    assert_error(await client.get("/v1/user/api_keys"), 401, "unauthorized")


async def test_an_override_of_the_settings_changes_what_a_route_answers(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    settings = app.state.settings
    public = settings.model_copy(update={"public_url": "https://docs.example.test"})
    app.dependency_overrides[get_settings] = lambda: public
    found = (
        await client.post("/v1/tools/searchDocumentation", json={"query": "rotate a key"})
    ).json()
    assert found["result"]["results"][0]["url"].startswith("https://docs.example.test/")


def test_each_app_gets_routes_of_its_own() -> None:
    """The routers' route objects are not the app's: two apps never share one provider."""
    from server.app import create_app

    for app in (create_app(), create_app()):
        routes = [r for r in app.router.routes if isinstance(r, APIRoute)]
        assert routes and all(r.dependency_overrides_provider is app for r in routes)
        assert not any(r is mine for r in routes for mine in tools_router.routes)
