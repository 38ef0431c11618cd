"""What lands on disk: digests only, a private pepper, a migrated SQLite database in WAL."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from agent.config import AgentSettings
from agent.db import MIGRATIONS_DIR, make_engine
from agent.errors import AuthenticationError, BackendError
from agent.keys.local import LocalKeyManager
from agent.keys.pepper import load_pepper
from tests.agent.keys.conftest import MakeKey
from tests.conftest import remember_secret


def test_the_database_file_holds_no_secret(
    keys: LocalKeyManager, make_key: MakeKey, engine: Engine, settings: AgentSettings
) -> None:
    created = [make_key("alice", f"key {n}")[1] for n in range(5)]
    record = keys.list("alice")[0]
    _, rotated = keys.rotate("alice", record.id, grace=60)
    created.append(remember_secret(rotated))
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    files = sorted((settings.data_dir).glob("docsagent.db*"))
    blob = b"".join(path.read_bytes() for path in files)
    assert len(blob) > 10_000 and b"key 4" in blob  # the file is readable and has the keys
    for secret in created:
        body = secret[len("dak_") : -6]
        assert secret.encode() not in blob
        assert body.encode() not in blob and body[:16].encode() not in blob


def test_generated_pepper_is_private_and_reused(settings: AgentSettings, engine: Engine) -> None:
    first = LocalKeyManager(engine, settings)
    path = settings.data_dir / "pepper"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    record, secret = first.create("alice", "Production")
    remember_secret(secret)
    # a second process start reads the same pepper, so the key still verifies
    assert LocalKeyManager(engine, settings).verify(secret).key_id == record.id
    assert load_pepper(settings) == path.read_text().strip().encode()


def test_configured_pepper_is_used_and_matters(tmp_path: Path, engine: Engine) -> None:
    settings = AgentSettings(key_pepper="p" * 32, data_dir=tmp_path / "data")
    keys = LocalKeyManager(engine, settings)
    _, secret = keys.create("alice", "Production")
    remember_secret(secret)
    assert not (settings.data_dir / "pepper").exists()
    other = LocalKeyManager(engine, AgentSettings(key_pepper="q" * 32))
    with pytest.raises(AuthenticationError):
        other.verify(secret)  # a stolen database without the pepper is useless


def test_short_pepper_fails_fast() -> None:
    with pytest.raises(BackendError, match="at least 16"):
        load_pepper(AgentSettings(key_pepper="short"))


def test_sqlite_engine_settings(engine: Engine, settings: AgentSettings) -> None:
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert version == head
    assert (settings.data_dir / "docsagent.db").exists()


def test_migrations_chain_starts_at_0001_keys() -> None:
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    base = scripts.get_revision("0001_keys")
    assert base is not None and base.down_revision is None
    assert scripts.get_base() == "0001_keys"


def test_postgresql_urls_use_psycopg() -> None:
    engine = make_engine(AgentSettings(database_url="postgresql://u:p@127.0.0.1:1/db"))
    assert engine.url.drivername == "postgresql+psycopg"
    engine.dispose()
