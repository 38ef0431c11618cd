"""The ingest record: page url → content sha256, title, chunk count, plus a version counter.

It lives where the rest of docsagent's state lives: the database of `DOCSAGENT_DATABASE_URL`
when one is set (so every worker on every host sees the same pages, pending set and index
version), otherwise a small SQLite file `<data_dir>/ingest.sqlite3` (WAL, so readers in
other processes never block). A page's row is marked pending (sha256 = '') before its
chunks are written and finalised after, so a killed ingest leaves rows the next run
recognises as changed or removed, and readers can hide a page while it is rewritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url

from ingest.errors import DocIndexError
from ingest.tables import metadata, models_table, pages_table, versions_table

P, V = pages_table.c, versions_table.c


@dataclass(frozen=True)
class PageRecord:
    url: str
    md_url: str
    title: str
    sha256: str  # '' while pending
    chunks: int


def records_engine(database_url: str, data_dir: Path) -> Engine:
    """The shared database when configured, else `<data_dir>/ingest.sqlite3` (WAL)."""
    if database_url:
        url = make_url(database_url)
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        # no pool: an index is opened by CLI runs, tests and workers alike and rarely closed;
        # pooled connections would outlive it (and hold locks). A record read is one query.
        return sa.create_engine(url, poolclass=sa.pool.NullPool)
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        f"sqlite:///{(data_dir / 'ingest.sqlite3').resolve()}", connect_args={"timeout": 30}
    )

    @sa.event.listens_for(engine, "connect")
    def _wal(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    return engine


class PageRecords:
    """Per-collection page records and the collection's index version."""

    def __init__(self, engine: Engine, collection: str) -> None:
        self.engine = engine
        self.collection = collection
        self.location = engine.url.render_as_string(hide_password=True)
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._insert: Any = insert
        try:
            metadata.create_all(engine)
        except sa.exc.SQLAlchemyError:
            # several workers creating the tables at once: one wins, the rest see them
            if not sa.inspect(engine).has_table(pages_table.name):
                raise

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as db:
                yield db
        except sa.exc.SQLAlchemyError as exc:
            raise DocIndexError(f"ingest record at {self.location} failed: {exc}") from exc

    def all(self) -> dict[str, PageRecord]:
        with self._tx() as db:
            rows = db.execute(
                sa.select(P.url, P.md_url, P.title, P.sha256, P.chunks)
                .where(P.collection == self.collection)
                .order_by(P.url)
            ).all()
        return {row[0]: PageRecord(*row) for row in rows}

    def mark_pending(self, pages: Iterable[tuple[str, str, str]]) -> None:
        """(url, md_url, title) rows → pending, keeping their last known chunk count."""
        rows = [
            {
                "collection": self.collection,
                "url": u,
                "md_url": m,
                "title": t,
                "sha256": "",
                "chunks": 0,
            }
            for u, m, t in pages
        ]
        if not rows:
            return
        stmt = self._insert(pages_table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[P.collection, P.url],
            set_={"sha256": "", "md_url": stmt.excluded.md_url, "title": stmt.excluded.title},
        )
        with self._tx() as db:
            db.execute(stmt, rows)
            self._bump(db)  # readers learn the page is being rewritten (and hide it)

    def finalise(self, records: Iterable[PageRecord]) -> None:
        rows = [
            {
                "collection": self.collection,
                "url": r.url,
                "md_url": r.md_url,
                "title": r.title,
                "sha256": r.sha256,
                "chunks": r.chunks,
            }
            for r in records
        ]
        stmt = self._insert(pages_table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[P.collection, P.url],
            set_={c: getattr(stmt.excluded, c) for c in ("md_url", "title", "sha256", "chunks")},
        )
        with self._tx() as db:
            if rows:
                db.execute(stmt, rows)
            self._bump(db)

    def remove(self, urls: Iterable[str]) -> None:
        urls = list(urls)
        if not urls:
            return
        with self._tx() as db:
            for start in range(0, len(urls), 500):
                db.execute(
                    pages_table.delete().where(
                        P.collection == self.collection, P.url.in_(urls[start : start + 500])
                    )
                )
            self._bump(db)

    def clear(self) -> None:
        with self._tx() as db:
            db.execute(pages_table.delete().where(P.collection == self.collection))
            db.execute(models_table.delete().where(models_table.c.collection == self.collection))
            self._bump(db)

    def pending(self) -> set[str]:
        """Urls of pages whose chunks are being (or were last interruptedly) written."""
        with self._tx() as db:
            rows = db.execute(
                sa.select(P.url).where(P.collection == self.collection, P.sha256 == "")
            ).all()
        return {row[0] for row in rows}

    def chunk_total(self) -> int:
        with self._tx() as db:
            value = db.execute(
                sa.select(sa.func.sum(P.chunks)).where(P.collection == self.collection)
            ).scalar()
        return int(value or 0)

    def built_with(self) -> tuple[str, int] | None:
        """(embedding model, dimension) the collection was written with; None if unrecorded."""
        with self._tx() as db:
            row = db.execute(
                sa.select(models_table.c.model, models_table.c.dimension).where(
                    models_table.c.collection == self.collection
                )
            ).first()
        return (str(row[0]), int(row[1])) if row else None

    def record_model(self, model: str, dimension: int) -> None:
        stmt = self._insert(models_table).values(
            collection=self.collection, model=model, dimension=dimension
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[models_table.c.collection],
            set_={"model": stmt.excluded.model, "dimension": stmt.excluded.dimension},
        )
        with self._tx() as db:
            db.execute(stmt)

    def version(self) -> int:
        with self._tx() as db:
            value = db.execute(sa.select(V.version).where(V.collection == self.collection)).scalar()
        return int(value or 0)

    def _bump(self, db: Connection) -> None:
        stmt = self._insert(versions_table).values(collection=self.collection, version=1)
        db.execute(
            stmt.on_conflict_do_update(
                index_elements=[V.collection], set_={"version": V.version + 1}
            )
        )
