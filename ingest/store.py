"""The vector index: a Chroma collection (cosine, our own embeddings, telemetry off) plus
the ingest record that makes re-ingests incremental. The collection remembers which model
built it; searching or writing with another one fails with a clear message."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import chromadb
import chromadb.config
import chromadb.errors
import httpx
from langchain_core.embeddings import Embeddings
from sqlalchemy import Engine

from ingest.config import IngestSettings
from ingest.embed import embeddings_identity
from ingest.errors import DocIndexError, EmbeddingMismatchError
from ingest.models import Chunk, Hit
from ingest.records import PageRecord, PageRecords, records_engine

Vector = Sequence[float]


@dataclass(frozen=True)
class PageInfo:
    url: str
    md_url: str
    title: str


@contextmanager
def _chroma(action: str) -> Iterator[None]:
    """Translate chromadb's errors (ChromaError, its ValueErrors, and the HttpClient's
    transport errors when a Chroma server is down or drops a connection) into ours."""
    try:
        yield
    except (chromadb.errors.ChromaError, ValueError, httpx.TransportError) as exc:
        raise DocIndexError(f"Chroma {action} failed: {exc}") from exc


def make_client(settings: IngestSettings) -> tuple[Any, str]:
    """(Chroma client, human-readable location) for the settings."""
    chroma_settings = chromadb.config.Settings(anonymized_telemetry=False)
    with _chroma("connect"):
        if settings.chroma_url:
            parts = urlsplit(settings.chroma_url)
            ssl = parts.scheme == "https"
            client = chromadb.HttpClient(
                host=parts.hostname or "localhost",
                port=parts.port or (443 if ssl else 8000),
                ssl=ssl,
                settings=chroma_settings,
            )
            return client, settings.store_location
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
        return client, settings.store_location


class DocIndex:
    """Search and incremental writes over one collection."""

    def __init__(
        self,
        client: Any,
        collection_name: str,
        embeddings: Embeddings,
        records: PageRecords,
        location: str,
    ) -> None:
        self.client = client
        self.collection_name = collection_name
        self.embeddings = embeddings
        self.records = records
        self.location = location
        self.model_name, self.dimension = embeddings_identity(embeddings)
        self._collection: Any = None
        self._checked = False
        self._checked_dim = 0

    # -- collection and model guard -------------------------------------------------------
    def _col(self) -> Any:
        if self._collection is None:
            meta: dict[str, Any] = {"embedding_model": self.model_name}
            meta["embedding_dim"] = self.dimension or 0
            with _chroma("open collection"):
                self._collection = self.client.get_or_create_collection(
                    self.collection_name,
                    embedding_function=None,  # never Chroma's default (it downloads a model)
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata=meta,
                )
        return self._collection

    def built_with(self) -> tuple[str, int]:
        meta = self._col().metadata or {}
        return str(meta.get("embedding_model", "")), int(meta.get("embedding_dim", 0) or 0)

    def remember_model(self) -> None:
        """Copy the collection's model and dimension into the page records, where `stats`
        reads them without opening Chroma."""
        model, dim = self.built_with()
        if model and dim and self.records.built_with() != (model, dim):
            self.records.record_model(model, dim)

    def check_model(self, dimension: int | None = None) -> None:
        """Raise EmbeddingMismatchError unless this index was built with our embedder."""
        dimension = dimension or self.dimension
        if self._checked and (not dimension or dimension == self._checked_dim):
            return
        model, dim = self.built_with()
        if model != self.model_name or (dim and dimension and dim != dimension):
            raise EmbeddingMismatchError(
                f"the index at {self.location} was built with {model} ({dim}-d) but the "
                f"configured embeddings are {self.model_name} ({dimension or '?'}-d); "
                "re-ingest with `docsagent ingest --rebuild`"
            )
        if dimension and not dim:
            with _chroma("record dimension"):
                self._col().modify(metadata={"embedding_model": model, "embedding_dim": dimension})
        self._checked = True
        self._checked_dim = dimension or dim

    # -- reads ------------------------------------------------------------------------------
    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The k chunks nearest to `query`, best first (score = cosine similarity)."""
        self.check_model()
        vector = self.embeddings.embed_query(query)
        self.check_model(len(vector))
        col = self._col()
        with _chroma("query"):  # fewer than k chunks (or none): Chroma returns what it has
            res = col.query(
                query_embeddings=[list(vector)],
                n_results=k,
                include=["documents", "metadatas", "distances"],
            )
        return [
            Hit(Chunk.from_metadata(cid, doc or "", dict(meta or {})), 1.0 - float(dist))
            for cid, doc, meta, dist in zip(
                res["ids"][0],
                res["documents"][0],
                res["metadatas"][0],
                res["distances"][0],
                strict=True,
            )
        ]

    def _get_chunks(self, where: dict[str, Any] | None = None) -> list[Chunk]:
        col = self._col()
        out: list[Chunk] = []
        page = 5000
        with _chroma("get"):
            for offset in range(0, max(col.count(), 1), page):
                res = col.get(
                    where=where, include=["documents", "metadatas"], limit=page, offset=offset
                )
                for cid, doc, meta in zip(
                    res["ids"], res["documents"], res["metadatas"], strict=True
                ):
                    out.append(Chunk.from_metadata(cid, doc or "", dict(meta or {})))
                if len(res["ids"]) < page:
                    break
        return sorted(out, key=lambda c: (c.page_url, c.position))

    def all_chunks(self) -> list[Chunk]:
        return self._get_chunks()

    def page_chunks(self, page_url: str) -> list[Chunk]:
        return self._get_chunks({"page_url": page_url})

    def pages(self) -> list[PageInfo]:
        return [PageInfo(r.url, r.md_url, r.title) for r in self.records.all().values()]

    def page_hashes(self) -> dict[str, str]:
        """page url → content sha256 ('' for a page whose last write did not finish)."""
        return {url: r.sha256 for url, r in self.records.all().items()}

    def version(self) -> int:
        return self.records.version()

    def pending_pages(self) -> set[str]:
        """Pages mid-write (or left so by an interrupted ingest): readers must not use them."""
        return self.records.pending()

    def count(self) -> int:
        with _chroma("count"):
            return int(self._col().count())

    def stats(self) -> dict[str, Any]:
        model, dim = self.built_with()
        return {
            "pages": len(self.records.all()),
            "chunks": self.count(),
            "model": model,
            "dimension": dim,
            "store": self.location,
            "collection": self.collection_name,
            "version": self.version(),
        }

    def stored_hashes(self, page_urls: Sequence[str]) -> dict[str, dict[str, str]]:
        """page url → {chunk id: sha256} as stored in Chroma (the truth after a crash)."""
        out: dict[str, dict[str, str]] = {url: {} for url in page_urls}
        if not page_urls:
            return out
        urls = list(page_urls)
        with _chroma("get"):
            for i in range(0, len(urls), 200):
                where = {"page_url": {"$in": urls[i : i + 200]}}
                res = self._col().get(where=where, include=["metadatas"])
                for cid, meta in zip(res["ids"], res["metadatas"], strict=True):
                    out.setdefault(str(meta["page_url"]), {})[cid] = str(meta.get("sha256", ""))
        return out

    # -- writes -----------------------------------------------------------------------------
    def write_pages(
        self,
        pages: Sequence[tuple[str, Sequence[Chunk], dict[str, str]]],
        vectors: Mapping[str, Vector],
    ) -> None:
        """Make each page's chunks in Chroma exactly its `chunks`: upsert those with a vector,
        refresh metadata of the unchanged rest, delete stored ids no longer present.
        `pages` holds (page url, chunks, stored {id: sha256}); the record is the caller's."""
        col = self._col()
        new: list[Chunk] = []
        same: list[Chunk] = []
        stale: list[str] = []
        for _url, chunks, stored in pages:
            keep = {c.id for c in chunks}
            new += [c for c in chunks if c.id in vectors]
            same += [c for c in chunks if c.id not in vectors]
            stale += [cid for cid in stored if cid not in keep]
        batch = 1000
        with _chroma("write"):
            for i in range(0, len(new), batch):
                part = new[i : i + batch]
                col.upsert(
                    ids=[c.id for c in part],
                    embeddings=[vectors[c.id] for c in part],
                    documents=[c.embed_text for c in part],
                    metadatas=[c.metadata() for c in part],
                )
            for i in range(0, len(same), batch):
                part = same[i : i + batch]
                col.update(ids=[c.id for c in part], metadatas=[c.metadata() for c in part])
            for i in range(0, len(stale), batch):
                col.delete(ids=stale[i : i + batch])

    def replace_page(
        self, page_url: str, chunks: Sequence[Chunk], *, page_sha: str | None = None
    ) -> int:
        """Replace one page's chunks, embedding only those whose sha256 changed.
        Returns the number of chunks embedded."""
        self.check_model()
        stored = self.stored_hashes([page_url])[page_url]
        todo = [c for c in chunks if stored.get(c.id) != c.sha256]
        embedded = self.embeddings.embed_documents([c.embed_text for c in todo])
        vectors = dict(zip([c.id for c in todo], embedded, strict=True))
        if vectors:
            self.check_model(len(next(iter(vectors.values()))))
        first = chunks[0] if chunks else None
        md_url, title = (first.md_url, first.title) if first else (page_url + ".md", "")
        self.records.mark_pending([(page_url, md_url, title)])
        self.write_pages([(page_url, chunks, stored)], vectors)
        sha = page_sha or _digest(c.sha256 for c in chunks)
        self.records.finalise([PageRecord(page_url, md_url, title, sha, len(chunks))])
        return len(todo)

    def remove_page(self, page_url: str) -> None:
        self.remove_pages([page_url])

    def remove_pages(self, page_urls: Sequence[str]) -> None:
        """Delete the pages' chunks, then their records."""
        with _chroma("delete"):
            for i in range(0, len(page_urls), 100):
                self._col().delete(where={"page_url": {"$in": list(page_urls[i : i + 100])}})
        self.records.remove(page_urls)

    def reset(self) -> None:
        """Drop the collection and the record (for --rebuild, e.g. after a model change)."""
        with _chroma("delete collection"):
            try:
                self.client.delete_collection(self.collection_name)
            except (chromadb.errors.NotFoundError, ValueError):
                pass
        self._collection = None
        self._checked = False
        self.records.clear()


def _digest(parts: Any) -> str:
    import hashlib

    h = hashlib.sha256()
    for part in parts:
        h.update(str(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def open_index(
    settings: IngestSettings, embeddings: Embeddings, *, engine: Engine | None = None
) -> DocIndex:
    """The index the settings describe (embedded Chroma under data_dir, or a server).

    `engine`: a long-lived pooled engine on the configured shared database for the page
    records (a server passes its own); without it a one-off run gets an engine that opens
    a connection per read (`records_engine`)."""
    client, location = make_client(settings)
    engine = engine or records_engine(settings.database_url, settings.data_dir)
    records = PageRecords(engine, settings.chroma_collection)
    return DocIndex(client, settings.chroma_collection, embeddings, records, location)
