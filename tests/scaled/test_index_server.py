"""The index on a Chroma server (`chroma run`) through HttpClient: ingest, search, and a
server killed mid-ingest leaves an index that the next ingest makes whole again."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import sqlalchemy as sa

from agent.service import build_services
from ingest import pipeline
from ingest.embed import make_embeddings
from ingest.errors import IngestError
from ingest.pipeline import ingest_sync
from ingest.store import DocIndex, open_index
from server.config import Settings
from tests.conftest import API_KEYS_MD
from tests.scaled.conftest import VENV_BIN, chroma_client, free_port, stop, wait_http

pytestmark = pytest.mark.scaled

API_KEYS_URL = "https://docs.nexos.ai/workspace/settings/user-settings/api-keys"
PAGES = 12


def test_ingest_and_search_through_the_chroma_server(scaled_settings: Settings) -> None:
    index = open_index(scaled_settings, make_embeddings(scaled_settings))
    report = ingest_sync(scaled_settings, [str(scaled_settings.docs_cache)], index=index)
    assert report.new == 1 and report.failures == []
    # the chunks live in the server's collection, not in the data dir
    remote = chroma_client(scaled_settings.chroma_url).get_collection(
        scaled_settings.chroma_collection
    )
    assert remote.count() == index.count() > 0
    assert not (scaled_settings.data_dir / "chroma").exists()
    hits = index.search("what if my key was shared by mistake?", k=3)
    assert hits[0].chunk.anchor_url == API_KEYS_URL + "#rotate-api-key"
    # a second worker opening the same settings sees the same index
    other = open_index(scaled_settings, make_embeddings(scaled_settings))
    assert [h.chunk.id for h in other.search("what if my key was shared by mistake?", k=3)] == [
        h.chunk.id for h in hits
    ]


def _many_pages(root: Path) -> None:
    """PAGES copies of the API Keys page under distinct URLs (several ingest windows)."""
    body = API_KEYS_MD.read_text(encoding="utf-8")
    for n in range(PAGES):
        page = root / "docs.nexos.ai" / "copies" / f"keys-{n:03d}.md"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(body.replace("# API Keys", f"# API Keys copy {n}", 1), encoding="utf-8")


class ChromaProcess:
    """A Chroma server of one test's own (own port, own --path), killable and restartable."""

    def __init__(self, path: Path) -> None:
        self.path, self.port = path, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "chroma"), "run", "--path", str(self.path),
             "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"ANONYMIZED_TELEMETRY": "False", "PATH": str(VENV_BIN)},
        )  # fmt: skip
        wait_http(f"{self.url}/api/v2/heartbeat", self.proc)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=20)


@pytest.fixture
def own_chroma(tmp_path: Path) -> Iterator[ChromaProcess]:
    server = ChromaProcess(tmp_path / "chroma-server")
    server.start()
    yield server
    if server.proc is not None:
        stop(server.proc)


def _snapshot(index: DocIndex) -> dict[str, str]:
    return {c.id: c.embed_text for c in index.all_chunks()}


def test_chroma_server_killed_mid_ingest_then_reingest_is_consistent(
    scaled_settings: Settings, own_chroma: ChromaProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    _many_pages(scaled_settings.docs_cache)
    monkeypatch.setattr(pipeline, "EMBED_WINDOW", 8)  # many small writes to interrupt
    embeddings = make_embeddings(scaled_settings)
    sources = [str(scaled_settings.docs_cache)]
    # the reference: one uninterrupted ingest of the same docs on the shared server
    reference = open_index(scaled_settings, embeddings)
    ingest_sync(scaled_settings, sources, index=reference)
    expected = _snapshot(reference)
    assert len(expected) > PAGES

    settings = scaled_settings.model_copy(  # its own collection: the page records live in
        update={  # the shared database, keyed by collection
            "chroma_url": own_chroma.url,
            "data_dir": scaled_settings.data_dir / "own",
            "chroma_collection": scaled_settings.chroma_collection + "-own",
        }
    )
    index = open_index(settings, embeddings)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            ingest_sync(settings, sources, index=index)
        except (IngestError, OSError) as exc:  # what a dead server must surface as
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    watcher = chroma_client(own_chroma.url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and thread.is_alive():
        names = {c.name for c in watcher.list_collections()}
        if settings.chroma_collection in names:
            written = watcher.get_collection(settings.chroma_collection).count()
            if 0 < written < len(expected):
                break
        time.sleep(0.02)
    own_chroma.kill()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert failure, "the ingest finished before the server was killed; nothing was tested"
    assert isinstance(failure[0], IngestError), f"raw {type(failure[0]).__name__} leaked"

    own_chroma.start()
    again = open_index(settings, embeddings)
    report = ingest_sync(settings, sources, index=again)
    assert report.failures == []
    assert _snapshot(again) == expected  # no chunk missing, none duplicated or stale
    records = again.records.all()
    assert len(records) == PAGES + 1 and all(r.sha256 for r in records.values())
    assert sum(r.chunks for r in records.values()) == again.count() == len(expected)
    assert again.search("what if my key was shared by mistake?", k=1)[0].chunk.anchor_url.endswith(
        "#rotate-api-key"
    )


def test_a_second_host_sees_the_pages_and_index_version_of_the_first(
    scaled_settings: Settings, tmp_path: Path
) -> None:
    embeddings = make_embeddings(scaled_settings)
    host_a = open_index(scaled_settings, embeddings)
    # another host: its own data dir, the same database and Chroma server
    host_b = open_index(scaled_settings.model_copy(update={"data_dir": tmp_path / "b"}), embeddings)
    before = host_b.version()
    ingest_sync(scaled_settings, [str(scaled_settings.docs_cache)], index=host_a)
    assert [p.url for p in host_b.pages()] == [API_KEYS_URL]
    assert host_b.version() > before  # host B's retriever rebuilds its BM25 index
    assert host_b.pending_pages() == set()
    assert not (tmp_path / "b" / "ingest.sqlite3").exists()
    host_a.records.mark_pending([(API_KEYS_URL, API_KEYS_URL + ".md", "API Keys")])
    assert host_b.pending_pages() == {API_KEYS_URL}  # a rewrite on A is hidden on B too


def test_a_server_answers_on_its_pooled_connections(scaled_settings: Settings) -> None:
    """On PostgreSQL a server's page-record reads (two index-version checks per question)
    go through the agent's pooled engine: answering questions opens no connection per
    question (a PostgreSQL log-in each, which once cost a third of a worker's time)."""
    services = build_services(scaled_settings)
    try:
        ingest_sync(scaled_settings, [str(scaled_settings.docs_cache)], index=services.index)
        opened: list[object] = []
        sa.event.listen(services.engine, "connect", lambda *_: opened.append(1))
        records_engine = cast(DocIndex, services.index).records.engine
        if records_engine is not services.engine:
            sa.event.listen(records_engine, "connect", lambda *_: opened.append(1))
        services.retriever.retrieve("How do I rotate an API key?")  # warm the pool
        opened.clear()
        for question in (
            "How do I rotate an API key?",
            "what if my key was shared by mistake?",
            "revoke a key",
        ) * 4:
            assert services.retriever.retrieve(question).hits
        assert opened == []
    finally:
        services.engine.dispose()
