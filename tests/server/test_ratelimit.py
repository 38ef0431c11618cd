"""The SQL-backed limiter: shared counts, sliding window across minute boundaries."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import event

from agent.db import make_engine
from agent.epochs import SQLITE_REUSE_SECONDS
from server.config import Settings
from server.db import migrate
from server.errors import TooManyRequests
from server.ratelimit import LEASE_MIN_LEFT, SYNC_SECONDS, RateLimiter


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limiters() -> tuple[RateLimiter, RateLimiter, Clock]:
    engine = make_engine(Settings())
    migrate(engine)
    clock = Clock(60 * 1000 + 50.0)  # 50 s into a minute
    # two limiters on one database stand for two workers (they share the fake clock for
    # wall time and for the lease's monotonic time)
    return (
        RateLimiter(engine, clock=clock, monotonic=clock),
        RateLimiter(make_engine(Settings()), clock=clock, monotonic=clock),
        clock,
    )


def a_moment_later() -> None:
    """Past the 1 ms in which a worker may reuse an epoch it read (agent/epochs.py)."""
    time.sleep(2 * SQLITE_REUSE_SECONDS)


def request(limiter: RateLimiter, bucket: str, limit: int) -> bool:
    """One request as the server makes it: from the lease if it can, else the shared row."""
    if limiter.try_hit(bucket, limit):
        return True
    try:
        limiter.hit(bucket, limit)
    except TooManyRequests:
        return False
    return True


@pytest.mark.parametrize("limit", [1, 7, 50, 600, LEASE_MIN_LEFT + 100])
def test_two_workers_together_never_exceed_the_limit(
    limiters: tuple[RateLimiter, RateLimiter, Clock], limit: int
) -> None:
    a, b, clock = limiters
    clock.now -= 49  # the start of a minute, so the previous minute weighs nothing
    allowed = sum(request((a, b)[i % 2], "key:k", limit) for i in range(3 * limit))
    assert allowed == limit


def test_far_from_the_limit_requests_are_counted_without_the_shared_row(
    limiters: tuple[RateLimiter, RateLimiter, Clock],
) -> None:
    a, b, clock = limiters
    a.hit("key:busy", 64_000)  # the first request syncs and takes a lease
    local = sum(a.try_hit("key:busy", 64_000) for _ in range(1200))
    assert local == 999  # 1/64 of the 63,999 left; then the next request syncs
    a.hit("key:busy", 64_000)  # 1 + 999 + 1 in the shared row
    assert all(a.try_hit("key:busy", 64_000) for _ in range(10))  # a fresh lease
    clock.now += SYNC_SECONDS  # the lease has lasted long enough: the next request syncs
    assert not a.try_hit("key:busy", 64_000)
    a.hit("key:busy", 64_000)  # + 10 + 1 = 1,012
    # the other worker now sees every request the first one counted
    with pytest.raises(TooManyRequests):
        b.hit("key:busy", 1_012)


def test_near_a_limit_every_request_goes_to_the_shared_row(
    limiters: tuple[RateLimiter, RateLimiter, Clock],
) -> None:
    a, _, _ = limiters
    a.hit("key:small", LEASE_MIN_LEFT)  # fewer than LEASE_MIN_LEFT left after this one
    assert not any(a.try_hit("key:small", LEASE_MIN_LEFT) for _ in range(10))


def test_a_failure_recorded_by_another_worker_is_seen_a_moment_later(
    limiters: tuple[RateLimiter, RateLimiter, Clock],
) -> None:
    a, b, _ = limiters
    assert not a.check_cached("authfail:ip", 3)  # never looked at: must ask the database
    a.check("authfail:ip", 3)
    assert a.check_cached("authfail:ip", 3)  # known and under the limit, from memory
    for _ in range(3):
        b.record("authfail:ip", 3)
    a_moment_later()
    assert not a.check_cached("authfail:ip", 3)  # another worker counted failures
    with pytest.raises(TooManyRequests):
        a.check("authfail:ip", 3)
    with pytest.raises(TooManyRequests):  # now known to be blocked, still from memory
        a.check_cached("authfail:ip", 3)


def test_limit_is_shared_between_workers(limiters: tuple[RateLimiter, RateLimiter, Clock]) -> None:
    a, b, _ = limiters
    for limiter in (a, b, a, b, a):  # 5 hits, spread over both workers
        limiter.hit("key:k1", 5)
    with pytest.raises(TooManyRequests) as err:
        b.hit("key:k1", 5)
    assert err.value.retry_after is not None and err.value.retry_after >= 1
    a.hit("key:other", 5)  # another bucket is unaffected


def test_a_burst_cannot_double_its_allowance_across_a_minute_boundary(
    limiters: tuple[RateLimiter, RateLimiter, Clock],
) -> None:
    a, _, clock = limiters
    for _ in range(10):
        a.hit("key:k2", 10)
    clock.now += 15  # 5 s into the next minute: most of the last 60 s was the full minute
    with pytest.raises(TooManyRequests):
        a.hit("key:k2", 10)
    clock.now += 120  # two minutes later the old counts no longer weigh anything
    a.hit("key:k2", 10)


def test_a_limit_reached_just_before_a_minute_boundary_holds_just_after_it(
    limiters: tuple[RateLimiter, RateLimiter, Clock],
) -> None:
    """20 failures at 0:59.9 still block at 1:00.1 (rounded down, they would weigh 19.97),
    then the allowance comes back evenly: one attempt per 3 s for a limit of 20."""
    a, b, clock = limiters
    clock.now += 9.9  # 59.9 s into the minute
    for _ in range(20):
        b.record("ip:edge", 20)
    for _ in range(10):
        a.hit("key:edge", 10)
    clock.now += 0.2  # 0.1 s into the next minute
    a_moment_later()
    with pytest.raises(TooManyRequests):
        a.check("ip:edge", 20)
    with pytest.raises(TooManyRequests):
        a.hit("key:edge", 10)
    clock.now += 3.0  # 3.1 s in: 20 × 56.9/60 = 18.97 → 19, one attempt is back
    a.check("ip:edge", 20)


def test_failed_auth_check_counts_without_blocking_until_the_limit(
    limiters: tuple[RateLimiter, RateLimiter, Clock],
) -> None:
    a, b, _ = limiters
    for _ in range(3):
        a.check("ip:1", 3)
        b.record("ip:1", 3)
    a_moment_later()
    with pytest.raises(TooManyRequests):
        a.check("ip:1", 3)
    a.check("ip:2", 3)


def test_a_due_lease_is_synced_by_one_request_while_the_others_keep_counting(
    limiters: tuple[RateLimiter, RateLimiter, Clock],
) -> None:
    a, b, clock = limiters
    a.hit("key:hot", 10_000)
    clock.now += SYNC_SECONDS
    assert not a.try_hit("key:hot", 10_000)  # this request is sent to sync the lease…
    assert all(a.try_hit("key:hot", 10_000) for _ in range(20))  # …the rest need not wait
    a.hit("key:hot", 10_000)  # the sync (here after the 20): 1 + 20 + 1 in the shared row
    clock.now += SYNC_SECONDS
    assert not a.try_hit("key:hot", 10_000)
    a.hit("key:hot", 10_000)  # 23 in all
    with pytest.raises(TooManyRequests):
        b.hit("key:hot", 23)


@pytest.mark.parametrize("offset", [0.5, 10.0, 30.0, 59.5])
def test_retry_after_names_the_first_second_a_request_passes(
    limiters: tuple[RateLimiter, RateLimiter, Clock], offset: float
) -> None:
    """21 failed authentications (limit 20): Retry-After says when a valid key gets in,
    not merely when the minute ends (the previous minute still weighs after it)."""
    a, _, clock = limiters
    clock.now = 60 * 2000 + offset
    for _ in range(21):
        a.record("authfail:1.2.3.4", 20)
    a_moment_later()
    with pytest.raises(TooManyRequests) as blocked:
        a.check("authfail:1.2.3.4", 20)
    retry = blocked.value.retry_after
    assert retry is not None and retry >= 1
    start = clock.now
    clock.now = start + retry - 1
    if retry > 1:
        with pytest.raises(TooManyRequests):
            a.check("authfail:1.2.3.4", 20)
    clock.now = start + retry
    a.check("authfail:1.2.3.4", 20)  # passes exactly then


def test_retry_after_for_per_key_traffic(limiters: tuple[RateLimiter, RateLimiter, Clock]) -> None:
    """Two keys with the same history: one probed a second before Retry-After (refused),
    the other exactly at it (passes). A refused request counts, so each is probed once."""
    a, _, clock = limiters
    clock.now = 60 * 3000 + 40.0
    retries = []
    for bucket in ("key:t", "key:u"):
        for _ in range(5):
            a.hit(bucket, 5)
        with pytest.raises(TooManyRequests) as blocked:
            a.hit(bucket, 5)
        retries.append(blocked.value.retry_after)
    assert retries[0] == retries[1] and retries[0] is not None
    start, retry = clock.now, retries[0]
    clock.now = start + retry - 1
    with pytest.raises(TooManyRequests):
        a.hit("key:u", 5)
    clock.now = start + retry
    a.hit("key:t", 5)


def transactions_of(limiter: RateLimiter, work: Callable[[], None]) -> int:
    """How many transactions `work` opens on the limiter's database."""
    begun: list[object] = []

    def count(connection: object) -> None:
        begun.append(connection)

    event.listen(limiter._engine, "begin", count)
    try:
        work()
    finally:
        event.remove(limiter._engine, "begin", count)
    return len(begun)


