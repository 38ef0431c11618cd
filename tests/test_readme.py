"""The README is the user's manual: it must name every setting and both entry commands."""

from __future__ import annotations

from server.config import Settings
from tests.conftest import REPO


def test_readme_documents_every_setting_and_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [
        f"DOCSAGENT_{name.upper()}"
        for name in Settings.model_fields
        if f"`DOCSAGENT_{name.upper()}`" not in readme
    ]
    assert not missing, f"README lacks settings: {missing}"
    assert "make run" in readme and "make test" in readme
