"""Errors raised by the ingest layer.

    IngestError
    ├── ConfigError          a bad setting (unknown embeddings, wrong model hash)
    ├── FetchError           a page could not be fetched (status, timeout, size, host)
    ├── ParseError           a page could not be parsed at all (binary, not text)
    └── DocIndexError        the docs index (vector store, page records) failed or
        │                    does not match the embedder
        └── EmbeddingMismatchError   index built with another model: re-ingest --rebuild

Library errors (httpx, chromadb, onnxruntime) are translated at the boundary with
`raise OurError(...) from exc`.
"""

from __future__ import annotations


class IngestError(Exception):
    """Base of every error the ingest layer raises on purpose."""


class ConfigError(IngestError):
    """A setting is wrong; the message says which and how to fix it."""


class FetchError(IngestError):
    """A page could not be fetched; `url` and `reason` say which and why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class ParseError(IngestError):
    """A page is not parseable text (binary, wrong encoding)."""


class DocIndexError(IngestError):
    """The docs index (vector store or page records) failed."""


class EmbeddingMismatchError(DocIndexError):
    """The index was built with a different embedding model or dimension."""
