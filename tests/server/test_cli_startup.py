"""What a terminal user notices at start-up: `--help` and `keys list` do not load the index
or the agent (they used to take 6-8 s), a bad setting names its variable in one line, and
the server's start-up log carries no migration chatter."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.db import make_engine, migrate
from server.cli import app
from server.config import Settings
from server.logging import configure_logging

CLI = (sys.executable, "-c", "from server.cli import main; main()")
HEAVY = ("chromadb", "langchain_core", "langgraph", "onnxruntime", "fastapi", "agent.service")


def _imported_by(argv: list[str], tmp_path: Path) -> set[str]:
    """The heavy modules a `docsagent ARGV` run imports, in a fresh interpreter."""
    code = (
        "import sys\n"
        f"sys.argv = ['docsagent', *{argv!r}]\n"
        "from server.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    return set(done.stderr.strip().splitlines()[-1].split()) if done.stderr.strip() else set()


def test_help_loads_no_heavy_module(tmp_path: Path) -> None:
    assert _imported_by(["--help"], tmp_path) == set()
    assert _imported_by(["keys", "--help"], tmp_path) == set()


def test_keys_list_and_stats_help_load_neither_index_nor_agent(tmp_path: Path) -> None:
    assert _imported_by(["keys", "list"], tmp_path) == set()
    assert _imported_by(["stats", "--help"], tmp_path) == set()


def test_stats_of_an_ingested_index_opens_neither_chroma_nor_the_model(tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text("# Page\n\nSome text.\n\n## Part\n\nMore text.\n")
    ingest = [*CLI, "ingest", str(tmp_path / "page.md")]
    subprocess.run(ingest, capture_output=True, check=True, cwd=tmp_path)
    assert _imported_by(["stats"], tmp_path) == set()
    done = subprocess.run(
        [*CLI, "stats", "--json"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    stats = json.loads(done.stdout)
    assert stats["pages"] == 1 and stats["chunks"] >= 2 and stats["dimension"] == 384
    assert stats["model"] == "local:all-MiniLM-L6-v2-int8" and stats["version"] >= 1


@pytest.mark.parametrize(
    ("value", "says"),
    [("abc", "valid integer"), ("0", "greater than or equal to 1"), ("70000", "65535")],
)
def test_a_bad_port_names_the_variable_in_one_line(
    value: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCSAGENT_CLI_RAISE")
    monkeypatch.setenv("DOCSAGENT_PORT", value)
    result = CliRunner().invoke(app, ["keys", "list"])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert message.startswith(f"error: bad setting (environment or .env): DOCSAGENT_PORT='{value}'")
    assert says in message and "pydantic" not in message and "validation error" not in message


def test_every_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCSAGENT_CLI_RAISE")
    monkeypatch.setenv("DOCSAGENT_KEYS_BACKEND", "vault")
    monkeypatch.setenv("DOCSAGENT_RATE_LIMIT_PER_KEY", "-1")
    result = CliRunner().invoke(app, ["keys", "list"])
    output = " ".join(result.output.split())
    assert result.exit_code == 1 and "DOCSAGENT_RATE_LIMIT_PER_KEY='-1'" in output
    assert "DOCSAGENT_KEYS_BACKEND='vault': Input should be 'local' or 'nexos'" in output


def test_server_start_up_logs_no_migration_chatter(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("INFO")
    settings = Settings(data_dir=tmp_path / "fresh")
    engine = make_engine(settings)
    with caplog.at_level(logging.DEBUG):
        migrate(engine)
    engine.dispose()
    chatter = [r.getMessage() for r in caplog.records if r.name.startswith("alembic")]
    assert chatter == []
