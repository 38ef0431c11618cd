"""Verified keys and listings kept in memory: a change made in this process counts at
once; one made by another worker (another key manager with its own engine on the same
database) counts for every request that starts 1 ms after it committed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from agent import epochs
from agent.config import AgentSettings
from agent.db import make_engine
from agent.epochs import SQLITE_REUSE_SECONDS
from agent.errors import AuthenticationError
from agent.keys.local import LocalKeyManager
from tests.agent.keys.conftest import FakeClock, MakeKey, StatementLog
from tests.conftest import remember_secret


@pytest.fixture
def other_worker(settings: AgentSettings, clock: FakeClock) -> Iterator[LocalKeyManager]:
    """A second key manager with its own connection pool, as another process has."""
    engine = make_engine(settings)
    manager = LocalKeyManager(engine, settings, clock=clock)
    yield manager
    manager.close()
    engine.dispose()


def a_moment_later() -> None:
    """Past the window in which a worker reuses an epoch it read without re-checking."""
    time.sleep(2 * SQLITE_REUSE_SECONDS)


def assert_refused(keys: LocalKeyManager, secret: str) -> None:
    """Neither memory nor the database accepts `secret`."""
    assert keys.verify_cached(secret) is None
    with pytest.raises(AuthenticationError):
        keys.verify(secret)


def warm(keys: LocalKeyManager, secret: str) -> None:
    """Verify until the answer comes from memory (the first use is noted, then cached)."""
    keys.verify(secret)
    assert keys.verify_cached(secret) is not None


def test_a_repeated_verification_is_answered_from_memory(
    keys: LocalKeyManager, make_key: MakeKey, statements: StatementLog
) -> None:
    record, secret = make_key()
    warm(keys, secret)
    statements.statements.clear()
    for _ in range(5):
        assert keys.verify(secret).key_id == record.id
        assert keys.verify_cached(secret) is not None
    assert not [s for s in statements.statements if "api_key_secrets" in s]


@pytest.mark.parametrize("change", ["revoke", "disable", "rotate"])
def test_a_change_by_another_worker_refuses_the_cached_key_a_moment_later(
    keys: LocalKeyManager, other_worker: LocalKeyManager, make_key: MakeKey, change: str
) -> None:
    record, secret = make_key()
    warm(keys, secret)
    if change == "revoke":
        other_worker.revoke("alice", record.id)
    elif change == "disable":
        other_worker.update("alice", record.id, enabled=False)
    else:
        _, new_secret = other_worker.rotate("alice", record.id)
        remember_secret(new_secret)
    a_moment_later()
    if change == "rotate":
        assert keys.verify(new_secret).key_id == record.id
    assert_refused(keys, secret)


@pytest.mark.parametrize("change", ["revoke", "rotate"])
def test_a_change_in_this_process_counts_without_delay(
    keys: LocalKeyManager, make_key: MakeKey, change: str
) -> None:
    record, secret = make_key()
    warm(keys, secret)  # no pause after this: well within the 1 ms reuse window
    if change == "revoke":
        keys.revoke("alice", record.id)
    else:
        remember_secret(keys.rotate("alice", record.id)[1])
    assert_refused(keys, secret)


def test_a_cached_key_still_expires_on_time(
    keys: LocalKeyManager, make_key: MakeKey, clock: FakeClock
) -> None:
    _, secret = make_key(expires_at=clock.now + timedelta(minutes=5))
    warm(keys, secret)
    clock.advance(5 * 60)
    assert_refused(keys, secret)


def test_a_rotation_grace_period_ends_for_a_cached_secret(
    keys: LocalKeyManager, make_key: MakeKey, clock: FakeClock
) -> None:
    record, old = make_key()
    _, new = keys.rotate("alice", record.id, grace=60)
    warm(keys, old)
    clock.advance(61)
    assert_refused(keys, old)
    assert keys.verify(new).key_id == record.id


def test_a_listing_shows_another_workers_new_key_soon(
    keys: LocalKeyManager, other_worker: LocalKeyManager, make_key: MakeKey, clock: FakeClock
) -> None:
    make_key("alice", "first")
    assert [r.name for r in keys.list("alice")] == ["first"]
    assert keys.list_cached("alice") is not None
    clock.advance(1)
    remember_secret(other_worker.create("alice", "second")[1])
    a_moment_later()
    assert keys.list_cached("alice") is None
    assert [r.name for r in keys.list("alice")] == ["first", "second"]


def test_a_listing_shows_when_a_key_was_last_used(
    keys: LocalKeyManager, other_worker: LocalKeyManager, make_key: MakeKey
) -> None:
    _, secret = make_key()
    assert keys.list("alice")[0].last_used_at is None
    other_worker.verify(secret)
    other_worker.close()  # writes the noted use, as a worker does at the latest on shutdown
    assert keys.list("alice")[0].last_used_at is not None


def test_another_workers_key_uses_leave_verified_keys_and_other_listings_cached(
    keys: LocalKeyManager,
    other_worker: LocalKeyManager,
    make_key: MakeKey,
    statements: StatementLog,
) -> None:
    """A batch of `last_used_at` writes (about one a second with many active keys) is not
    a key change: this worker keeps its verified keys, and only the listings of the owners
    whose keys were used are read again."""
    _, alice_secret = make_key("alice", "Production")
    _, bob_secret = make_key("bob", "Production")
    warm(keys, alice_secret)
    keys.list("alice")
    keys.list("bob")
    other_worker.verify(bob_secret)
    other_worker.close()  # writes the noted use
    a_moment_later()
    statements.statements.clear()
    assert keys.verify_cached(alice_secret) is not None
    assert keys.list_cached("alice") is not None
    assert keys.list_cached("bob") is None  # bob's listing shows his key's use
    assert keys.list("bob")[0].last_used_at is not None
    assert not [s for s in statements.statements if "api_key_secrets" in s]


def test_a_listing_shows_this_workers_own_use_at_once(
    keys: LocalKeyManager, make_key: MakeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's own batched use is written before its listing and counts at once,
    however long the window in which other workers' changes may go unseen."""
    monkeypatch.setattr(epochs, "SQLITE_REUSE_SECONDS", 60.0)
    _, secret = make_key()
    assert keys.list("alice")[0].last_used_at is None
    keys.verify(secret)
    assert keys.list("alice")[0].last_used_at is not None


def test_garbage_never_reaches_the_cache(keys: LocalKeyManager, make_key: MakeKey) -> None:
    _, secret = make_key()
    warm(keys, secret)
    for guess in ("", "dak_", secret[:-1] + ("A" if secret[-1] != "A" else "B"), "x" * 5000):
        assert_refused(keys, guess)


def test_without_the_epoch_row_nothing_is_cached(
    keys: LocalKeyManager, engine: Engine, make_key: MakeKey
) -> None:
    """A database whose epoch row went missing could never announce a change, so keys are
    then verified against the database every time instead of from memory."""
    record, secret = make_key()
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM epochs"))
    keys.verify(secret)
    assert keys.verify_cached(secret) is None
    keys.revoke("alice", record.id)
    assert_refused(keys, secret)
