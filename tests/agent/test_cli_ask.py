"""`docsagent ask --json` prints the Answer contract; `docsagent chat` asks y/n before a
rotation and shows the new secret once in a panel."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agent.models import Answer
from server.cli import app
from server.config import get_settings
from tests.conftest import remember_secret


def _ingest(docs_cache: Path) -> None:
    from ingest.pipeline import ingest_sync

    ingest_sync(get_settings(), [str(docs_cache)])


def test_ask_json_is_the_answer_contract(docs_cache: Path) -> None:
    _ingest(docs_cache)
    result = CliRunner().invoke(app, ["ask", "--json", "How do I rotate an API key?"])
    assert result.exit_code == 0, result.output
    parsed = Answer.model_validate(json.loads(result.output))
    assert parsed.mode == "local"
    assert parsed.sources[0].url.endswith("#rotate-api-key")


def test_chat_confirms_and_shows_the_secret_once(docs_cache: Path) -> None:
    _ingest(docs_cache)
    lines = "generate a key named 'Laptop'\nrotate the Laptop key\ny\n\n"
    result = CliRunner().invoke(app, ["chat"], input=lines)
    assert result.exit_code == 0, result.output
    assert "Approve? [y/N]" in result.output
    assert "Rotated" in result.output
    secrets = [w for w in result.output.split() if w.startswith("dak_") and "…" not in w]
    for secret in secrets:
        remember_secret(secret)
    assert len(secrets) == 2 and len(set(secrets)) == 2  # each new secret printed exactly once
