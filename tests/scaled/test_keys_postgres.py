"""The key store on PostgreSQL: the same behaviour as on SQLite, and races between threads,
between processes (as uvicorn workers are) and between migrating workers."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from agent.config import AgentSettings
from agent.db import make_engine
from agent.errors import KeyNotFoundError
from agent.keys.base import KeyManager
from agent.keys.factory import make_key_manager
from agent.keys.local import LocalKeyManager
from server.config import Settings
from server.db import migrate
from server.errors import TooManyRequests
from server.ratelimit import RateLimiter
from tests.agent.keys.racing import after, race_rotations, working
from tests.conftest import remember_secret
from tests.scaled.procs import PEPPER, migrate_in_process, rotate_in_process

pytestmark = pytest.mark.scaled


@pytest.fixture
def engine(scaled_settings: Settings) -> Iterator[sa.Engine]:
    engine = make_engine(scaled_settings)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def keys(scaled_settings: Settings, engine: sa.Engine) -> KeyManager:
    return make_key_manager(scaled_settings, engine=engine)


def test_create_verify_rotate_revoke_on_postgres(keys: KeyManager, engine: sa.Engine) -> None:
    assert engine.dialect.name == "postgresql"
    record, secret = keys.create("alice", "Production")
    remember_secret(secret)
    assert keys.verify(secret).owner == "alice"
    assert secret not in str([r.to_json() for r in keys.list("alice")])

    rotated, new = keys.rotate("alice", record.id)
    remember_secret(new)
    assert rotated.id == record.id and rotated.name == "Production"
    assert working(keys, [secret, new]) == [new]

    with pytest.raises(KeyNotFoundError):
        keys.rotate("bob", record.id)
    short, short_secret = keys.create(
        "alice", "Short", expires_at=datetime.now(UTC) + timedelta(days=1)
    )
    remember_secret(short_secret)
    keys.revoke("alice", record.id)
    assert working(keys, [new, short_secret]) == [short_secret]
    assert [r.name for r in keys.list("alice")] == ["Short"]
    events = [(e.event, e.key_id) for e in keys.audit("alice")]
    assert sorted(events) == sorted(
        [
            ("created", record.id),
            ("rotated", record.id),
            ("created", short.id),
            ("revoked", record.id),
        ]
    )
    with engine.connect() as conn:  # only digests are stored
        dump = str(conn.execute(sa.text("SELECT * FROM api_key_secrets")).all())
        dump += str(conn.execute(sa.text("SELECT * FROM api_keys")).all())
    assert secret not in dump and new not in dump and short_secret not in dump


def test_twenty_threads_rotating_one_key(
    keys: KeyManager, engine: sa.Engine, scaled_settings: Settings
) -> None:
    record, original = keys.create("alice", "Production")
    remember_secret(original)
    racer = LocalKeyManager(engine, scaled_settings, new_secret=after(threading.Barrier(20)))
    secrets, conflicts = race_rotations(racer, "alice", record.id, 20)
    secrets = [remember_secret(s) for s in secrets]
    assert len(secrets) == 1 and len(conflicts) == 19
    assert all(record.id in str(c) for c in conflicts)
    assert working(keys, [original, *secrets]) == secrets
    assert [e.event for e in keys.audit("alice")].count("rotated") == 1


def test_four_processes_rotating_one_key(keys: KeyManager, pg_url: str) -> None:
    record, original = keys.create("alice", "Production")
    remember_secret(original)
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    procs = [
        ctx.Process(target=rotate_in_process, args=(pg_url, record.id, barrier, out))
        for _ in range(4)
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    secrets = [remember_secret(value) for kind, value in results if kind == "secret"]
    assert sorted(kind for kind, _ in results) == ["conflict"] * 3 + ["secret"]
    assert working(keys, [original, *secrets]) == secrets


def test_four_processes_migrating_a_fresh_database_at_once(pg_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=migrate_in_process, args=(pg_url, barrier, out)) for _ in range(4)]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    assert results == ["ok"] * 4
    engine = make_engine(AgentSettings(database_url=pg_url))
    try:
        with engine.connect() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
            tables = set(sa.inspect(conn).get_table_names())
        assert len(versions) == 1
        assert {"api_keys", "api_key_secrets", "alembic_version", "rate_limits"} <= tables
        keys = make_key_manager(
            AgentSettings(database_url=pg_url, key_pepper=PEPPER), engine=engine
        )
        record, secret = keys.create("alice", "after-migration")
        assert keys.verify(remember_secret(secret)).key_id == record.id
    finally:
        engine.dispose()


def test_cached_keys_and_leased_limits_across_two_workers_on_postgres(
    keys: KeyManager, engine: sa.Engine, scaled_settings: Settings
) -> None:
    """On PostgreSQL the epochs are read on every request: a revocation by one worker is
    refused by another at once, and two workers' rate-limit leases never add up to more
    than the limit."""
    other_engine = make_engine(scaled_settings)
    other = make_key_manager(scaled_settings, engine=other_engine)
    try:
        record, secret = keys.create("alice", "Production")
        remember_secret(secret)
        for _ in range(3):
            assert keys.verify(secret).owner == "alice"
        assert [r.name for r in keys.list("alice")] == ["Production"]
        assert keys.list("alice")[0].last_used_at is not None  # written first: a new epoch row
        spare, spare_secret = keys.create("alice", "Spare")
        assert keys.list("alice")[1].last_used_at is None  # cached now
        other.verify(remember_secret(spare_secret))
        other.close()  # another batch for alice: the usage epoch row is bumped in place
        assert keys.list("alice")[1].last_used_at is not None
        keys.revoke("alice", spare.id)
        other.create("alice", "Second")
        assert [r.name for r in keys.list("alice")] == ["Production", "Second"]
        other.revoke("alice", record.id)
        assert working(keys, [secret]) == []  # no pause: zero delay on PostgreSQL

        limiters = [RateLimiter(engine), RateLimiter(other_engine)]
        allowed = 0
        for i in range(60):
            limiter = limiters[i % 2]
            if limiter.try_hit("key:pg", 25):
                allowed += 1
                continue
            try:
                limiter.hit("key:pg", 25)
                allowed += 1
            except TooManyRequests:
                pass
        assert allowed <= 25  # (≤, not ==: a minute boundary may fall inside the loop)
        limiters[0].check("authfail:pg", 2)
        for _ in range(2):
            limiters[1].record("authfail:pg", 2)
        with pytest.raises(TooManyRequests):
            limiters[0].check("authfail:pg", 2)
    finally:
        other.close()
        other_engine.dispose()
