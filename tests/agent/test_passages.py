"""Blocks and sentences of a section: code, lists, tables and hints stay whole."""

from __future__ import annotations

from agent.passages import blocks, render, section_blocks, sentences

SECTION = """Use `RETURNING` to get the new row. It returns e.g. the id... and more.

- first item
  wrapped line
- second item
  - nested item

```sql
INSERT INTO t (a) VALUES (1)
RETURNING id;

SELECT 1;
```

| Key | Default |
| --- | --- |
| `timeout` | 30 |

> **Warning:** Back up first."""


def test_blocks_round_trip_the_markdown() -> None:
    parts = blocks(SECTION)
    assert [b.kind for b in parts] == ["para", "item", "item", "item", "code", "table", "quote"]
    assert render(parts) == SECTION
    code = next(b for b in parts if b.kind == "code")
    assert code.text.startswith("```sql\n") and "\n\nSELECT 1;\n```" in code.text


def test_sentences_never_split_inside_code_spans_abbreviations_or_ellipses() -> None:
    assert sentences("Add `a. B` here. Then e.g. this one... and go. Version 1.2 works!") == [
        "Add `a. B` here.",
        "Then e.g. this one... and go.",
        "Version 1.2 works!",
    ]
    assert sentences(
        "Run `INSERT … RETURNING id. Commit` first. Then [see v2. Docs](x.md) go."
    ) == [
        "Run `INSERT … RETURNING id. Commit` first.",
        "Then [see v2. Docs](x.md) go.",
    ]


def test_a_section_read_back_from_its_chunks_says_each_thing_once() -> None:
    """The chunker starts a piece with the last lines of the one before, two short
    paragraphs of it as one block; reading the section whole says them once."""
    first = "Limits:\n\n- 300/min per token\n\nAvoid tight loops in CI.\n\nCommon responses:"
    table = "| Status | Meaning |\n| --- | --- |\n| `401` | Bad token |"
    second = f"Avoid tight loops in CI.\nCommon responses:\n\n{table}"
    text = render(section_blocks([first, second]))
    assert text.count("Avoid tight loops") == 1 and text.count("Common responses") == 1
    assert text == render(blocks(f"{first}\n\n{table}"))


def test_an_overlap_that_starts_inside_a_list_item_is_said_once() -> None:
    first = (
        "Indexes to add:\n\n- Events:\nTable `A`, column `id`\n"
        "- Snapshots:\nTable `S`, column `id`\n- Sagas"
    )
    second = "Table `S`, column `id`\n- Sagas\n\nTable `V`, columns `type` and `key`"
    text = render(section_blocks([first, second]))
    assert text.count("Table `S`") == 1 and text.count("Sagas") == 1
    assert text.endswith("- Sagas\n\nTable `V`, columns `type` and `key`")


def test_a_callout_of_several_paragraphs_is_one_block_an_answer_takes_whole() -> None:
    """A hint's (or a titled quote's) later paragraphs stay in its block, so no passage
    ends on a callout's title or starts mid-callout without its label."""
    from ingest.parse import parse_page

    md = (
        "# T\n\nIntro.\n\n> **Expected version**\n>\n> Load it with a version first.\n\n"
        '{% hint style="warning" %}\nKeys expire.\n\nRotate them yearly.\n{% endhint %}\n\nEnd.\n'
    )
    parts = blocks(parse_page(md, "https://d.test/t.md").sections[0].text)
    assert [b.kind for b in parts] == ["para", "quote", "quote", "para"]
    assert parts[1].text == "> **Expected version**\n>\n> Load it with a version first."
    assert parts[2].text == "> **Warning:** Keys expire.\n>\n> Rotate them yearly."
