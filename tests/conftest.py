"""Test-wide fixtures: every piece of state lives under tmp_path; secrets never reach logs."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "docs_cache"
API_KEYS_MD = CORPUS / "docs.nexos.ai" / "workspace" / "settings" / "user-settings" / "api-keys.md"


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point data dir, docs cache and database at tmp_path; no test sees another's state."""
    for name in list(__import__("os").environ):
        if name.startswith("DOCSAGENT_") and name not in {
            "DOCSAGENT_TEST_DATABASE_URL",
            "DOCSAGENT_TEST_CHROMA_URL",
        }:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env or .docsagent from the repo
    monkeypatch.setenv("DOCSAGENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DOCSAGENT_DOCS_CACHE", str(tmp_path / "docs_cache"))
    monkeypatch.setenv("DOCSAGENT_FALLBACK_ENABLED", "false")
    monkeypatch.setenv("DOCSAGENT_CLI_RAISE", "1")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    yield


@pytest.fixture
def docs_cache(tmp_path: Path) -> Path:
    """A copy of the shipped docs_cache (the API Keys page and llms.txt) under tmp_path."""
    target = tmp_path / "docs_cache"
    shutil.copytree(CORPUS, target, dirs_exist_ok=True)
    return target


class _SecretWatch(logging.Handler):
    """Collects every log record of the session so secrets can be checked at the end."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(record.getMessage())
        except Exception:  # noqa: BLE001 - a broken log call must not break the watch
            self.lines.append(str(record.msg))


_WATCH = _SecretWatch()
SECRETS_SEEN: set[str] = set()


def key_works(keys: Any, secret: str) -> bool:
    """Whether `secret` still authenticates against the key manager `keys`."""
    from agent.errors import AuthenticationError

    try:
        keys.verify(secret)
    except AuthenticationError:
        return False
    return True


def remember_secret(secret: str) -> str:
    """Register a secret created in a test; the session fails if any log line contains it."""
    SECRETS_SEEN.add(secret)
    return secret


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_WATCH)
    logging.getLogger().setLevel(logging.DEBUG)
    # markdown-it logs a DEBUG line per block rule: pure noise that slows parsing ~2.5x.
    logging.getLogger("markdown_it").setLevel(logging.INFO)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaked = sorted(s for s in SECRETS_SEEN if any(s in line for line in _WATCH.lines))
    if leaked:
        print(f"\nSECRET LEAK: {len(leaked)} secret(s) created in tests appeared in log output")
        session.exitstatus = 1
