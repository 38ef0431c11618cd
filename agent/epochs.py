"""Named change counters ("epochs") in the shared database, so each worker can keep what
they guard in memory and still see another worker's change on its very next request.

A writer bumps an epoch in the same transaction as the change it announces (`bump`). A
reader reads the epoch *before* the data it caches and tags the cached value with it;
whenever the epoch differs, the cached value is stale. Epochs: `keys` (any key created,
changed, rotated or revoked), `auth_failures` (a failed authentication counted), and one
`usage_epoch(owner)` per owner (a batch wrote when one of the owner's keys was last used).
Uses are kept out of `keys` on purpose: with many active keys a batch of `last_used_at`
writes lands about every second, and each would throw away every worker's verified keys
and every owner's listing; now it only retires the listings of the owners it touched.
A per-owner row is made by its first bump (`bump_each` upserts); until then it reads -1,
which is a value like any other (the `keys` row, by contrast, must exist: see `read`).

`EpochReader.read` is one primary-key lookup. On SQLite it goes through a raw per-thread
connection (a few microseconds, never blocked by writers under WAL), cheap enough for the
event loop (`inline`); on PostgreSQL it is a round trip and belongs in a worker thread.
On SQLite a value is reused while `PRAGMA data_version` says nobody committed since, and
for at most `SQLITE_REUSE_SECONDS` (1 ms) without even that check, so the several reads
of one request cost one. A change made in this process calls `invalidate()` and counts
at once; another process's change counts for requests that start 1 ms after its commit.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from agent.errors import BackendError
from agent.tables import epochs_table

KEYS = "keys"
AUTH_FAILURES = "auth_failures"

_E = epochs_table.c
_BUMP = sa.update(epochs_table).where(_E.name == sa.bindparam("epoch")).values(value=_E.value + 1)
_READ = sa.select(_E.value).where(_E.name == sa.bindparam("epoch"))
_RAW_READ = "SELECT value FROM epochs WHERE name = ?"
SQLITE_REUSE_SECONDS = 0.001


def bump(connection: Connection, name: str) -> None:
    """Announce a change; call inside the transaction that makes it."""
    connection.execute(_BUMP, {"epoch": name})


def usage_epoch(owner: str) -> str:
    """The epoch an owner's key uses bump (fits the 32-character name column)."""
    return "usage:" + hashlib.sha256(owner.encode()).hexdigest()[:26]


def bump_each(connection: Connection, names: Iterable[str]) -> None:
    """`bump` for epochs whose rows may not exist yet (created at 1), in one statement."""
    rows = [{"name": name, "value": 1} for name in sorted(set(names))]
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(epochs_table)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=[_E.name], set_={"value": epochs_table.c.value + 1}
        ),
        rows,
    )


class EpochReader:
    """Reads epochs of one database; thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        database = engine.url.database or ""
        file_backed = database not in ("", ":memory:") and not database.startswith("file:")
        self._sqlite_path = database if engine.dialect.name == "sqlite" and file_backed else None
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._generation = 0  # bumped by invalidate(): every thread's reuse window ends

    @property
    def inline(self) -> bool:
        """True when `read` is a local file read, fine to call on the event loop."""
        return self._sqlite_path is not None

    def read(self, name: str) -> int:
        """The epoch's current value (-1 if the database predates it)."""
        try:
            if self._sqlite_path is not None:
                return self._read_sqlite(name)
            with self._engine.connect() as connection:
                value = connection.execute(_READ, {"epoch": name}).scalar()
        except (sqlite3.Error, SQLAlchemyError) as exc:
            raise BackendError(f"cannot read the {name} epoch: {type(exc).__name__}") from exc
        return -1 if value is None else int(value)

    def invalidate(self) -> None:
        """This process just committed an epoch bump: stop reusing values read before."""
        self._generation += 1

    def _read_sqlite(self, name: str) -> int:
        local = self._local
        connection: sqlite3.Connection | None = getattr(local, "connection", None)
        if connection is None:
            assert self._sqlite_path is not None
            connection = sqlite3.connect(
                self._sqlite_path, timeout=30, isolation_level=None, check_same_thread=False
            )
            local.connection, local.version, local.values = connection, None, {}
            local.checked_at, local.generation = float("-inf"), -1
            with self._lock:
                self._opened.append(connection)
        now = time.monotonic()
        fresh = now - local.checked_at < SQLITE_REUSE_SECONDS
        if not fresh or local.generation != self._generation:
            # data_version changes whenever another connection commits (this one never
            # writes), so while it stands still every value read through it still holds
            local.generation = self._generation
            version = connection.execute("PRAGMA data_version").fetchone()[0]
            local.checked_at = now
            if version != local.version:
                local.version, local.values = version, {}
        value: int | None = local.values.get(name)
        if value is None:
            row = connection.execute(_RAW_READ, (name,)).fetchone()
            value = local.values[name] = -1 if row is None else int(row[0])
        return value

    def close(self) -> None:
        """Close the per-thread connections (at shutdown)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()
        self._local = threading.local()
