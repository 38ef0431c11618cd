"""Process targets for the scaled tests: importable without chromadb or the server, so
spawned processes start in a second instead of re-importing the whole stack."""

from __future__ import annotations

from typing import Any

from agent.config import AgentSettings
from agent.db import make_engine, migrate
from agent.errors import KeyConflictError
from agent.keys.local import LocalKeyManager
from tests.agent.keys.racing import after

PEPPER = "scaled-tests-pepper-" + "x" * 16  # every process of a test shares it


def rotate_in_process(database_url: str, key_id: str, barrier: Any, out: Any) -> None:
    settings = AgentSettings(database_url=database_url, key_pepper=PEPPER)
    engine = make_engine(settings)
    try:
        migrate(engine)  # every worker migrates at start-up, too
        racer = LocalKeyManager(engine, settings, new_secret=after(barrier))
        out.put(("secret", racer.rotate("alice", key_id)[1]))
    except KeyConflictError as exc:
        out.put(("conflict", str(exc)))
    finally:
        engine.dispose()


def migrate_in_process(database_url: str, barrier: Any, out: Any) -> None:
    from server.db import migrate as migrate_all  # both packages' tables, as a worker does

    engine = make_engine(AgentSettings(database_url=database_url))
    try:
        barrier.wait(timeout=60)
        migrate_all(engine)
        out.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the test
        out.put(f"{type(exc).__name__}: {exc}")
    finally:
        engine.dispose()
