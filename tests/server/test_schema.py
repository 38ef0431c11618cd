"""The server's tables (`server/tables.py`) are created by its own migrations, versioned
apart from the agent's; the autogenerate comparison finds no difference, and a database
migrated before the rate-limit table moved ends up with the same schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from agent.db import alembic_config, make_engine
from agent.tables import metadata as agent_metadata
from server.config import Settings
from server.db import VERSION_TABLE, migrate
from server.errors import TooManyRequests
from server.ratelimit import RateLimiter
from server.tables import metadata
from tests.agent.test_schema import schema_differences


def test_server_migrations_match_the_metadata(tmp_path: Path) -> None:
    engine = make_engine(Settings(data_dir=tmp_path))
    migrate(engine)
    assert schema_differences(engine, metadata) == []
    assert schema_differences(engine, agent_metadata) == []
    assert VERSION_TABLE in sa.inspect(engine).get_table_names()


def test_an_old_database_keeps_working_after_the_move(tmp_path: Path) -> None:
    engine = make_engine(Settings(data_dir=tmp_path))
    with engine.connect() as connection:  # as the agent's 0003 once made it
        command.upgrade(alembic_config(connection), "0004_epochs")
        connection.execute(
            sa.text(
                'CREATE TABLE rate_limits (bucket VARCHAR(160) NOT NULL, "window" BIGINT '
                'NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (bucket, "window"))'
            )
        )
        connection.commit()
    migrate(engine)
    migrate(engine)  # idempotent
    assert schema_differences(engine, metadata) == []
    limiter = RateLimiter(engine)
    try:
        limiter.record("authfail:127.0.0.1", 1)
        with pytest.raises(TooManyRequests):  # the counter was written and read back
            limiter.check("authfail:127.0.0.1", 1)
    finally:
        limiter.close()
