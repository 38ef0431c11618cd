"""schemathesis against the running server (a real uvicorn on loopback): every operation
of the OpenAPI document with generated and schema-violating inputs, a fresh key per case
and the rate limits lifted. No response may be a server error, and every response must be
what the document says (status, content type, body schema, Allow on 405)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks

from agent.service import AgentServices
from server.app import create_app
from server.config import Settings
from tests.server.conftest import new_user, serve_in_thread

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
CHECKS = [
    schemathesis.checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.unsupported_method,
]


@pytest.fixture(scope="module")
def served(shared: tuple[Settings, AgentServices]) -> Iterator[tuple[str, AgentServices]]:
    app_settings, services = shared  # rate limits are 0 (off) in the test settings
    server, thread, url = serve_in_thread(create_app(app_settings, services=services))
    try:
        yield url, services
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _document() -> dict[str, Any]:
    """The app's OpenAPI document (building an app reads no state; no server needed)."""
    with tempfile.TemporaryDirectory() as root:
        return create_app(Settings(data_dir=Path(root))).openapi()


DOCUMENT = _document()
# (schemathesis' fixture-based loader does not work with pytest 9.2: node._nodeid is gone)
schema = schemathesis.openapi.from_dict(DOCUMENT)
# a schema-violating body over the 1 MiB limit is refused before it is parsed, with 413
# (schemathesis' default list of rejections lacks it: a 1.2 MB body of lone surrogates
# was reported as "accepted" in a dry run)
_REJECTIONS = schema.config.checks.negative_data_rejection
_REJECTIONS.expected_statuses = [*(_REJECTIONS.expected_statuses or []), "413"]


def test_the_running_server_serves_this_document(served: tuple[str, AgentServices]) -> None:
    assert httpx.get(f"{served[0]}/openapi.json", timeout=30).json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_documented(case: Any, served: tuple[str, AgentServices]) -> None:
    url, services = served
    user = new_user(services)  # a fresh key: rotations and revocations cannot starve the run
    case.call_and_validate(base_url=url, headers=user.headers, checks=CHECKS, timeout=30)
