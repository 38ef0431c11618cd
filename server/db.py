"""The server's tables next to the agent's in the one database: `migrate` brings both to
their newest revision (the agent's first; each package keeps its own version table)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from agent import db

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version_server"


def migrate(engine: Engine) -> None:
    """Agent and server tables at their newest revisions; safe from many workers at once."""
    db.migrate(engine)
    db.upgrade(engine, location=MIGRATIONS_DIR, version_table=VERSION_TABLE)
