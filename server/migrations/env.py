"""Alembic environment of the server's tables: runs on the connection `agent.db.upgrade`
hands over, compared against `server.tables.metadata`, versioned in its own table."""

from __future__ import annotations

from agent.db import run_env
from server.tables import metadata

run_env(metadata)
