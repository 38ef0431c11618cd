"""parse_page on the real API Keys page, the page envelope, decode_page and malformed input."""

from __future__ import annotations

import re

import pytest

from ingest.errors import ParseError
from ingest.parse import decode_page, parse_page
from tests.conftest import API_KEYS_MD

PAGE_URL = "https://docs.nexos.ai/workspace/settings/user-settings/api-keys"
TAG_RE = re.compile(r"\{%|%\}|<[A-Za-z/][^<>]*>")
STEP_TITLES = [
    "Create your API key",
    "Generate a key",
    "Name the key and generate",
    "Save your API Key",
    "Rotate API key",
]


@pytest.fixture(autouse=True)
def _quiet_markdown_it(caplog: pytest.LogCaptureFixture) -> None:
    """markdown-it logs every block rule at DEBUG; the session log watch need not keep it."""
    caplog.set_level("INFO", logger="markdown_it")


def test_api_keys_page_has_title_intro_and_five_steps() -> None:
    page = parse_page(API_KEYS_MD.read_text(), PAGE_URL + ".md")
    assert (page.url, page.md_url, page.title) == (PAGE_URL, PAGE_URL + ".md", "API Keys")
    steps = [s for s in page.sections if s.step]
    assert [s.title for s in steps] == STEP_TITLES
    assert [s.step for s in steps] == [(n, 5) for n in range(1, 6)]
    rotate = steps[-1]
    assert rotate.anchor == "rotate-api-key"
    assert rotate.path == ["API Keys", "How to generate your API key", "Rotate API key"]
    assert "old key will stop working" in rotate.text
    assert rotate.meta["images"][0]["src"] == "/files/AONsuENveSXYRcyaDGWL"
    generate = next(s for s in page.sections if s.title == "How to generate your API key")
    assert generate.text == "You need an API key to make API requests from your own tool or app."
    assert page.warnings == []


def test_api_keys_footer_is_metadata_not_content() -> None:
    page = parse_page(API_KEYS_MD.read_text(), PAGE_URL)
    assert page.meta["supports_ask"] is True
    assert page.meta["ask_url"] == PAGE_URL + ".md"
    for section in page.sections:
        assert "Agent Instructions" not in section.title
        assert "ask" not in section.text.lower().split()
        assert "query parameter" not in section.text
        assert not TAG_RE.search(section.text), section.text


def test_llms_txt_pointer_line_is_metadata() -> None:
    md = (
        "> For the complete documentation index, see [llms.txt](https://d.io/llms.txt)\n\n"
        "# Page\n\nBody."
    )
    page = parse_page(md, "https://d.io/page")
    assert page.meta["llms_txt"] == "https://d.io/llms.txt"
    assert page.title == "Page"
    assert all("llms" not in s.text for s in page.sections)
    assert page.sections[0].text == "Body."


def test_front_matter_gives_description_and_meta() -> None:
    md = "---\ndescription: Manage keys.\nicon: key\n---\n\n# Keys\n\nText."
    page = parse_page(md, "https://d.io/keys.md")
    assert page.description == "Manage keys."
    assert page.meta["front_matter"]["icon"] == "key"
    assert "icon" not in page.sections[0].text


def test_invalid_front_matter_is_kept_as_text_with_warning() -> None:
    page = parse_page("---\nkey: [unclosed\n---\n\n# T\n\nBody.", "https://d.io/t")
    assert any("front matter" in w for w in page.warnings)
    assert "unclosed" in " ".join(s.title + " " + s.text for s in page.sections)


def test_title_falls_back_to_the_url_when_there_is_no_h1() -> None:
    page = parse_page("## Only a subheading\n\nText.", "https://d.io/guides/getting-started")
    assert page.title == "Getting started"
    assert page.sections[1].path == ["Getting started", "Only a subheading"]


