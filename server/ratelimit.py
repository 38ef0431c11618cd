"""Sliding-window rate limits kept in SQL, so every uvicorn worker shares the same counters,
with just enough kept in memory that the common request touches no table.

Two limits, both per minute and both settings (0 = off):
- failed authentication per client address (`rate_limit_failed_auth`): once an address
  has failed that many times in the last minute, every authenticated request from it
  gets 429 with Retry-After, even with a valid key;
- normal traffic per key (`rate_limit_per_key`).

One row per (bucket, minute) in `rate_limits`; an upsert increments it atomically. The
count that is compared with a limit is the sliding-window estimate `current + ⌈previous ×
share of the previous minute still inside the last 60 s⌉`, so a burst cannot double its
allowance by straddling a minute boundary, and a limit reached just before a boundary still
holds just after it (rounded down, 20 failures at 0:59.9 would weigh 19.97 at 1:00.1). The
allowance then comes back evenly over the next minute, a limit's 60th each second.

In memory:
- Per-key traffic is counted against a lease, but only far from the limit: while the
  shared row (as of this worker's last sync) leaves at least LEASE_MIN_LEFT (4,096)
  requests, a worker counts up to 1/64 of what is left on its own, for at most a second,
  then adds them to the shared row and reads the total back. Leases sync together: when
  one falls due, one request is sent to sync, and it writes every lease of this worker
  with hits to add in one transaction (at a minute boundary, two), so 100 busy keys cost
  one write a second, not 100 racing for SQLite's write lock (its busy handler sleeps up
  to 100 ms). Any limit of 4,096 a minute or less (the default is 600) is therefore
  exact across workers: every request syncs.
  Above that, a burst that spends most of the limit within one second may overshoot by at
  most 1/64 of the limit per other worker; a crashed worker forgets its unsynced hits.
- Failed-auth counts are remembered per address, tagged with the `auth_failures` epoch
  (`agent/epochs.py`) that every recorded failure bumps: while no authentication failed
  anywhere, an address's state is known without reading its row.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from agent.bounded import put_bounded
from agent.epochs import AUTH_FAILURES, EpochReader, bump
from agent.errors import BackendError
from server.errors import TooManyRequests, Unavailable
from server.tables import rate_limits_table

WINDOW_SECONDS = 60
LEASE_MIN_LEFT = 4096  # count locally only while at least this many requests are left
LEASE_SHARE = 64  # …and at most 1/LEASE_SHARE of them between syncs
SYNC_SECONDS = 1.0  # …and for at most this long
MAX_TRACKED = 10_000  # buckets remembered in memory (oldest forgotten first)

_T = rate_limits_table.c


@dataclass
class _Lease:
    """A bucket's shared counts at the last sync, plus hits counted here since."""

    window: int
    shared: int
    previous: int
    unsynced: int
    synced_at: float
    syncing: bool = False  # one request is syncing it; the others keep counting meanwhile


@dataclass(frozen=True)
class _Known:
    """A failed-auth bucket's counts read at `epoch` (valid while the epoch is unchanged)."""

    epoch: int
    window: int
    current: int
    previous: int

    def at(self, window: int) -> tuple[int, int]:
        """(current, previous) counts for `window`, rolled forward from when they were read."""
        if window == self.window:
            return self.current, self.previous
        return (0, self.current) if window == self.window + 1 else (0, 0)


def _estimate(current: int, previous: int, weight: float) -> int:
    """Requests in the last 60 s: this minute's plus the previous minute's share, rounded up
    (to 9 places first, so float noise on an exact share does not add one)."""
    return current + math.ceil(round(previous * weight, 9))


def _weight(now: float, window: int) -> float:
    """The share of window `window - 1` still inside the 60 s before `now`."""
    return 1.0 - (now - window * WINDOW_SECONDS) / WINDOW_SECONDS


