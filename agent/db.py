"""The relational database every agent/server table lives in, and its migrations.

SQLite file in the data dir by default (WAL, busy timeout, foreign keys), PostgreSQL via
psycopg when `DOCSAGENT_DATABASE_URL` is set. `migrate` runs Alembic `upgrade head` and is
safe when several workers start at once: PostgreSQL serialises on `pg_advisory_lock`,
SQLite on an fcntl lock file next to the database file.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from agent.config import AgentSettings
from agent.errors import BackendError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_IDS = {"migrate": 0x646F6373, "startup": 0x646F6374}  # advisory lock ids ("docs"…)
SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(settings: AgentSettings) -> Engine:
    """An Engine for `settings.sqlalchemy_url` (SQLite gets WAL and a busy timeout).

    SQLite transactions are begun explicitly (`BEGIN`, or `BEGIN IMMEDIATE` on a
    connection with the execution option `sqlite_begin="IMMEDIATE"`) instead of
    pysqlite's implicit ones, so reads inside a transaction see one snapshot.
    Commits are `synchronous=NORMAL` (WAL: never corrupt, but a power cut may lose the
    last commits) except on connections with `sqlite_durable=True` (key changes: a
    revocation must survive a power cut), which commit with `synchronous=FULL`.
    """
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        durable = bool(options.get("sqlite_durable", False))
        # synchronous cannot change inside a transaction: set it per transaction, before BEGIN
        connection.exec_driver_sql(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        mode = options.get("sqlite_begin", "")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


def alembic_config(connection: Connection) -> Config:
    """Alembic configured in code: the scripts ship as package data under agent/migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; concurrent callers run it exactly once."""
    with exclusive(engine, "migrate") as connection:
        command.upgrade(alembic_config(connection), "head")
        connection.commit()


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[Connection]:
    """Hold a cross-process lock named `name` ("migrate" or "startup") for the block.

    Several workers starting together use it to run one-time work once: PostgreSQL's
    advisory lock across hosts, an fcntl lock file next to the SQLite database on one host.
    """
    lock_id = _PG_LOCK_IDS[name]
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
                connection.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        with engine.connect() as connection:
            yield connection
        return
    lock_path = Path(database).with_name(f"{Path(database).name}.{name}.lock")
    try:
        handle = lock_path.open("a")
    except OSError as exc:
        raise BackendError(f"cannot create the migration lock {lock_path}: {exc}") from exc
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
