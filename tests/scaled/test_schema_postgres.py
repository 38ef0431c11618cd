"""On PostgreSQL too, the migrations of every package create exactly its metadata."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from agent.db import make_engine
from agent.tables import metadata as agent_metadata
from server.config import Settings
from server.db import migrate
from server.tables import metadata as server_metadata
from tests.agent.test_schema import schema_differences

pytestmark = pytest.mark.scaled


def test_migrations_match_the_metadata_on_postgres(scaled_settings: Settings) -> None:
    engine = make_engine(scaled_settings)
    try:
        migrate(engine)
        assert engine.dialect.name == "postgresql"
        assert schema_differences(engine, agent_metadata) == []
        assert schema_differences(engine, server_metadata) == []
        assert "rate_limits" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
