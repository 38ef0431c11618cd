"""Browser tests: one real uvicorn server (the real `create_app`) for the session, driven
by Debian's Chromium through Playwright's sync API.

The server runs in a thread on a socket bound to a free 127.0.0.1 port, with its own
data dir and a copy of the shipped docs corpus; fallback to the docs site is off, so
nothing leaves the machine. Each test signs in as its own owner (`users.new(...)`).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from agent.keys.base import KeyManager
from server.app import create_app
from server.config import Settings
from tests.conftest import CORPUS, REPO, remember_secret

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = REPO / "test-output" / "screenshots"

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    http: httpx.Client = field(repr=False)

    @property
    def keys(self) -> KeyManager:
        keys: KeyManager = self.app.state.services.keys
        return keys

    def new_user(self, owner: str) -> str:
        """A fresh owner with one key to sign in with; returns that key's secret."""
        _record, secret = self.keys.create(owner, f"{owner}-login", actor=owner, channel="cli")
        return remember_secret(secret)

    def status_with(self, secret: str) -> int:
        """HTTP status of `GET /v1/user/api_keys` authenticated with `secret`."""
        response = self.http.get("/v1/user/api_keys", headers={"Authorization": f"Bearer {secret}"})
        return response.status_code


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app under uvicorn on 127.0.0.1, with the docs corpus ingested at start-up."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install chromium (.ci/run does this)")
    root = tmp_path_factory.mktemp("web-server")
    shutil.copytree(CORPUS, root / "docs_cache")
    with pytest.MonkeyPatch.context() as env:
        # Session-scoped, so the autouse isolation has not run yet: do the same here.
        for name in list(os.environ):
            if name.startswith("DOCSAGENT_"):
                env.delenv(name)
        env.setenv("ANONYMIZED_TELEMETRY", "False")
        env.chdir(root)  # no stray .env from the repo
        settings = Settings.model_validate(
            {
                "data_dir": root / "data",
                "docs_cache": root / "docs_cache",
                "fallback_enabled": False,
                "rate_limit_per_key": 0,
                "rate_limit_failed_auth": 0,
                "admins": "insights-admin,screens",
            }
        )
    app = create_app(settings)
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the docsagent server did not start")
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=30) as http:
        yield LiveServer(url=url, app=app, http=http)
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A fresh desktop browser context (own sessionStorage), clipboard allowed."""
    ctx = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page on which any JavaScript alert/confirm/prompt fails the test."""
    page = context.new_page()
    page_errors: list[str] = []
    dialogs: list[str] = []

    def on_dialog(dialog: object) -> None:
        dialogs.append(getattr(dialog, "message", "?"))
        dialog.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    yield page
    assert not dialogs, f"a JavaScript dialog opened (script ran): {dialogs}"
    assert not page_errors, f"JavaScript errors on the page: {page_errors}"


def sign_in_storage(context: BrowserContext, secret: str) -> None:
    """Sign a context in without the UI (the sign-in dialog has its own test)."""
    context.add_init_script(
        f"if (!sessionStorage.getItem('docsagent.signed')) {{"
        f" sessionStorage.setItem('docsagent.api_key', {secret!r});"
        f" sessionStorage.setItem('docsagent.signed', '1'); }}"
    )