def first_pass(now: float, current: int, previous: int, limit: int) -> int:
    """Retry-After: whole seconds from `now` to the first moment a request passes, given
    this window's and the previous window's counts (a request passes while the estimate
    stays under `limit`; it counts itself, so the estimate before it must be < limit)."""
    window = int(now // WINDOW_SECONDS)
    for seconds in range(1, 3 * WINDOW_SECONDS + 1):
        later = now + seconds
        at = int(later // WINDOW_SECONDS)
        counts = (current, previous) if at == window else (0, current if at == window + 1 else 0)
        if _estimate(*counts, _weight(later, at)) < limit:
            return seconds
    return 3 * WINDOW_SECONDS


class RateLimiter:
    """Count hits per bucket and minute; raise TooManyRequests past a limit. Thread-safe."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._monotonic = monotonic
        dialect = engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self._epochs = EpochReader(engine)
        self._leases: dict[str, _Lease] = {}
        self._known: dict[str, _Known] = {}
        self._lock = threading.Lock()
        self._sync_sent = False  # a request is on its way to sync every due lease

    def close(self) -> None:
        self._epochs.close()

    # -- per-key traffic ---------------------------------------------------------------

    def try_hit(self, bucket: str, limit: int) -> bool:
        """Count one request from memory if the lease allows; False (nothing counted)
        when the shared counter must decide: then call `hit`. Never blocks. When a lease
        is due for its sync, one request is sent to sync it and the rest keep counting."""
        if limit <= 0:
            return True
        window, _, weight = self._window()
        with self._lock:
            lease = self._leases.get(bucket)
            if lease is None or lease.window != window:
                return False
            left = limit - _estimate(lease.shared, lease.previous, weight)
            if left < LEASE_MIN_LEFT or lease.unsynced + 1 > left / LEASE_SHARE:
                return False
            if not self._sync_sent and self._due(lease, self._monotonic()):
                self._sync_sent = lease.syncing = True  # this request syncs them all
                return False
            lease.unsynced += 1
            return True

    @staticmethod
    def _due(lease: _Lease, now: float) -> bool:
        return not lease.syncing and now - lease.synced_at >= SYNC_SECONDS

    def hit(self, bucket: str, limit: int) -> None:
        """Count one request in `bucket` (and any hits leased since the last sync) in the
        shared counter, syncing with it every other lease that has hits to add (one of an
        older minute adds them to that minute and starts this one); 429 once more than
        `limit` fall in the last minute."""
        if limit <= 0:
            return
        window, now, weight = self._window()
        with self._lock:
            lease = self._leases.get(bucket)
            sender = lease is not None and lease.syncing  # try_hit sent this request
            # every lease with hits to add rides along, due or not yet: then they all fall
            # due together again, and one request a second syncs them all
            riding = {
                name: other
                for name, other in self._leases.items()
                if other.unsynced > 0 and not other.syncing and name != bucket
            }
            if lease is not None:
                riding[bucket] = lease
            taken = {name: (other.window, other.unsynced) for name, other in riding.items()}
            for other in riding.values():
                other.unsynced, other.syncing = 0, True
        earlier: dict[int, dict[str, int]] = {}  # hits of older minutes, by minute
        for name, (seen, count) in taken.items():
            if seen != window and count:
                earlier.setdefault(seen, {})[name] = count
        now_counts = {name: 0 if seen != window else count for name, (seen, count) in taken.items()}
        now_counts[bucket] = now_counts.get(bucket, 0) + 1
        try:
            for minute, counts in earlier.items():
                self._increment_many(minute, counts)
            totals = self._increment_many(window, now_counts)
        except Unavailable:
            with self._lock:  # keep the hits for the next sync
                for name, (_, count) in taken.items():
                    if (kept := self._leases.get(name)) is not None:
                        kept.unsynced += count
                        kept.syncing = False
                self._sync_sent = self._sync_sent and not sender
            raise
        with self._lock:
            now = self._monotonic()
            for name, (current, previous) in totals.items():
                kept = self._leases.get(name)
                if kept is None or kept.window != window:
                    fresh = _Lease(window, current, previous, 0, now)
                    put_bounded(self._leases, name, fresh, MAX_TRACKED)
                else:  # hits counted here during the sync stay in `unsynced`
                    kept.shared, kept.previous = current, previous
                    kept.synced_at, kept.syncing = now, False
            if sender:
                self._sync_sent = False
        current, previous = totals[bucket]
        if _estimate(current, previous, weight) > limit:
            raise TooManyRequests(
                "too many requests; slow down",
                retry_after=first_pass(now, current, previous, limit),
            )

    # -- failed authentication ---------------------------------------------------------

    def check_cached(self, bucket: str, limit: int) -> bool:
        """True when memory shows `bucket` under `limit`; 429 when it shows it at the limit;
        False when only `check` can tell. Never blocks (one local epoch read at most)."""
        if limit <= 0:
            return True
        if not self._epochs.inline:
            return False
        window, now, weight = self._window()
        counts = self._known_counts(bucket, self._read_epoch(), window)
        if counts is None:
            return False
        self._raise_if_reached(counts, weight, limit, now)
        return True

    def check(self, bucket: str, limit: int) -> None:
        """429 if `bucket` already reached `limit` in the last minute (does not count)."""
        if limit <= 0:
            return
        epoch = self._read_epoch()  # before the counts: a failure in between bumps it
        window, now, weight = self._window()
        counts = self._known_counts(bucket, epoch, window)
        if counts is None:
            counts = self._count(bucket, window)
            with self._lock:
                put_bounded(self._known, bucket, _Known(epoch, window, *counts), MAX_TRACKED)
        self._raise_if_reached(counts, weight, limit, now)

    def _known_counts(self, bucket: str, epoch: int, window: int) -> tuple[int, int] | None:
        """(current, previous) failures of `bucket` from memory, if no failure was recorded
        anywhere since they were read (the epoch is unchanged); else None."""
        with self._lock:
            known = self._known.get(bucket)
        if known is None or epoch < 0 or known.epoch != epoch:
            return None
        return known.at(window)

    def record(self, bucket: str, limit: int) -> None:
        """Count one failure in `bucket` without raising, and announce it to every worker."""
        if limit > 0:
            self._increment(bucket, self._window()[0], 1, announce=AUTH_FAILURES)
            self._epochs.invalidate()

    # -- the shared counters -----------------------------------------------------------

    @staticmethod
    def _raise_if_reached(counts: tuple[int, int], weight: float, limit: int, now: float) -> None:
        if _estimate(*counts, weight) >= limit:
            raise TooManyRequests(
                "too many failed authentications; try again later",
                retry_after=first_pass(now, *counts, limit),
            )

    def _read_epoch(self) -> int:
        try:
            return self._epochs.read(AUTH_FAILURES)
        except BackendError as exc:
            raise Unavailable("rate-limit store unavailable") from exc

    def _window(self) -> tuple[int, float, float]:
        """(current window, now, weight of the previous window)."""
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        return window, now, _weight(now, window)

    @staticmethod
    def _previous(conn: sa.Connection, buckets: list[str], window: int) -> dict[str, int]:
        """The previous window's counts of `buckets` (absent ones are 0)."""
        rows = conn.execute(
            sa.select(_T.bucket, _T.count).where(_T.bucket.in_(buckets), _T.window == window - 1)
        )
        return {bucket: int(count) for bucket, count in rows}

    def _increment(
        self, bucket: str, window: int, amount: int, *, announce: str | None = None
    ) -> tuple[int, int]:
        """Add `amount` hits; (this window's count, the previous window's count)."""
        return self._increment_many(window, {bucket: amount}, announce=announce)[bucket]

    def _increment_many(
        self, window: int, amounts: dict[str, int], *, announce: str | None = None
    ) -> dict[str, tuple[int, int]]:
        """Add hits to several buckets in one transaction; per bucket (this window's
        count, the previous window's count)."""
        counts: dict[str, int] = {}
        try:
            with self._engine.begin() as conn:
                for bucket, amount in amounts.items():
                    stmt = (
                        self._insert(rate_limits_table)
                        .values(bucket=bucket, window=window, count=amount)
                        .on_conflict_do_update(
                            index_elements=[_T.bucket, _T.window],
                            set_={"count": _T.count + amount},
                        )
                        .returning(_T.count)
                    )
                    counts[bucket] = int(conn.execute(stmt).scalar_one())
                    if counts[bucket] == amount:  # a new window: drop windows before the last
                        conn.execute(
                            rate_limits_table.delete().where(
                                _T.bucket == bucket, _T.window < window - 1
                            )
                        )
                previous = self._previous(conn, list(amounts), window)
                if announce is not None:
                    bump(conn, announce)
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable("rate-limit store unavailable") from exc
        return {bucket: (count, previous.get(bucket, 0)) for bucket, count in counts.items()}

    def _count(self, bucket: str, window: int) -> tuple[int, int]:
        try:
            with self._engine.connect() as conn:
                value = conn.execute(
                    sa.select(_T.count).where(_T.bucket == bucket, _T.window == window)
                ).scalar()
                previous = self._previous(conn, [bucket], window).get(bucket, 0)
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable("rate-limit store unavailable") from exc
        return int(value or 0), previous
