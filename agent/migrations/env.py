"""Alembic environment of the agent's tables: runs on the connection `agent.db.upgrade`
hands over (no alembic.ini), compared against `agent.tables.metadata`."""

from __future__ import annotations

from agent.db import run_env
from agent.tables import metadata

run_env(metadata)
