"""The one JSON error shape (locked), operations routes, auth and rate limits."""

from __future__ import annotations

import logging
import os
import re
import select
from collections.abc import Callable
from typing import TextIO

import httpx
import pytest

from agent.service import AgentServices, build_services
from server.app import create_app
from server.config import Settings
from tests.conftest import remember_secret
from tests.server.conftest import User, make_settings, new_user, running


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", body["error"]["request_id"])
    assert response.headers["x-request-id"] == body["error"]["request_id"]
    return body["error"]


async def test_error_shape_for_every_kind_of_error(client: httpx.AsyncClient, alice: User) -> None:
    assert_error(await client.get("/v1/nothing-here"), 404, "not_found")
    assert_error(await client.get("/v1/user/api_keys"), 401, "unauthorized")
    assert_error(
        await client.get("/v1/user/api_keys", headers={"X-Api-Key": "dak_wrong"}),
        401,
        "unauthorized",
    )
    assert_error(await client.post("/v1/chat", json={}), 400, "bad_request")
    assert_error(await client.post("/v1/chat", content=b"{not json"), 400, "bad_request")
    assert_error(await client.delete("/healthz"), 405, "method_not_allowed")
    assert_error(await client.get("/v1/insights", headers=alice.headers), 403, "forbidden")
    long_question = "x" * 513
    assert_error(
        await client.get(
            "/workspace/settings/user-settings/api-keys.md", params={"ask": long_question}
        ),
        400,
        "bad_request",
    )
    assert_error(
        await client.post("/v1/user/api_keys", json={"name": "main"}, headers=alice.headers),
        409,
        "conflict",
    )
    assert_error(
        await client.patch(
            "/v1/user/api_keys/no-such-id", json={"name": "x"}, headers=alice.headers
        ),
        404,
        "not_found",
    )


async def test_incoming_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope/at/all", headers={"X-Request-Id": "trace-123"})
    assert assert_error(response, 404, "not_found")["request_id"] == "trace-123"


async def test_health_ready_metrics_and_docs(client: httpx.AsyncClient, alice: User) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "ready" and ready["index"]["chunks"] > 0
    await client.post("/v1/chat", json={"message": "How do I rotate an API key?"})
    metrics = (await client.get("/metrics")).text
    assert 'docsagent_answers_total{channel="chat",mode="local"}' in metrics
    assert 'route="/v1/chat"' in metrics
    assert (await client.get("/docs")).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert "/v1/chat" in schema["paths"] and "/v1/user/api_keys" in schema["paths"]
    me = (await client.get("/v1/me", headers=alice.headers)).json()
    assert me == {"owner": alice.owner, "key_id": alice.key_id, "is_admin": False}


async def test_require_auth_closes_everything_but_health(tmp_path, services: AgentServices) -> None:
    settings = make_settings(tmp_path, require_auth=True)
    app = create_app(settings, services=services)
    user = new_user(services)
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            assert (await c.get("/healthz")).status_code == 200
            for path in (
                "/llms.txt",
                "/workspace/settings/user-settings/api-keys.md",
                "/v1/models",
            ):
                assert_error(await c.get(path), 401, "unauthorized")
            assert_error(await c.post("/v1/chat", json={"message": "hi"}), 401, "unauthorized")
            assert (await c.get("/llms.txt", headers=user.headers)).status_code == 200


