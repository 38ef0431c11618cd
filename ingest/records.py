"""The ingest record: page url → content sha256, title, chunk count, plus a version counter.

A small SQLite file under the data dir (WAL, so readers in other processes never block).
A page's row is marked pending (sha256 = '') before its chunks are written and finalised
after, so a killed ingest leaves rows the next run recognises as changed or removed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import IndexError_

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS pages (collection TEXT NOT NULL, url TEXT NOT NULL,"
    " md_url TEXT NOT NULL, title TEXT NOT NULL, sha256 TEXT NOT NULL, chunks INTEGER NOT NULL,"
    " PRIMARY KEY (collection, url))",
    "CREATE TABLE IF NOT EXISTS meta (collection TEXT NOT NULL, key TEXT NOT NULL,"
    " value TEXT NOT NULL, PRIMARY KEY (collection, key))",
)


@dataclass(frozen=True)
class PageRecord:
    url: str
    md_url: str
    title: str
    sha256: str  # '' while pending
    chunks: int


class PageRecords:
    """Per-collection page records in `<data_dir>/ingest.sqlite3`."""

    def __init__(self, path: Path, collection: str) -> None:
        self.path = path
        self.collection = collection
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._tx() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    @contextmanager
    def _tx(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise IndexError_(f"cannot open ingest record {self.path}: {exc}") from exc
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield db
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise IndexError_(f"ingest record {self.path} failed: {exc}") from exc
        finally:
            db.close()

    def all(self) -> dict[str, PageRecord]:
        with self._tx(write=False) as db:
            rows = db.execute(
                "SELECT url, md_url, title, sha256, chunks FROM pages WHERE collection = ?"
                " ORDER BY url",
                (self.collection,),
            ).fetchall()
        return {row[0]: PageRecord(*row) for row in rows}

    def mark_pending(self, pages: Iterable[tuple[str, str, str]]) -> None:
        """(url, md_url, title) rows → pending, keeping their last known chunk count."""
        with self._tx() as db:
            db.executemany(
                "INSERT INTO pages VALUES (?, ?, ?, ?, '', 0) ON CONFLICT (collection, url)"
                " DO UPDATE SET sha256 = '', md_url = excluded.md_url, title = excluded.title",
                [(self.collection, *page) for page in pages],
            )
            self._bump(db)  # readers learn the page is being rewritten (and hide it)

    def finalise(self, records: Iterable[PageRecord]) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?, ?)",
                [(self.collection, r.url, r.md_url, r.title, r.sha256, r.chunks) for r in records],
            )
            self._bump(db)

    def remove(self, urls: Iterable[str]) -> None:
        urls = list(urls)
        if not urls:
            return
        with self._tx() as db:
            db.executemany(
                "DELETE FROM pages WHERE collection = ? AND url = ?",
                [(self.collection, url) for url in urls],
            )
            self._bump(db)

    def clear(self) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM pages WHERE collection = ?", (self.collection,))
            self._bump(db)

    def pending(self) -> set[str]:
        """Urls of pages whose chunks are being (or were last interruptedly) written."""
        with self._tx(write=False) as db:
            rows = db.execute(
                "SELECT url FROM pages WHERE collection = ? AND sha256 = ''", (self.collection,)
            ).fetchall()
        return {row[0] for row in rows}

    def version(self) -> int:
        with self._tx(write=False) as db:
            row = db.execute(
                "SELECT value FROM meta WHERE collection = ? AND key = 'version'",
                (self.collection,),
            ).fetchone()
        return int(row[0]) if row else 0

    def _bump(self, db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO meta VALUES (?, 'version', '1') ON CONFLICT (collection, key)"
            " DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            (self.collection,),
        )
