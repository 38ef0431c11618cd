"""Fixtures of the key tests: a migrated SQLite database under tmp_path, a fake clock, and
a local key manager whose every created secret is registered with the log-leak watch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event

from agent.config import AgentSettings
from agent.db import make_engine, migrate
from agent.keys.base import APIKeyRecord
from agent.keys.local import LocalKeyManager
from tests.conftest import remember_secret


class FakeClock:
    """A settable UTC clock."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def settings() -> AgentSettings:
    return AgentSettings()


@pytest.fixture
def engine(settings: AgentSettings) -> Iterator[Engine]:
    engine = make_engine(settings)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keys(engine: Engine, settings: AgentSettings, clock: FakeClock) -> LocalKeyManager:
    return LocalKeyManager(engine, settings, clock=clock)


MakeKey = Callable[..., tuple[APIKeyRecord, str]]


@pytest.fixture
def make_key(keys: LocalKeyManager) -> MakeKey:
    """Create a key (default: alice's 'Production') and register its secret."""

    def make(
        owner: str = "alice", name: str = "Production", **kwargs: Any
    ) -> tuple[APIKeyRecord, str]:
        record, secret = keys.create(owner, name, **kwargs)
        remember_secret(secret)
        return record, secret

    return make


class StatementLog:
    """Every SQL statement an engine runs while attached."""

    def __init__(self, engine: Engine) -> None:
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._record)
        self._engine = engine

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._record)


@pytest.fixture
def statements(engine: Engine) -> Iterator[StatementLog]:
    log = StatementLog(engine)
    yield log
    log.close()
