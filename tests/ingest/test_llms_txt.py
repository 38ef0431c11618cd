"""llms.txt: parse the real index, tolerate junk, render the same shape back."""

from __future__ import annotations

from pathlib import Path

from ingest.llms_txt import LlmsEntry, parse_llms_txt, render_llms_txt
from tests.conftest import CORPUS

LLMS_TXT = CORPUS / "docs.nexos.ai" / "llms.txt"


def test_parses_the_real_index() -> None:
    entries = parse_llms_txt(LLMS_TXT.read_text())
    assert len(entries) == 91
    assert entries[0] == LlmsEntry("Getting started", "https://docs.nexos.ai/readme.md", "", "Docs")
    keys = next(e for e in entries if e.title == "API Keys")
    assert keys.url == "https://docs.nexos.ai/workspace/settings/user-settings/api-keys.md"
    assert entries[1].description.startswith("nexos.ai is a chat interface")
    assert entries[-1].section == "Models"
    assert {e.section for e in entries} == {"Docs", "Changelog", "Models"}
    assert not any("ask=" in e.url for e in entries)  # the footer is not an entry


def test_tolerates_junk_lines() -> None:
    text = (
        "garbage line\n# Site\n\n- not a link\n- [](https://x.io/a.md)\n"
        "* [Star bullet](https://x.io/b.md):   spaced description  \n"
        "-[Tight](https://x.io/c.md)\n[no bullet](https://x.io/d.md)\n## Sec\n"
        "```\n- [In code](https://x.io/e.md)\n```\n- [Broken](\n"
    )
    entries = parse_llms_txt(text)
    assert [(e.title, e.url, e.description) for e in entries] == [
        ("https://x.io/a.md", "https://x.io/a.md", ""),
        ("Star bullet", "https://x.io/b.md", "spaced description"),
        ("Tight", "https://x.io/c.md", ""),
    ]
    assert parse_llms_txt("") == []
    assert parse_llms_txt("\x00\x01 binary-ish [") == []


def test_render_round_trips_and_matches_the_real_shape() -> None:
    real = LLMS_TXT.read_text()
    entries = parse_llms_txt(real)
    rendered = render_llms_txt("nexos.ai documentation", entries, "https://docs.nexos.ai/readme.md")
    assert parse_llms_txt(rendered) == entries
    body, footer = rendered.split("\n\n---\n\n")
    assert real.startswith(body)  # identical up to the footer
    assert "GET https://docs.nexos.ai/readme.md?ask=<question>" in footer
    assert footer.startswith("# Agent Instructions")


def test_render_without_footer_or_sections(tmp_path: Path) -> None:
    entries = [
        LlmsEntry("A [beta]", "https://x.io/a.md", "multi\nline"),
        LlmsEntry("B", "https://x.io/b.md"),
    ]
    text = render_llms_txt("My docs", entries, None)
    assert (
        text
        == "# My docs\n\n- [A [beta\\]](https://x.io/a.md): multi line\n- [B](https://x.io/b.md)\n"
    )
    assert "Agent Instructions" not in text
    assert [e.title for e in parse_llms_txt(text)] == ["A [beta]", "B"]
