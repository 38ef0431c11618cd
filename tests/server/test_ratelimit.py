"""The SQL-backed limiter: shared counts, sliding window across minute boundaries."""

from __future__ import annotations

import pytest

from agent.db import make_engine, migrate
from server.config import Settings
from server.errors import TooManyRequests
from server.ratelimit import RateLimiter


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
    # two limiters on one database stand for two workers
    return RateLimiter(engine, clock=clock), RateLimiter(engine, clock=clock), clock


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


def test_failed_auth_check_counts_without_blocking_until_the_limit(
    limiters: tuple[RateLimiter, RateLimiter, Clock],
) -> None:
    a, b, _ = limiters
    for _ in range(3):
        a.check("ip:1", 3)
        b.record("ip:1", 3)
    with pytest.raises(TooManyRequests):
        a.check("ip:1", 3)
    a.check("ip:2", 3)