def test_due_leases_are_synced_together_in_one_transaction(
    limiters: tuple[RateLimiter, RateLimiter, Clock],
) -> None:
    """With many busy keys, one request a second writes every due lease (not one write per
    key, racing for SQLite's write lock), and each key's count reaches the shared row."""
    a, b, clock = limiters
    busy = [f"key:busy-{i}" for i in range(5)]
    for name in busy:
        a.hit(name, 10_000)
    assert all(a.try_hit(name, 10_000) for name in busy)
    clock.now += SYNC_SECONDS
    assert not a.try_hit(busy[0], 10_000)  # sent to sync…
    assert all(a.try_hit(name, 10_000) for name in busy[1:])  # …so the others keep counting
    assert transactions_of(a, lambda: a.hit(busy[0], 10_000)) == 1
    for name in busy:  # 3 each in the shared row: the other worker's next one is the 4th
        with pytest.raises(TooManyRequests):
            b.hit(name, 3)
    assert all(a.try_hit(name, 10_000) for name in busy)  # fresh leases, synced just now


def test_at_a_minute_boundary_busy_leases_roll_over_together(
    limiters: tuple[RateLimiter, RateLimiter, Clock],
) -> None:
    """The first request of a new minute adds every lease's hits to the minute they fell
    in and starts this minute's leases, in two transactions, not one per key."""
    a, b, clock = limiters
    clock.now += 9.5  # 59.5 s into the minute
    busy = [f"key:roll-{i}" for i in range(5)]
    for name in busy:
        a.hit(name, 10_000)  # (each also syncs the others' hits so far)
    assert all(a.try_hit(name, 10_000) for name in busy)  # 2 each in this minute
    clock.now += 1.0  # the next minute
    assert not a.try_hit(busy[0], 10_000)
    assert transactions_of(a, lambda: a.hit(busy[0], 10_000)) == 2
    assert all(a.try_hit(name, 10_000) for name in busy[1:])  # this minute's leases
    for name in busy[1:]:  # the old minute holds 2 (weighing 2 now) + the other's 1 = 3
        with pytest.raises(TooManyRequests):
            b.hit(name, 2)
