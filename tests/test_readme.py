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


def tool_table() -> str:
    """The README's tool list as the registry defines it."""
    from agent.toolbox.catalog import TOOLS

    rows = ["| tool | what it does | arguments | kind | offered to |", "|---|---|---|---|---|"]
    for spec in TOOLS:
        schema = spec.input_schema
        required = set(schema.get("required", []))
        arguments = ", ".join(
            f"`{name}`" if name in required else f"`{name}`?" for name in schema["properties"]
        )
        kinds = [
            ("read-only", spec.read_only),
            ("writes", not spec.read_only and not spec.destructive),
            ("destructive", spec.destructive),
            ("idempotent", spec.idempotent),
            ("open-world", spec.open_world),
            ("needs a key", spec.needs_key),
            ("needs the user's approval", spec.needs_approval),
        ]
        offered = [("clients (REST, MCP)", spec.for_clients), ("LLM mode", spec.for_model)]
        rows.append(
            f"| `{spec.name}` | {' '.join(spec.description.split())} | {arguments or '—'} | "
            f"{', '.join(k for k, on in kinds if on)} | "
            f"{', '.join(w for w, on in offered if on)} |"
        )
    return "\n".join(rows)


def test_readme_lists_every_tool_as_the_registry_defines_it() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start, end = (
        "<!-- tools: generated from agent/toolbox, checked by tests/test_readme.py -->",
        ("<!-- /tools -->"),
    )
    assert start in readme and end in readme
    listed = readme.split(start, 1)[1].split(end, 1)[0].strip()
    expected = tool_table()
    assert listed == expected, f"README tool list is out of date; it should be:\n{expected}"
