"""Hypothesis against every operation of the OpenAPI schema: random path parameters, query
strings and JSON bodies (shaped after the schema's property names, and free-form), with
and without a valid key. No request may produce a 5xx."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.service import AgentServices
from server.app import create_app
from server.config import Settings
from tests.server.conftest import new_user

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=8,
)
FIELD_NAMES = [
    "message",
    "conversation_id",
    "approve",
    "reject",
    "name",
    "enabled",
    "expiration_date",
    "items",
    "id",
    "remove",
    "turn",
    "rating",
    "comment",
    "model",
    "messages",
    "stream",
    "query",
    "question",
    "goal",
    "url",
    "key",
    "approval_id",
]
shaped = st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=5)
segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"),
    min_size=1,
    max_size=20,
)


@pytest.fixture(scope="module")
def fuzz_client(
    tmp_path_factory: pytest.TempPathFactory, shared: tuple[Settings, AgentServices]
) -> Iterator[tuple[TestClient, list[tuple[str, str]], dict[str, str]]]:
    settings, services = shared
    app = create_app(settings, services=services)
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        operations = [
            (method.upper(), path)
            for path, item in client.get("/openapi.json").json()["paths"].items()
            for method in item
            if path != "/{path}"
        ]
        user = new_user(services)
        yield client, operations, user.headers


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.data(),
    body=st.one_of(shaped, json_values),
    authenticated=st.booleans(),
    page=st.lists(segment, min_size=1, max_size=3),
    ask=st.none() | st.text(max_size=600),
)
def test_no_server_errors(
    fuzz_client: tuple[TestClient, list[tuple[str, str]], dict[str, str]],
    data: st.DataObject,
    body: Any,
    authenticated: bool,
    page: list[str],
    ask: str | None,
) -> None:
    client, operations, headers = fuzz_client
    method, template = data.draw(st.sampled_from([*operations, ("GET", "/{path}.md")]))
    path = re.sub(r"\{[^}]+\}", lambda _m: quote(data.draw(segment), safe=""), template)
    if template == "/{path}.md":
        path = "/" + "/".join(quote(p, safe="") for p in page) + ".md"
    params = {"ask": ask} if ask is not None else {}
    if "insights" in template:
        params = {"days": data.draw(st.text(max_size=5))}
    response = client.request(
        method, path, json=body, params=params, headers=headers if authenticated else {}
    )
    assert response.status_code < 500, (method, path, body, response.text)
