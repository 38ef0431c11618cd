"""Read and write `llms.txt` site indexes (H1 site title, H2 sections, bullet links).

Shape (as GitBook publishes it): `# Site`, then per section `## Name` and lines
`- [Title](https://site/page.md): description`, then `---` and an "Agent Instructions"
footer telling AI readers how to use `?ask=`. Parsing skips junk lines and stops at
that footer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ENTRY_RE = re.compile(
    r"^\s*[-*+]\s*\[(?P<title>(?:\\.|[^\]\\])*)\]\((?P<url>[^)\s]+)\)\s*(?::\s*(?P<desc>.*))?$"
)
_SECTION_RE = re.compile(r"^##\s+(.+?)\s*#*\s*$")
_FOOTER_RE = re.compile(r"^#{1,3}\s+Agent Instructions\b", re.IGNORECASE)


@dataclass
class LlmsEntry:
    """One page listed in llms.txt."""

    title: str
    url: str
    description: str = ""
    section: str = ""


def parse_llms_txt(text: str) -> list[LlmsEntry]:
    """Every `- [Title](url): description` entry, with the `## Section` it sits under."""
    entries: list[LlmsEntry] = []
    section = ""
    in_code = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_code = not in_code
            continue
        if in_code:
            continue
        if _FOOTER_RE.match(stripped):
            break
        heading = _SECTION_RE.match(stripped)
        if heading:
            section = heading[1].strip()
            continue
        m = _ENTRY_RE.match(line)
        if m and m["url"].strip():
            entries.append(
                LlmsEntry(
                    title=m["title"].replace("\\]", "]").strip() or m["url"],
                    url=m["url"].strip(),
                    description=(m["desc"] or "").strip(),
                    section=section,
                )
            )
    return entries


def _footer(url: str) -> str:
    return (
        "# Agent Instructions\n"
        "\n"
        "## Querying This Documentation\n"
        "If you need additional information, you can query the documentation dynamically "
        "by asking a question.\n"
        "Perform an HTTP GET request on a page URL with the `ask` query parameter:\n"
        "```\n"
        f"GET {url}?ask=<question>\n"
        "```\n"
        "The question should be specific, self-contained, and written in natural language.\n"
        "The response will contain a direct answer to the question and relevant excerpts "
        "and sources from the documentation.\n"
        "Use this mechanism when the answer is not explicitly present in the current page, "
        "you need clarification or additional context, or you want to retrieve related "
        "documentation sections.\n"
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_llms_txt(site_title: str, entries: list[LlmsEntry], footer_url: str | None) -> str:
    """llms.txt text: title, sections in first-seen order, entries, optional `?ask=` footer."""
    order: list[str] = []
    grouped: dict[str, list[LlmsEntry]] = {}
    for entry in entries:
        if entry.section not in grouped:
            order.append(entry.section)
            grouped[entry.section] = []
        grouped[entry.section].append(entry)
    blocks = [f"# {_one_line(site_title)}"]
    for section in order:
        lines = [f"## {_one_line(section)}\n"] if section else []
        for e in grouped[section]:
            title = _one_line(e.title).replace("]", "\\]")
            desc = _one_line(e.description)
            lines.append(f"- [{title}]({e.url})" + (f": {desc}" if desc else ""))
        blocks.append("\n".join(lines))
    text = "\n\n".join(blocks) + "\n"
    if footer_url:
        text += "\n\n---\n\n" + _footer(footer_url)
    return text
