"""The agent's tables are defined once (`agent/tables.py`) and its migrations create exactly
them: Alembic's autogenerate comparison of a freshly migrated database with the metadata
finds nothing to add, drop or change, on SQLite here and on PostgreSQL in tests/scaled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from agent.config import AgentSettings
from agent.db import alembic_config, make_engine, migrate, only_tables_of
from agent.tables import metadata


def schema_differences(engine: sa.Engine, target: sa.MetaData) -> list[Any]:
    """What `alembic revision --autogenerate` would write for `target`'s tables."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_name": only_tables_of(target), "compare_type": True}
        )
        return list(compare_metadata(context, target))


def test_migrations_match_the_metadata(tmp_path: Path) -> None:
    engine = make_engine(AgentSettings(data_dir=tmp_path))
    migrate(engine)
    assert schema_differences(engine, metadata) == []
    assert "rate_limits" not in sa.inspect(engine).get_table_names()  # the server's table


def test_a_table_missing_from_the_migrations_is_found(tmp_path: Path) -> None:
    """The comparison sees a drift: a column the metadata has and no migration made."""
    engine = make_engine(AgentSettings(data_dir=tmp_path))
    migrate(engine)
    drifted = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(drifted)
    sa.Table("epochs", drifted, sa.Column("note", sa.Text), extend_existing=True)
    found = schema_differences(engine, drifted)
    assert [(d[0], d[2], d[3].name) for d in found] == [("add_column", "epochs", "note")]


def test_a_database_from_before_the_move_loses_the_servers_table(tmp_path: Path) -> None:
    engine = make_engine(AgentSettings(data_dir=tmp_path))
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), "0004_epochs")
        connection.execute(
            sa.text('CREATE TABLE rate_limits (bucket VARCHAR(160), "window" BIGINT, count INT)')
        )
        connection.commit()
    migrate(engine)
    assert "rate_limits" not in sa.inspect(engine).get_table_names()
    assert schema_differences(engine, metadata) == []
