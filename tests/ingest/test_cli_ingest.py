"""`docsagent ingest|search|stats` through the real Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.errors import EmbeddingMismatchError
from server.cli import app
from tests.ingest.conftest import API_KEYS_URL

runner = CliRunner()


def test_ingest_search_stats(docs_cache: Path) -> None:
    result = runner.invoke(app, ["ingest"])
    assert result.exit_code == 0, result.output
    assert "new" in result.output and "unchanged" in result.output
    row = result.output.splitlines()
    assert any("│   1 │" in line and "│      6 │" in line for line in row), result.output

    result = runner.invoke(app, ["search", "my key leaked", "-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert len(hits) == 3
    assert hits[0]["anchor_url"] == API_KEYS_URL + "#rotate-api-key"
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]

    result = runner.invoke(app, ["search", "how do I rotate a key"])
    assert result.exit_code == 0
    assert "#rotate-api-key" in result.output.replace("\n", "")

    result = runner.invoke(app, ["stats", "--json"])
    stats = json.loads(result.output)
    assert stats["pages"] == 1 and stats["chunks"] == 6
    assert stats["model"] == "local:all-MiniLM-L6-v2-int8"
    assert stats["store"].endswith("chroma")

    result = runner.invoke(app, ["ingest", "--json"])
    report = json.loads(result.output)
    assert report["unchanged"] == 1 and report["chunks_embedded"] == 0


def test_ingest_lists_failures(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("# Good\n\nFine text.\n")
    missing = tmp_path / "missing.md"
    result = runner.invoke(app, ["ingest", str(tmp_path / "good.md"), str(missing)])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert f"failed {missing}: no such file or directory" in flat


def test_dry_run_leaves_index_empty(docs_cache: Path) -> None:
    result = runner.invoke(app, ["ingest", "--dry-run"])
    assert result.exit_code == 0 and "dry run" in result.output
    assert json.loads(runner.invoke(app, ["stats", "--json"]).output)["chunks"] == 0


def test_search_on_empty_index_says_to_ingest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCSAGENT_CLI_RAISE")
    result = runner.invoke(app, ["search", "anything"])
    assert result.exit_code == 1
    assert "docsagent ingest" in result.output


def test_search_with_another_model_asks_for_rebuild(
    docs_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["ingest"]).exit_code == 0
    monkeypatch.setenv("DOCSAGENT_EMBEDDINGS", "openai:text-embedding-3-small")
    monkeypatch.setenv("DOCSAGENT_EMBEDDINGS_API_KEY", "sk-test")
    result = runner.invoke(app, ["search", "keys"])
    assert isinstance(result.exception, EmbeddingMismatchError)
    assert "--rebuild" in str(result.exception)
