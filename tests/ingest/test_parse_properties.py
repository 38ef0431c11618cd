"""Properties: the parser never raises, and words outside tags are never lost."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.chunk import chunk_page
from ingest.parse import parse_page

TAG_RE = re.compile(r"\{%|%\}|<[A-Za-z/][^<>]*>")
PROPS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

TAGS = [
    '{% hint style="warning" %}', "{% endhint %}", "{% stepper %}", "{% endstepper %}",
    "{% step %}", "{% endstep %}", "{% tabs %}", '{% tab title="Mac" %}', "{% endtab %}",
    "{% endtabs %}", '{% code title="a.py" %}', "{% endcode %}", '{% embed url="https://e.x/v" %}',
    '{% content-ref url="x.md" %}', "{% endcontent-ref %}", "{% if a %}", "{% else %}",
    "{% endif %}", "{% columns %}", "{% endcolumns %}", '{% update date="2024-01-01" %}',
    "{% endupdate %}", "{% bogus %}", "{% endbogus %}", "{%", "%}",
    "<b>", "</b>", "<kbd>", "</kbd>", "<br>", "<div>", "</div>", "<details>", "<summary>",
    "</summary>", "</details>", "<table>", "<tr>", "<td>", "</td>", "</tr>", "</table>",
    '<figure><img src="/i.png" alt="pic"><figcaption>', "</figcaption></figure>", "<p>", "</p>",
    "## Heading", "### Sub", "\n", "\n\n", "- ", "> ",
]  # fmt: skip
WORD = st.from_regex(r"[a-z]{3,8}", fullmatch=True).map(lambda w: "w" + w)


@pytest.fixture(autouse=True)
def _quiet_markdown_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="markdown_it")


@PROPS
@given(st.text(max_size=400))
def test_parse_and_chunk_never_raise_on_any_text(text: str) -> None:
    page = parse_page(text, "https://d.io/p")
    assert page.sections
    for chunk in chunk_page(page):
        assert chunk.text.strip()


@PROPS
@given(
    st.lists(
        st.sampled_from([*"{}%<>/`~#*-_[]()!|\\\n \t\"'=&;ab", "{%", "%}", "```", "<!--", "---"]),
        max_size=120,
    )
)
def test_never_raises_on_markup_soup(parts: list[str]) -> None:
    page = parse_page("".join(parts), "https://d.io/p.md")
    chunk_page(page, max_tokens=16, overlap=4)


@PROPS
@given(st.lists(st.one_of(WORD, st.sampled_from(TAGS)), min_size=1, max_size=60))
def test_words_between_tags_are_never_lost(parts: list[str]) -> None:
    text = " ".join(parts)
    page = parse_page(text, "https://d.io/p")
    seen = " ".join(s.title + " " + s.text for s in page.sections)
    found = set(re.findall(r"\w+", seen))
    outside_tags = re.sub(r"\{%(?:(?!\{%).)*?%\}", " ", text)  # a word can sit inside `{% w %}`
    for word in (w for w in outside_tags.split() if w.startswith("w")):
        assert word in found, (word, text, seen)
    for s in page.sections:
        outside_code = re.sub(r"^```.*?^```", "", s.text, flags=re.DOTALL | re.MULTILINE)
        assert not TAG_RE.search(outside_code), (text, s.text)
