"""The relational database every agent/server table lives in, and its migrations.

SQLite file in the data dir by default (WAL, busy timeout, foreign keys), PostgreSQL via
psycopg when `DOCSAGENT_DATABASE_URL` is set. Each package's tables live in one metadata
module (`agent/tables.py`, `server/tables.py`) with its own Alembic scripts and version
table; `upgrade` runs one package's `upgrade head` and is safe when several workers start
at once: PostgreSQL serialises on `pg_advisory_lock`, SQLite on an fcntl lock file next to
the database file. `migrate` is the agent's; `server.db.migrate` runs both.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url

from agent.config import AgentSettings
from agent.errors import BackendError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
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


def alembic_config(
    connection: Connection, *, location: Path = MIGRATIONS_DIR, version_table: str = VERSION_TABLE
) -> Config:
    """Alembic configured in code: the scripts ship as package data (`location`), each
    package's migrations keep their own version table."""
    config = Config()
    config.set_main_option("script_location", str(location))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = version_table
    return config


def only_tables_of(metadata: MetaData) -> Callable[[str | None, str, Any], bool]:
    """An Alembic `include_name` hook: compare only `metadata`'s tables, so another
    package's tables in a shared database are never taken for ones to drop."""

    def include(name: str | None, type_: str, _parents: Any) -> bool:
        return type_ != "table" or name in metadata.tables

    return include


def run_env(metadata: MetaData) -> None:
    """The body of every `env.py`: run the migrations on the connection `upgrade` hands over."""
    from alembic import context

    attributes = context.config.attributes
    connection = attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through agent.db.upgrade(engine, ...)")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=attributes["version_table"],
        include_name=only_tables_of(metadata),
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def upgrade(engine: Engine, *, location: Path, version_table: str) -> None:
    """Bring one package's tables to its newest revision; concurrent callers run it once."""
    with exclusive(engine, "migrate") as connection:
        config = alembic_config(connection, location=location, version_table=version_table)
        command.upgrade(config, "head")
        connection.commit()


def migrate(engine: Engine) -> None:
    """The agent's tables (`agent.tables.metadata`) at the newest revision."""
    upgrade(engine, location=MIGRATIONS_DIR, version_table=VERSION_TABLE)


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