def test_duplicate_headings_get_unique_anchors() -> None:
    page = parse_page("# T\n## Usage\na\n## Usage\nb\n## Usage!\nc", "https://d.io/t")
    assert [s.anchor for s in page.sections[1:]] == ["usage", "usage-1", "usage-2"]


def test_anchor_slugs_follow_gitbook() -> None:
    page = parse_page("# T\n## What's new — v2.0 (beta)?\nx", "https://d.io/t")
    assert page.sections[1].anchor == "what-s-new-v2-0-beta"


def test_decode_page_accepts_utf8_with_bom() -> None:
    assert decode_page("\ufeff# Ünïcode".encode()) == "# Ünïcode"


@pytest.mark.parametrize(
    "data",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"caf\xe9 latin-1 text", bytes(range(1, 32)) * 20],
)
def test_decode_page_rejects_binary_garbage(data: bytes) -> None:
    with pytest.raises(ParseError, match=r"binary|UTF-8"):
        decode_page(data)


def test_empty_page_is_a_clear_outcome() -> None:
    page = parse_page("", "https://d.io/empty")
    assert page.warnings == ["empty page: no text to index"]
    assert [s.text for s in page.sections] == [""]


def test_unclosed_tag_keeps_text_and_warns() -> None:
    md = '# T\n\n{% hint style="danger" %}\nDanger text never closed.\n\n## Next\n\nAfter.'
    page = parse_page(md, "https://d.io/t")
    assert page.sections[0].text == "> **Danger:** Danger text never closed."
    assert page.sections[1].text == "After."
    assert any("has no {% endhint %}" in w for w in page.warnings)


def test_stray_end_tag_is_ignored_with_a_warning() -> None:
    page = parse_page("# T\n\nBefore.\n{% endstep %}\nAfter stray.", "https://d.io/t")
    assert page.sections[0].text == "Before.\nAfter stray."
    assert page.warnings == ["stray {% endstep %} without a matching opening tag: ignored"]


def test_crossed_tags_keep_every_word() -> None:
    md = "# T\n{% tabs %}{% hint %}first words{% endtabs %} second words {% endhint %}"
    page = parse_page(md, "https://d.io/t")
    assert "first words" in page.sections[0].text
    assert "second words" in page.sections[0].text
    assert len(page.warnings) == 2
    assert not TAG_RE.search(page.sections[0].text)


def test_unterminated_tag_residue_is_removed_but_words_kept() -> None:
    page = parse_page('# T\n\nText {% hint style="x" and more words', "https://d.io/t")
    assert "and more words" in page.sections[0].text
    assert "{%" not in page.sections[0].text
    assert any("unterminated" in w for w in page.warnings)


def test_unclosed_code_fence_is_kept_as_code_with_warning() -> None:
    page = parse_page("# T\n\n```python\nprint('{% hint %}')\n", "https://d.io/t")
    assert "print('{% hint %}')" in page.sections[0].text
    assert any("unclosed code fence" in w for w in page.warnings)


def test_five_megabyte_page_parses_completely() -> None:
    block = "## Part {n}\n\n" + "Plain words about keys and rotation. " * 40 + "\n\n"
    block += '{% hint style="info" %}\nNote {n}.\n{% endhint %}\n\n'
    md = "# Huge\n\n" + "".join(block.replace("{n}", str(n)) for n in range(2200))
    md = md + "Last words " * ((5_000_000 - len(md)) // 11 + 1)
    assert len(md.encode()) >= 5_000_000
    page = parse_page(md, "https://d.io/huge")
    assert len(page.sections) == 2201
    assert page.sections[1500].text.endswith("> **Info:** Note 1499.")
    assert page.sections[-1].text.endswith("Last words")


def test_a_content_section_named_agent_instructions_is_kept() -> None:
    md = "# Agents\n\n## Agent instructions\n\nWrite clear instructions for your agent.\n"
    page = parse_page(md, "https://d.io/agents")
    assert "supports_ask" not in page.meta
    assert page.sections[1].title == "Agent instructions"
    assert page.sections[1].text == "Write clear instructions for your agent."
