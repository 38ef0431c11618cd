"""Server test fixtures: real agent services (SQLite key store, Chroma index of the shipped
docs) built once per session, an app per test on top of them, an ASGI client, users with
keys, and a real uvicorn server on a free loopback port for end-to-end tests."""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from agent.service import AgentServices, build_services
from server.app import create_app
from server.cli.serve import uvicorn_options
from server.config import Settings
from tests.conftest import CORPUS, remember_secret


def make_settings(root: Path, **overrides: Any) -> Settings:
    docs = root / "docs_cache"
    if not docs.exists():
        shutil.copytree(CORPUS, docs)
    values: dict[str, Any] = {
        "data_dir": root / "data",
        "docs_cache": docs,
        "fallback_enabled": False,
        "rate_limit_per_key": 0,
        "rate_limit_failed_auth": 0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, AgentServices]:
    """Settings and real services over one data dir, shared by the session's apps."""
    settings = make_settings(tmp_path_factory.mktemp("shared"))
    return settings, build_services(settings)


@dataclass
class User:
    owner: str
    key_id: str
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


def new_user(services: AgentServices, owner: str | None = None) -> User:
    """A fresh owner with one key named 'main'."""
    owner = owner or f"user-{uuid.uuid4().hex[:8]}"
    record, secret = services.keys.create(owner, "main", actor=owner, channel="cli")
    return User(owner, record.id, remember_secret(secret))


@pytest.fixture
def services(shared: tuple[Settings, AgentServices]) -> AgentServices:
    return shared[1]


@pytest.fixture
def settings(shared: tuple[Settings, AgentServices]) -> Settings:
    return shared[0]


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Run the app's lifespan in its own task (its task groups must exit where they began)."""
    started, stop = asyncio.Event(), asyncio.Event()
    failure: list[BaseException] = []

    async def hold() -> None:
        try:
            async with app.router.lifespan_context(app):
                started.set()
                await stop.wait()
        except BaseException as exc:
            failure.append(exc)
            started.set()
            raise

    task = asyncio.create_task(hold())
    await started.wait()
    if failure:
        raise failure[0]
    try:
        yield app
    finally:
        stop.set()
        await task


@pytest.fixture
async def app(settings: Settings, services: AgentServices) -> AsyncIterator[FastAPI]:
    async with running(create_app(settings, services=services)) as application:
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def alice(services: AgentServices) -> User:
    return new_user(services)


@pytest.fixture
def bob(services: AgentServices) -> User:
    return new_user(services)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    app: FastAPI


def serve_in_thread(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Start a real uvicorn server for `app` on a free loopback port."""
    port = free_port()
    settings = app.state.settings
    config = uvicorn.Config(app, host="127.0.0.1", port=port, **uvicorn_options(settings))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@contextmanager
def serving(settings: Settings, services: AgentServices) -> Iterator[LiveServer]:
    """The real app on a real uvicorn server (loopback only), stopped afterwards."""
    app = create_app(settings, services=services)
    server, thread, url = serve_in_thread(app)
    try:
        yield LiveServer(url, app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def live_server(settings: Settings, services: AgentServices) -> Iterator[LiveServer]:
    with serving(settings, services) as live:
        yield live


@contextmanager
def loopback_site(answer: Callable[[str], str]) -> Iterator[str]:
    """A docs site on loopback (for the `?ask=` fallback): every GET gets `answer(path)`
    as markdown. Yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = answer(self.path).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/markdown")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
