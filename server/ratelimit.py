"""Fixed-window rate limits kept in SQL, so every uvicorn worker shares the same counters.

Two limits, both per minute and both settings (0 = off):
- failed authentication per client address (`rate_limit_failed_auth`): once an address
  has failed that many times in the current minute, every authenticated request from it
  gets 429 with Retry-After until the window ends, even with a valid key;
- normal traffic per key (`rate_limit_per_key`).

One row per (bucket, minute) in `rate_limits`; an upsert increments it atomically.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from server.errors import TooManyRequests, Unavailable

WINDOW_SECONDS = 60

rate_limits_table = sa.Table(
    "rate_limits",
    sa.MetaData(),
    sa.Column("bucket", sa.String(160), primary_key=True),
    sa.Column("window", sa.BigInteger, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)


class RateLimiter:
    """Count hits per bucket and minute; raise TooManyRequests past a limit."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock
        dialect = engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    def _window(self) -> tuple[int, float]:
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        retry_after = max(1.0, math.ceil((window + 1) * WINDOW_SECONDS - now))
        return window, retry_after

    def _increment(self, bucket: str, window: int) -> int:
        table = rate_limits_table
        stmt = (
            self._insert(table)
            .values(bucket=bucket, window=window, count=1)
            .on_conflict_do_update(
                index_elements=[table.c.bucket, table.c.window],
                set_={"count": table.c.count + 1},
            )
            .returning(table.c.count)
        )
        try:
            with self._engine.begin() as conn:
                count = int(conn.execute(stmt).scalar_one())
                if count == 1:  # first hit of a new window: forget old windows of this bucket
                    conn.execute(
                        table.delete().where(table.c.bucket == bucket, table.c.window < window)
                    )
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable("rate-limit store unavailable") from exc
        return count

    def _count(self, bucket: str, window: int) -> int:
        table = rate_limits_table
        try:
            with self._engine.connect() as conn:
                value = conn.execute(
                    sa.select(table.c.count).where(
                        table.c.bucket == bucket, table.c.window == window
                    )
                ).scalar()
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable("rate-limit store unavailable") from exc
        return int(value or 0)

    def hit(self, bucket: str, limit: int) -> None:
        """Count one request in `bucket`; 429 once more than `limit` fall in this minute."""
        if limit <= 0:
            return
        window, retry_after = self._window()
        if self._increment(bucket, window) > limit:
            raise TooManyRequests("too many requests; slow down", retry_after=retry_after)

    def check(self, bucket: str, limit: int) -> None:
        """429 if `bucket` already reached `limit` this minute (does not count)."""
        if limit <= 0:
            return
        window, retry_after = self._window()
        if self._count(bucket, window) >= limit:
            raise TooManyRequests(
                "too many failed authentications; try again later", retry_after=retry_after
            )

    def record(self, bucket: str, limit: int) -> None:
        """Count one event in `bucket` without raising."""
        if limit > 0:
            self._increment(bucket, self._window()[0])
