"""Every GitBook block the parser knows, alone and nested (fixtures under fixtures/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.models import Page, Section
from ingest.parse import parse_page

FIXTURES = Path(__file__).parent / "fixtures"
TAG_RE = re.compile(r"\{%|%\}|<[A-Za-z/!][^<>]*>")
FENCE_RE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)


@pytest.fixture(autouse=True)
def _quiet_markdown_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="markdown_it")


@pytest.fixture
def zoo() -> Page:
    return parse_page((FIXTURES / "all_blocks.md").read_text(), "https://docs.example.com/zoo.md")


@pytest.fixture
def nested() -> Page:
    return parse_page((FIXTURES / "nested.md").read_text(), "https://docs.example.com/cli")


def section(page: Page, title: str) -> Section:
    return next(s for s in page.sections if s.title == title)


def test_no_tag_or_html_survives_outside_code(zoo: Page, nested: Page) -> None:
    for page in (zoo, nested):
        for s in page.sections:
            assert not TAG_RE.search(FENCE_RE.sub("", s.text)), (s.title, s.text)
            assert not TAG_RE.search(s.title)


def test_envelope_of_the_zoo(zoo: Page) -> None:
    assert zoo.title == "Block Zoo"
    assert zoo.description == "Everything GitBook can put on a page."
    assert zoo.meta["llms_txt"] == "https://docs.example.com/llms.txt"
    assert zoo.meta["supports_ask"] is True
    assert all("GET https" not in s.text for s in zoo.sections)


def test_inline_html_keeps_text(zoo: Page) -> None:
    assert zoo.sections[0].text == (
        "Everything GitBook can put on a page.\n\n"  # the front matter's description
        "Welcome to the zoo. Press Ctrl + K to search, highlighted text\nafter a break."
    )


def test_hints_are_labelled_callouts(zoo: Page) -> None:
    callouts = section(zoo, "Callouts")
    assert callouts.text == (
        "> **Warning:** Keys grant full access. Never share them.\n\n"
        "> **Info:** Keys can be rotated at any time."
    )
    assert callouts.meta["hints"] == ["warning", "info"]


def test_tabs_and_code_titles_label_their_content(zoo: Page) -> None:
    install = section(zoo, "Install")
    assert install.anchor == "setup-install"  # <a id> in the heading wins over the slug
    assert install.meta["tabs"] == ["Python", "Go"]
    assert install.meta["code_titles"] == ["install.sh"]
    assert "**Python:**\n\n**install.sh:**\n```bash\n" in install.text
    assert "pip install zoo  # {% raw %} stays verbatim {% endraw %}\n```" in install.text
    assert install.text.endswith("**Go:** Run go get for the zoo module.")


def test_links_embeds_files_and_includes(zoo: Page) -> None:
    links = section(zoo, "Links")
    assert "**See also:** [feeding.md](https://docs.example.com/guides/feeding)" in links.text
    assert "Embed: https://www.youtube.com/watch?v=zoo123" in links.text
    assert "A video tour of the zoo." in links.text
    assert "File: zoo-map.pdf\n\nThe printable map." in links.text
    assert links.meta["links"] == ["guides/feeding.md", "https://www.youtube.com/watch?v=zoo123"]
    assert links.meta["files"] == ["https://files.example.com/zoo-map.pdf"]
    assert links.meta["includes"] == ["../.gitbook/includes/shared-note.md"]
    assert any("included content" in w for w in zoo.warnings)


def test_figures_keep_alt_and_caption_and_src_in_meta(zoo: Page) -> None:
    pictures = section(zoo, "Pictures")
    assert pictures.text == "A sleeping lion\nThe lion at noon\n\nZebra crossing"
    assert pictures.meta["images"] == [
        {"src": "/files/lion.png", "alt": "A sleeping lion", "caption": "The lion at noon"},
        {"src": "/files/zebra.png", "alt": "Zebra crossing", "caption": ""},
    ]


def test_tables_keep_rows_and_details_keep_summary(zoo: Page) -> None:
    tables = section(zoo, "Tables")
    assert "Animal | Food\nLion | Meat\nZebra | Grass" in tables.text
    assert "| Keeper | Shift |\n| --- | --- |\n| Ann | Early |\n| Bob | Late |" in tables.text
    assert "Opening hours\n\nOpen daily from nine to five." in tables.text


def test_html_heading_starts_a_section(zoo: Page) -> None:
    feeding = section(zoo, "Feeding times")
    assert (feeding.anchor, feeding.level) == ("feeding-times", 4)
    assert feeding.path == ["Block Zoo", "Tables", "Feeding times"]
    assert feeding.text == "Feeding happens at noon."


def test_updates_keep_their_date(zoo: Page) -> None:
    changelog = section(zoo, "Changelog")
    assert changelog.text == "**Update 2024-05-01:** Added the penguin enclosure."
    assert changelog.meta["updates"] == ["2024-05-01"]


def test_openapi_keeps_method_and_path(zoo: Page) -> None:
    api = section(zoo, "API")
    assert api.text.startswith("API operation: POST /v1/animals")
    assert api.meta["openapi"] == ["POST /v1/animals"]


def test_layout_and_conditional_blocks_keep_all_text(zoo: Page) -> None:
    layout = section(zoo, "Layout")
    for words in ("Left column words.", "Right column words.", "Premium visitors see this."):
        assert words in layout.text
    assert (
        "**Prompt (Summarise a page):** Summarise this page in three bullet points." in layout.text
    )


def test_hint_inside_a_step(nested: Page) -> None:
    download = section(nested, "Download")
    assert download.step == (1, 3)
    assert download.path == ["CLI Setup", "Install the CLI", "Download"]
    assert download.text == "> **Warning:** Only download from the official site."


def test_tabs_and_code_with_tags_inside_a_step(nested: Page) -> None:
    configure = section(nested, "Configure")
    assert configure.step == (2, 3)
    assert configure.text.startswith(
        "**macOS:** Edit the file in your home folder.\n\n**Windows:**"
    )
    assert 'Set-Config -Template "{% if user %}{{ user.name }}{% endif %}"' in configure.text
    assert '{% hint style="info" %}this is code, not a hint{% endhint %}' in configure.text
    assert configure.meta.get("hints") is None


def test_heading_only_step_and_text_after_the_stepper(nested: Page) -> None:
    verify = section(nested, "Verify")
    assert (verify.step, verify.text) == ((3, 3), "")
    titles = [s.title for s in nested.sections]
    assert titles == [
        "CLI Setup",
        "Install the CLI",
        "Download",
        "Configure",
        "Verify",
        "Install the CLI",
        "Uninstall",
    ]
    assert nested.sections[5].text == "After the stepper, the tool is ready."
    assert nested.sections[5].step is None
    assert nested.sections[6].path == ["CLI Setup", "Uninstall"]
    assert nested.warnings == []


def test_step_without_heading_is_numbered_and_links_to_its_parent() -> None:
    md = "# T\n## Setup\n{% stepper %}\n{% step %}\nFirst thing.\n{% endstep %}\n{% endstepper %}"
    step = parse_page(md, "https://d.io/t").sections[2]
    assert (step.title, step.step, step.anchor) == ("Step 1", (1, 1), "setup")
    assert step.path == ["T", "Setup", "Step 1"]
    assert step.text == "First thing."


def test_step_tag_missing_its_end_still_starts_a_step() -> None:
    md = (
        "# T\n{% stepper %}\n{% step %}\n### A\na text\n"
        "{% step %}\n### B\nb text\n{% endstep %}\n{% endstepper %}"
    )
    page = parse_page(md, "https://d.io/t")
    assert [(s.title, s.step, s.text) for s in page.sections[1:]] == [
        ("A", (1, 2), "a text"),
        ("B", (2, 2), "b text"),
    ]
    assert page.warnings == ["{% step %} has no {% endstep %}: its text is kept in place"]


def test_tags_inside_list_items_and_inline_code() -> None:
    md = (
        '# T\n\n1. First item\n\n   {% hint style="info" %}\n   Nested note.\n   {% endhint %}\n'
        "2. Use `{% hint %}` to make a hint.\n"
    )
    text = parse_page(md, "https://d.io/t").sections[0].text
    assert "1. First item" in text
    assert "> **Info:** Nested note." in text
    assert "2. Use `{% hint %}` to make a hint." in text


def test_unknown_tag_is_removed_with_a_warning_and_body_kept() -> None:
    page = parse_page(
        "# T\n{% sparkle level=3 %}\nShiny words.\n{% endsparkle %}", "https://d.io/t"
    )
    assert page.sections[0].text == "Shiny words."
    assert page.warnings == ["unknown block {% sparkle level=3 %}: tag removed, text kept"]


def test_markdown_links_and_emphasis() -> None:
    md = "# T\n\nSee [the guide](https://d.io/guide) and **bold** _words_ and ![](/i.png)."
    s = parse_page(md, "https://d.io/t").sections[0]
    assert s.text == "See [the guide](https://d.io/guide) and **bold** words and ."
    assert s.meta["images"] == [{"src": "/i.png", "alt": "", "caption": ""}]


def test_gitbook_markup_documented_in_code_stays_verbatim() -> None:
    """A site that documents its own markup: tags inside code spans and fenced examples
    are content, kept exactly as written; the real hint around them still works."""
    md = (
        "# Variables\n\n"
        'Insert `{% vars.support_email %}` or `{% if visitor.claims.plan == "pro" %}`.\n\n'
        '{% hint style="info" %}\n'
        "Mention `{% endhint %}` in code. Double ticks: `` `{% hint %}` ``.\n"
        "{% endhint %}\n\n"
        '```markdown\n{% hint style="warning" %}\nCareful!\n{% endhint %}\n```\n'
    )
    text = parse_page(md, "https://d.test/vars").sections[0].text
    assert '`{% vars.support_email %}` or `{% if visitor.claims.plan == "pro" %}`' in text
    assert "> **Info:** Mention `{% endhint %}` in code. Double ticks: `` `{% hint %}` ``." in text
    assert '```markdown\n{% hint style="warning" %}\nCareful!\n{% endhint %}\n```' in text
    assert text.count("{%") == text.count("%}") == 6


def test_a_figure_whose_caption_repeats_its_alt_text_says_it_once() -> None:
    page = parse_page(
        "# Console\n\nThe dashboard.\n\n"
        '<figure><img src="/d.png" alt="The console dashboard with a QA app">'
        "<figcaption><p>The console dashboard with a QA app</p></figcaption></figure>\n",
        "https://docs.example.com/console",
    )
    assert page.sections[0].text == "The dashboard.\n\nThe console dashboard with a QA app"
    assert page.sections[0].meta["images"][0]["caption"] == "The console dashboard with a QA app"


def test_links_gitbook_marks_as_broken_keep_their_words_and_never_point_anywhere() -> None:
    # what GitBook's Git sync writes when a linked page was deleted
    page = parse_page(
        "# Rows\n\nSave it with the [Content Services API](broken-reference), then see "
        "[the row guide](rows.md).\n\n"
        '{% content-ref url="/broken/pages/-MeRotKdqt1dHxyC6joj" %}\n'
        "[Broken link](/broken/pages/-MeRotKdqt1dHxyC6joj)\n"
        "{% endcontent-ref %}\n\n"
        "[Broken link](broken-reference)\n\n"
        '{% content-ref url="rows.md" %}\n[rows.md](rows.md)\n{% endcontent-ref %}\n',
        "https://docs.example.com/guides/save",
    )
    text = page.sections[0].text
    assert text.startswith(
        "Save it with the Content Services API, then see "
        "[the row guide](https://docs.example.com/guides/rows)."
    )
    assert "broken" not in text.lower()
    assert text.count("**See also:**") == 1  # the card of the page that exists
    assert text.endswith("**See also:** [rows.md](https://docs.example.com/guides/rows)")


def test_a_quote_stays_a_quote() -> None:
    # many sites write a tip box as a plain markdown quote with a bold title
    md = (
        "# Commands\n\nReject a stale command.\n\n"
        "> **Expected version**\n>\n> Load the aggregate with an expected version:\n>\n"
        "> - on the command\n> - or on the handler\n\nAfter the quote.\n"
    )
    text = parse_page(md, "https://docs.example.com/commands").sections[0].text
    assert text == (
        "Reject a stale command.\n\n> **Expected version**\n>\n"  # one quote, not two
        "> Load the aggregate with an expected version:\n"
        "> - on the command\n> - or on the handler\n\nAfter the quote."
    )


def test_a_hint_of_several_blocks_is_one_callout_to_its_end() -> None:
    """Every paragraph, list and code block of a hint stays inside its quote, and the
    text after the hint is outside it again."""
    md = (
        "# T\n\n## Limits\n\n"
        '{% hint style="warning" %}\nKeys expire.\n\nRotate them yearly:\n\n- open Settings\n'
        "- choose Rotate\n\n```bash\nnexos rotate\n```\n{% endhint %}\n\nAfter the hint.\n"
    )
    text = section(parse_page(md, "https://d.test/t.md"), "Limits").text
    assert text == (
        "> **Warning:** Keys expire.\n>\n> Rotate them yearly:\n> - open Settings\n"
        "> - choose Rotate\n>\n> ```bash\n> nexos rotate\n> ```\n\nAfter the hint."
    )


def test_two_quotes_in_a_row_stay_two() -> None:
    md = "# T\n\n> One.\n\n> Two.\n\n" + '{% hint style="info" %}\nA.\n{% endhint %}\n' * 2
    text = parse_page(md, "https://d.test/t.md").sections[0].text
    assert text == "> One.\n\n> Two.\n\n> **Info:** A.\n\n> **Info:** A."


def test_bold_survives_in_text_but_a_heading_is_a_plain_title() -> None:
    md = "# T\n\n## **New** keys\n\nOpen **Settings**, then the **API Keys** tab.\n"
    s = section(parse_page(md, "https://d.io/t"), "New keys")
    assert s.text == "Open **Settings**, then the **API Keys** tab."


def test_a_literal_asterisk_stays_literal_beside_bold() -> None:
    md = "# T\n\nOur \\*Async methods take **continueOnCapturedContext**; 2 * 3 is 6.\n"
    text = parse_page(md, "https://d.io/t").sections[0].text
    assert text == "Our \\*Async methods take **continueOnCapturedContext**; 2 \\* 3 is 6."
