"""Blocks and sentences of a section: code, lists, tables and hints stay whole."""

from __future__ import annotations

from agent.passages import blocks, render, sentences

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