async def test_failed_auth_is_rate_limited_per_address(tmp_path, services: AgentServices) -> None:
    settings = make_settings(tmp_path, rate_limit_failed_auth=3)
    app = create_app(settings, services=services)
    user = new_user(services)
    async with running(app):
        transport = httpx.ASGITransport(app=app, client=("10.9.8.7", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            for _ in range(3):
                assert_error(
                    await c.get("/v1/me", headers={"X-Api-Key": "dak_guess"}), 401, "unauthorized"
                )
            blocked = await c.get("/v1/me", headers=user.headers)
            assert_error(blocked, 429, "rate_limited")
            # the first second a request passes: up to two minutes (the failures of this
            # minute still weigh in the next one)
            assert 1 <= int(blocked.headers["Retry-After"]) <= 120
        other = httpx.ASGITransport(app=app, client=("10.9.8.8", 1234))
        async with httpx.AsyncClient(transport=other, base_url="http://127.0.0.1") as c:
            assert (await c.get("/v1/me", headers=user.headers)).status_code == 200


async def test_per_key_rate_limit(tmp_path, services: AgentServices) -> None:
    settings = make_settings(tmp_path, rate_limit_per_key=2)
    app = create_app(settings, services=services)
    user, other = new_user(services), new_user(services)
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            assert (await c.get("/v1/me", headers=user.headers)).status_code == 200
            assert (await c.get("/v1/me", headers=user.headers)).status_code == 200
            response = await c.get("/v1/me", headers=user.headers)
            assert_error(response, 429, "rate_limited")
            assert "Retry-After" in response.headers
            assert (await c.get("/v1/me", headers=other.headers)).status_code == 200


def _pty() -> tuple[int, Callable[[], TextIO]]:
    """A real pseudo-terminal: (master fd to read what was shown, opener of the terminal)."""
    master, slave = os.openpty()
    return master, lambda: os.fdopen(os.dup(slave), "w", encoding="utf-8")


def _read_all(fd: int) -> str:
    out = b""
    while select.select([fd], [], [], 0.2)[0]:
        out += os.read(fd, 65536)
    return out.decode()


async def test_bootstrap_admin_key_shown_once_on_the_terminal_only(
    tmp_path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The key goes to the terminal, never to stdout/stderr where the JSON logs go."""
    import server.auth

    master, terminal = _pty()
    monkeypatch.setattr(server.auth, "open_terminal", terminal)
    settings = make_settings(tmp_path)
    for attempt in range(2):
        app = create_app(settings)
        async with running(app):
            shown = re.findall(r"dak_[A-Za-z0-9_-]{20,}", _read_all(master))
            streams = capsys.readouterr()
            assert "dak_" not in streams.err + streams.out
            if attempt == 0:
                assert len(shown) == 1
                secret = remember_secret(shown[0])
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                    me = await c.get("/v1/me", headers={"Authorization": f"Bearer {secret}"})
                    assert me.json()["is_admin"] is True
                    insights = await c.get(
                        "/v1/insights", headers={"Authorization": f"Bearer {secret}"}
                    )
                    assert insights.status_code == 200
            else:
                assert shown == []
    assert not any("dak_" in r.getMessage() for r in caplog.records)


async def test_no_terminal_no_bootstrap_key(
    tmp_path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under a service manager (no terminal) no key is created and a WARNING says how to."""
    import server.auth

    monkeypatch.setattr(server.auth, "open_terminal", lambda: None)
    app = create_app(make_settings(tmp_path))
    async with running(app):
        assert app.state.services.keys.audit(None, limit=1) == []
    assert "dak_" not in capsys.readouterr().err
    warning = [
        r for r in caplog.records if r.levelno == logging.WARNING and "bootstrap" in r.getMessage()
    ]
    assert warning and "docsagent keys create" in warning[0].getMessage()


def test_serve_command_runs_uvicorn_with_the_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from server.cli import app as cli

    calls: list[dict[str, object]] = []
    # the serve command imports uvicorn when it runs (start-up stays fast for other commands)
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append({"target": target, **kw}))
    monkeypatch.setenv("DOCSAGENT_PORT", "8123")
    result = CliRunner().invoke(cli, ["serve", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert calls[0]["target"] == "server.app:app_factory" and calls[0]["factory"] is True
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 8123 and calls[0]["workers"] == 2


def test_key_name_errors_map_to_400_and_a_taken_name_to_409() -> None:
    from agent.errors import KeyNameError, KeyNameTakenError
    from server.errors import to_server_error

    assert to_server_error(KeyNameError("the key name is required")).status == 400
    # the wording does not matter, the type does
    assert to_server_error(KeyNameError("already used characters are invalid")).status == 400
    assert to_server_error(KeyNameTakenError("name in use")).status == 409


@pytest.mark.parametrize("otel", [True, False])
async def test_opentelemetry_spans_only_when_turned_on(
    settings: Settings, services: AgentServices, monkeypatch: pytest.MonkeyPatch, otel: bool
) -> None:
    """With DOCSAGENT_OTEL and a tracer provider set up (as opentelemetry-instrument would),
    each request leaves FastAPI's spans; by default FastAPI's telemetry stays off."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    app = create_app(settings.model_copy(update={"otel": otel}), services=services)
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/healthz")).status_code == 200
    names = [span.name for span in exported.get_finished_spans()]
    assert any("/healthz" in name for name in names) is otel, names


async def test_offline_fallback_is_cheap_visible_and_counted(
    tmp_path, services: AgentServices
) -> None:
    """No docs site listening: each answer says it could not be reached, failures are
    counted by cause in /metrics, and once the breaker opens nobody waits on it."""
    import socket

    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(tmp_path, fallback_enabled=True, upstream_url=closed)
    own = build_services(settings, index=services.index)
    app = create_app(settings, services=own)
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            answers = []
            for n in range(5):
                asked = await c.get(
                    "/pricing.md",
                    params={"ask": f"What does the enterprise plan cost, case {n}?"},
                    headers={"Accept": "application/json"},
                )
                answers.append(asked.json()["answer"])
            metrics = (await c.get("/metrics")).text
    assert all("could not be reached" in a for a in answers)
    assert 'docsagent_fallback_failures_total{cause="connect"} 3.0' in metrics
    assert 'docsagent_fallback_failures_total{cause="circuit_open"} 2.0' in metrics
    assert "docsagent_fallback_circuit_open 1.0" in metrics
