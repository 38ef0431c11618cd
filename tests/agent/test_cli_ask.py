"""`docsagent ask --json` prints the Answer contract; `docsagent chat` asks y/n before a
rotation, shows the new secret once in a panel, and a stale yes rotates nothing."""

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
    assert "Approve? [y/N" in result.output
    assert "Rotated" in result.output
    secrets = [w for w in result.output.split() if w.startswith("dak_") and "…" not in w]
    for secret in secrets:
        remember_secret(secret)
    assert len(secrets) == 2 and len(set(secrets)) == 2  # each new secret printed exactly once


def test_chat_a_yes_after_moving_on_rotates_nothing(docs_cache: Path) -> None:
    _ingest(docs_cache)
    lines = (
        "generate a key named 'Laptop'\nplease rotate the Laptop key\n"
        "How do I generate an API key?\nyes\n\n"
    )
    result = CliRunner().invoke(app, ["chat"], input=lines)
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())  # rich wraps long lines
    assert "cancelled the request to rotate the key 'Laptop'" in output
    assert "nothing waiting for your confirmation" in output
    assert "Rotated" not in output
    secrets = [w for w in result.output.split() if w.startswith("dak_") and "…" not in w]
    for secret in secrets:
        remember_secret(secret)
    assert len(secrets) == 1  # the generated key only: nothing was rotated
