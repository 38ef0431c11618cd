"""What a client's headers cannot do on a real uvicorn server started as `docsagent serve`
starts it: pose as another address with X-Forwarded-For (trusted only from the proxies in
DOCSAGENT_TRUSTED_PROXIES) or aim this server's links elsewhere with Host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from agent.service import AgentServices
from server.app import create_app
from server.ratelimit import rate_limits_table
from tests.server.conftest import make_settings, new_user, serve_in_thread

pytestmark = pytest.mark.e2e


def _serve(settings: Any, services: AgentServices) -> Iterator[str]:
    server, thread, url = serve_in_thread(create_app(settings, services=services))
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def strict(tmp_path: Path, services: AgentServices) -> Iterator[str]:
    yield from _serve(make_settings(tmp_path, rate_limit_failed_auth=5), services)


def _auth_failure_buckets(services: AgentServices) -> list[str]:
    with services.engine.connect() as conn:
        rows = conn.execute(sa.select(rate_limits_table.c.bucket)).scalars().all()
    return [b for b in rows if b.startswith("authfail:") and "10.77." in b]


def test_x_forwarded_for_is_not_trusted_by_default(strict: str, services: AgentServices) -> None:
    user = new_user(services)
    with httpx.Client(base_url=strict, timeout=30) as c:
        for n in range(5):  # a rotating header does not dodge the limit
            bad = {"X-Api-Key": "dak_guess", "X-Forwarded-For": f"10.77.0.{n}"}
            assert c.get("/v1/me", headers=bad).status_code == 401
        blocked = c.get("/v1/me", headers={**user.headers, "X-Forwarded-For": "10.77.1.1"})
        assert blocked.status_code == 429
    assert _auth_failure_buckets(services) == []  # no row per made-up address


def test_forwarded_for_from_a_trusted_proxy(tmp_path: Path, services: AgentServices) -> None:
    settings = make_settings(tmp_path, rate_limit_failed_auth=5, trusted_proxies="127.0.0.1")
    user = new_user(services)
    for url in _serve(settings, services):
        with httpx.Client(base_url=url, timeout=30) as c:
            for _ in range(5):
                bad = {"X-Api-Key": "dak_guess", "X-Forwarded-For": "10.77.2.1"}
                assert c.get("/v1/me", headers=bad).status_code == 401
            other = {**user.headers, "X-Forwarded-For": "10.77.2.2"}
            assert c.get("/v1/me", headers=other).status_code == 200
            same = {**user.headers, "X-Forwarded-For": "10.77.2.1"}
            assert c.get("/v1/me", headers=same).status_code == 429


def test_host_header_is_not_reflected_into_links(strict: str) -> None:
    evil = {"Host": "evil.example"}
    with httpx.Client(base_url=strict, timeout=30) as c:
        for path, params in (
            ("/llms.txt", {}),
            ("/workspace/settings/user-settings/api-keys.md", {}),
            ("/workspace/settings/user-settings/api-keys.md", {"ask": "How do I rotate a key?"}),
        ):
            response = c.get(path, params=params, headers=evil)
            assert response.status_code == 200
            assert "evil.example" not in response.text
            assert f"{strict}/" in response.text
