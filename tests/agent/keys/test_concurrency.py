"""Concurrent rotations of one key: exactly one wins, the rest get a conflict naming the key.

Every rotation waits (inside `new_secret`, after reading the key and before writing) until
all contenders have read the key, so they truly race for the same version.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from agent.config import AgentSettings
from agent.db import make_engine, migrate
from agent.errors import KeyConflictError
from agent.keys.local import LocalKeyManager
from tests.agent.keys.racing import after, race_rotations, working
from tests.conftest import remember_secret


def test_twenty_threads_rotating_one_key(engine: Engine, settings: AgentSettings) -> None:
    keys = LocalKeyManager(engine, settings)
    record, original = keys.create("alice", "Production")
    remember_secret(original)
    racer = LocalKeyManager(engine, settings, new_secret=after(threading.Barrier(20), 30))
    secrets, conflicts = race_rotations(racer, "alice", record.id, 20)
    for secret in secrets:
        remember_secret(secret)
    assert len(secrets) == 1 and len(conflicts) == 19
    assert all("Production" in str(c) and record.id in str(c) for c in conflicts)
    assert working(keys, [original, *secrets]) == secrets
    assert [e.event for e in keys.audit("alice")].count("rotated") == 1


def _rotate_in_process(data_dir: str, key_id: str, barrier: Any, out: Any) -> None:
    settings = AgentSettings(data_dir=Path(data_dir))
    engine = make_engine(settings)
    migrate(engine)  # both processes migrate at start-up, too
    racer = LocalKeyManager(engine, settings, new_secret=after(barrier, 30))
    try:
        out.put(("secret", racer.rotate("alice", key_id)[1]))
    except KeyConflictError as exc:
        out.put(("conflict", str(exc)))
    finally:
        engine.dispose()


def test_two_processes_rotating_one_key(engine: Engine, settings: AgentSettings) -> None:
    keys = LocalKeyManager(engine, settings)
    record, original = keys.create("alice", "Production")
    remember_secret(original)
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    workers = [
        ctx.Process(
            target=_rotate_in_process, args=(str(settings.data_dir), record.id, barrier, out)
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    secrets = [value for kind, value in results if kind == "secret"]
    for secret in secrets:
        remember_secret(secret)
    assert sorted(kind for kind, _ in results) == ["conflict", "secret"]
    assert "Production" in next(value for kind, value in results if kind == "conflict")
    assert working(keys, [original, *secrets]) == secrets


@pytest.mark.parametrize("workers", [4])
def test_workers_starting_together_migrate_once(settings: AgentSettings, workers: int) -> None:
    engines = [make_engine(settings) for _ in range(workers)]
    start = threading.Barrier(workers)

    def boot(engine: Engine) -> None:
        start.wait(timeout=30)
        migrate(engine)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(boot, engines))
    keys = LocalKeyManager(engines[0], settings)
    record, secret = keys.create("alice", "Production")
    remember_secret(secret)
    assert keys.verify(secret).key_id == record.id
    for engine in engines:
        engine.dispose()
