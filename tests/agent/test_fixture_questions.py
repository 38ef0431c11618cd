"""The fixture sites' question file stays true to the pages it grades against."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.agent.conftest import SITES

QUESTIONS: list[dict[str, Any]] = json.loads((SITES / "questions.json").read_text())


def headings(markdown: str) -> set[str]:
    """Heading texts outside code fences, as a question's gold names them."""
    out, fenced = set(), False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and (m := re.match(r"^#{1,6}\s+(.*?)\s*$", line)):
            out.add(m[1])
    return out


@pytest.mark.parametrize("case", QUESTIONS, ids=[q["id"] for q in QUESTIONS])
def test_gold_pages_sections_and_facts_exist(case: dict[str, Any]) -> None:
    assert case["out_of_scope"] == (not case["gold"])
    for gold in case["gold"]:
        page = (SITES / case["site"] / gold["page"]).read_text()
        assert gold["section"] == "" or gold["section"] in headings(page)
    if case["gold"]:
        pages = " ".join((SITES / case["site"] / g["page"]).read_text() for g in case["gold"])
        assert any(fact.lower() in pages.lower() for fact in case["facts"]), case["facts"]


def test_ids_are_unique_and_a_fifth_is_out_of_scope() -> None:
    assert len({q["id"] for q in QUESTIONS}) == len(QUESTIONS)
    assert sum(q["out_of_scope"] for q in QUESTIONS) >= len(QUESTIONS) / 5
