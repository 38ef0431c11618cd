"""Sliding-window rate limits kept in SQL, so every uvicorn worker shares the same counters.

Two limits, both per minute and both settings (0 = off):
- failed authentication per client address (`rate_limit_failed_auth`): once an address
  has failed that many times in the current minute, every authenticated request from it
  gets 429 with Retry-After until the window ends, even with a valid key;
- normal traffic per key (`rate_limit_per_key`).

One row per (bucket, minute) in `rate_limits`; an upsert increments it atomically. The
count that is compared with a limit is the sliding-window estimate `current + previous ×
(share of the previous minute still inside the last 60 s)`, so a burst cannot double
its allowance by straddling a minute boundary.
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

    def _window(self) -> tuple[int, float, float]:
        """(current window, Retry-After seconds, weight of the previous window)."""
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        retry_after = max(1.0, math.ceil((window + 1) * WINDOW_SECONDS - now))
        previous_weight = 1.0 - (now - window * WINDOW_SECONDS) / WINDOW_SECONDS
        return window, retry_after, previous_weight

    def _previous(self, conn: sa.Connection, bucket: str, window: int) -> int:
        table = rate_limits_table
        value = conn.execute(
            sa.select(table.c.count).where(table.c.bucket == bucket, table.c.window == window - 1)
        ).scalar()
        return int(value or 0)

    def _increment(self, bucket: str, window: int) -> tuple[int, int]:
        """Count one hit; (this window's count, the previous window's count)."""
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
                if count == 1:  # first hit of a new window: forget windows before the previous
                    conn.execute(
                        table.delete().where(table.c.bucket == bucket, table.c.window < window - 1)
                    )
                previous = self._previous(conn, bucket, window)
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable("rate-limit store unavailable") from exc
        return count, previous

    def _count(self, bucket: str, window: int) -> tuple[int, int]:
        table = rate_limits_table
        try:
            with self._engine.connect() as conn:
                value = conn.execute(
                    sa.select(table.c.count).where(
                        table.c.bucket == bucket, table.c.window == window
                    )
                ).scalar()
                previous = self._previous(conn, bucket, window)
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable("rate-limit store unavailable") from exc
        return int(value or 0), previous

    def hit(self, bucket: str, limit: int) -> None:
        """Count one request in `bucket`; 429 once more than `limit` fall in this minute."""
        if limit <= 0:
            return
        window, retry_after, weight = self._window()
        current, previous = self._increment(bucket, window)
        if current + previous * weight > limit:
            raise TooManyRequests("too many requests; slow down", retry_after=retry_after)

    def check(self, bucket: str, limit: int) -> None:
        """429 if `bucket` already reached `limit` this minute (does not count)."""
        if limit <= 0:
            return
        window, retry_after, weight = self._window()
        current, previous = self._count(bucket, window)
        if current + previous * weight >= limit:
            raise TooManyRequests(
                "too many failed authentications; try again later", retry_after=retry_after
            )

    def record(self, bucket: str, limit: int) -> None:
        """Count one event in `bucket` without raising."""
        if limit > 0:
            self._increment(bucket, self._window()[0])
