"""Fixtures for the scaled tests: PostgreSQL and a Chroma server, which `make test` starts
(`scripts/services.sh`). URLs come from DOCSAGENT_TEST_DATABASE_URL /
DOCSAGENT_TEST_CHROMA_URL, which `make test` sets; a bare `pytest` without them skips these
tests (and fails in CI, CI=true). Every test gets its own PostgreSQL schema
and its own Chroma collection, both dropped afterwards."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import chromadb
import chromadb.config
import httpx
import pytest
import sqlalchemy as sa

from server.config import Settings
from tests.conftest import CORPUS
from tests.scaled.procs import PEPPER

VENV_BIN = Path(sys.executable).parent


def service_url(name: str) -> str:
    """The env var's value; skip without it, or fail when running in CI."""
    value = os.environ.get(name, "")
    if value:
        return value
    reason = f"{name} is not set: `make test` starts the services and sets it"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def schema_url(base: str, schema: str) -> str:
    """`base` with every connection's search_path set to `schema`."""
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections live in a fresh schema of their own."""
    base = service_url("DOCSAGENT_TEST_DATABASE_URL")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema_url(base, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text("SET lock_timeout = '20s'"))
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def chroma_client(url: str) -> Any:
    parts = urlsplit(url)
    return chromadb.HttpClient(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 8000,
        settings=chromadb.config.Settings(anonymized_telemetry=False),
    )


@pytest.fixture
def chroma_url() -> str:
    return service_url("DOCSAGENT_TEST_CHROMA_URL")


@pytest.fixture
def collection(chroma_url: str) -> Iterator[str]:
    """A Chroma collection name no other test uses; deleted afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    client = chroma_client(chroma_url)
    if name in {c.name for c in client.list_collections()}:
        client.delete_collection(name)


@pytest.fixture
def scaled_settings(tmp_path: Path, pg_url: str, chroma_url: str, collection: str) -> Settings:
    """Settings pointing at the test's schema and collection, with the shipped docs."""
    docs = tmp_path / "docs_cache"
    if not docs.exists():
        shutil.copytree(CORPUS, docs)
    return Settings(
        data_dir=tmp_path / "data",
        docs_cache=docs,
        database_url=pg_url,
        chroma_url=chroma_url,
        chroma_collection=collection,
        key_pepper=PEPPER,
        fallback_enabled=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Poll `url` until it answers 200; fail if `proc` exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Terminate a process we started (SIGTERM, then SIGKILL)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
