"""Heading-aware chunks: one per smallest section, budget, overlap, stable ids."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from ingest.chunk import chunk_page, estimate_tokens
from ingest.embed import MiniLMEmbeddings
from ingest.parse import parse_page
from ingest.pipeline import MAX_TOKENS, OVERLAP
from tests.conftest import API_KEYS_MD, REPO

PAGE_URL = "https://docs.nexos.ai/workspace/settings/user-settings/api-keys"


@pytest.fixture(autouse=True)
def _quiet_markdown_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="markdown_it")


def words(text: str) -> int:
    """A strict counter for tests: one token per whitespace-separated word."""
    return len(text.split())


def long_page(paragraphs: int = 30) -> str:
    body = "\n\n".join(
        f"Paragraph {i} talks about key number {i}. It has two sentences about rotation."
        for i in range(paragraphs)
    )
    return f"# Keys\n\n## Rotation\n\n{body}\n"


def test_api_keys_page_gives_one_chunk_per_step() -> None:
    page = parse_page(API_KEYS_MD.read_text(), PAGE_URL + ".md")
    chunks = chunk_page(page)
    assert [c.section for c in chunks] == [
        "How to generate your API key",
        "Create your API key",
        "Generate a key",
        "Name the key and generate",
        "Save your API Key",
        "Rotate API key",
    ]
    rotate = chunks[-1]
    assert rotate.breadcrumb == "API Keys › How to generate your API key › Rotate API key"
    assert rotate.anchor_url == PAGE_URL + "#rotate-api-key"
    assert rotate.step == (5, 5)
    # the model reads the text without emphasis marks or link targets; the reader gets both
    assert rotate.embed_text == rotate.breadcrumb + "\n" + rotate.text.replace("**", "")
    assert rotate.sha256 == hashlib.sha256(rotate.embed_text.encode()).hexdigest()
    assert (rotate.page_url, rotate.md_url, rotate.title) == (
        PAGE_URL,
        PAGE_URL + ".md",
        "API Keys",
    )
    assert [c.position for c in chunks] == list(range(6))
    assert len({c.id for c in chunks}) == 6
    assert not any("Agent Instructions" in c.embed_text or "?ask=" in c.embed_text for c in chunks)


def test_heading_only_step_yields_its_heading() -> None:
    md = "# T\n## Do\n{% stepper %}\n{% step %}\n### Verify\n{% endstep %}\n{% endstepper %}"
    [chunk] = chunk_page(parse_page(md, "https://d.io/t"))
    assert (chunk.text, chunk.step, chunk.anchor_url) == ("Verify", (1, 1), "https://d.io/t#verify")


def test_empty_sections_are_skipped() -> None:
    page = parse_page("# T\n## Empty\n## Full\nText.", "https://d.io/t")
    assert [c.section for c in chunk_page(page)] == ["Full"]


def test_long_section_respects_the_budget_with_a_supplied_counter() -> None:
    page = parse_page(long_page(), "https://d.io/keys")
    chunks = chunk_page(page, max_tokens=60, overlap=10, count_tokens=words)
    assert len(chunks) > 5
    assert all(words(c.embed_text) <= 60 for c in chunks)
    assert all(c.breadcrumb == "Keys › Rotation" for c in chunks)
    assert all(c.embed_text.startswith("Keys › Rotation\n") for c in chunks)
    # nothing lost: every paragraph's first sentence is in some chunk
    for i in range(30):
        assert any(f"Paragraph {i} talks" in c.text for c in chunks)


def test_consecutive_pieces_overlap() -> None:
    page = parse_page(long_page(), "https://d.io/keys")
    chunks = chunk_page(page, max_tokens=60, overlap=10, count_tokens=words)
    for prev, nxt in itertools.pairwise(chunks):
        head = nxt.text.split("\n", 1)[0]
        assert 0 < words(head) <= 10
        assert prev.text.endswith(head)


def test_zero_overlap_has_no_repeated_text() -> None:
    page = parse_page(long_page(), "https://d.io/keys")
    chunks = chunk_page(page, max_tokens=60, overlap=0, count_tokens=words)
    joined = "\n\n".join(c.text for c in chunks)
    assert joined.count("Paragraph 7 talks") == 1


def test_a_single_huge_sentence_and_word_still_fit() -> None:
    md = "# T\n\n" + "word " * 500 + "\n\n" + "x" * 5000
    chunks = chunk_page(parse_page(md, "https://d.io/t"), max_tokens=50, overlap=5)
    assert all(estimate_tokens(c.embed_text) <= 50 for c in chunks)
    assert sum(c.text.count("word") for c in chunks) >= 500


def test_long_code_block_is_split_by_lines_and_refenced() -> None:
    code = "\n".join(f"print({i})" for i in range(200))
    md = f"# T\n\n```python\n{code}\n```\n"
    chunks = chunk_page(
        parse_page(md, "https://d.io/t"), max_tokens=80, overlap=0, count_tokens=words
    )
    assert len(chunks) > 1
    for c in chunks:
        assert c.text.startswith("```python\n") and c.text.endswith("\n```")
    assert all(words(c.embed_text) <= 80 for c in chunks)


def test_a_long_fence_right_under_a_label_line_is_still_cut_as_code() -> None:
    """Docs often put a label on the line above a fence with no blank line between
    ("**Spring Boot AutoConfiguration:**" then ```java): the fence is cut by lines and
    every piece re-fenced, never a piece that opens a fence and one that starts mid-code."""
    code = "\n".join(f"    handle(event{i});\n" for i in range(200))  # blank lines inside
    md = (
        '# Sagas\n\n## Associations\n\n{% tabs %}\n{% tab title="Spring Boot" %}\n'
        f"```java\n{code}\n```\n{{% endtab %}}\n{{% endtabs %}}\n\nDone.\n"
    )
    chunks = chunk_page(
        parse_page(md, "https://d.io/sagas"), max_tokens=80, overlap=10, count_tokens=words
    )
    assert len(chunks) > 2
    for c in chunks:  # every line of code lies inside a ```java … ``` fence of its piece
        fence = None
        for line in c.text.split("\n"):
            if line.startswith("```"):
                fence = None if fence else line
            elif "handle(" in line:
                assert fence == "```java", c.text[:200]
        assert fence is None, c.text[:200]  # and the fence is closed
    assert chunks[0].text.startswith("**Spring Boot:**\n```java\n")  # the tab's label
    said = " ".join(c.text for c in chunks)
    assert all(f"handle(event{i});" in said for i in range(200))


def test_bold_marks_do_not_move_chunk_boundaries() -> None:
    """The model never reads emphasis marks, so a page with bold words is cut exactly where
    the same page without them is (and embedded alike): bold is for the reader only."""
    body = "\n\n".join(
        f"Paragraph {i} says open **Settings** then the **API Keys** tab, **{i}** times."
        for i in range(40)
    )
    bold = chunk_page(parse_page(f"# Keys\n\n## Rotation\n\n{body}\n", PAGE_URL + ".md"))
    plain = chunk_page(
        parse_page(f"# Keys\n\n## Rotation\n\n{body.replace('**', '')}\n", PAGE_URL + ".md")
    )
    assert len(bold) == len(plain) > 2
    assert [c.embed_text for c in bold] == [c.embed_text for c in plain]
    assert "open **Settings** then" in bold[0].text


def test_ids_are_stable_across_runs_and_depend_on_heading_path() -> None:
    md = API_KEYS_MD.read_text()
    first = [c.id for c in chunk_page(parse_page(md, PAGE_URL))]
    second = [c.id for c in chunk_page(parse_page(md, PAGE_URL + ".md"))]
    assert first == second
    edited = md.replace("If you think your API key was shared", "If your key leaked")
    third = chunk_page(parse_page(edited, PAGE_URL))
    assert [c.id for c in third] == first  # same heading paths → same ids
    moved = md.replace("### Rotate API key", "### Replace API key")
    fourth = chunk_page(parse_page(moved, PAGE_URL))
    assert [c.id for c in fourth][:5] == first[:5]
    assert fourth[5].id != first[5]
    assert chunk_page(parse_page(md, "https://other.io/api-keys"))[5].id != first[5]


def test_split_pieces_of_one_section_get_distinct_ids() -> None:
    chunks = chunk_page(
        parse_page(long_page(), "https://d.io/k"), max_tokens=60, count_tokens=words
    )
    assert len({c.id for c in chunks}) == len(chunks)


def test_default_counter_is_a_safe_word_piece_estimate() -> None:
    """Without the real tokenizer the estimate errs high (budget kept) but not wildly."""
    tokenizer = Tokenizer.from_file(str(REPO / "ingest" / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    assert estimate_tokens("") == 0
    for chunk in chunk_page(parse_page(API_KEYS_MD.read_text(), PAGE_URL)):
        real = len(tokenizer.encode(chunk.embed_text, add_special_tokens=False).ids)
        assert real <= estimate_tokens(chunk.embed_text) <= real * 1.35


def test_absurdly_long_breadcrumb_still_fits_the_budget() -> None:
    md = "# " + "Very long title " * 40 + "\n\n## Section\n\n" + "Some body words here. " * 30
    chunks = chunk_page(
        parse_page(md, "https://d.io/t"), max_tokens=40, overlap=4, count_tokens=words
    )
    assert chunks and all(words(c.embed_text) <= 40 for c in chunks)
    assert all(c.breadcrumb.endswith("› Section") for c in chunks)  # the display keeps it all


def test_batch_counting_gives_the_same_chunks_with_one_count_per_page() -> None:
    long_step = " ".join(f"Sentence number {i} about rotating keys safely." for i in range(120))
    md = API_KEYS_MD.read_text().replace("Click **Generate API key**.", long_step)
    page = parse_page(md, PAGE_URL + ".md")
    singles: list[str] = []
    batches: list[list[str]] = []

    def count(text: str) -> int:
        singles.append(text)
        return estimate_tokens(text)

    def count_many(texts: list[str]) -> list[int]:
        batches.append(texts)
        return [estimate_tokens(t) for t in texts]

    expected = chunk_page(page, count_tokens=estimate_tokens)
    got = chunk_page(page, count_tokens=count, count_many=count_many)
    assert [(c.id, c.embed_text) for c in got] == [(c.id, c.embed_text) for c in expected]
    assert len(batches) == 1 and len(batches[0]) == 6  # every section checked in one call
    # single counts only while splitting the long section (its pieces and its breadcrumb)
    assert singles and all("Sentence number" in s or "Generate a key" in s for s in singles)


VOCAB = [
    "rotate", "the", "API", "key", "keys.", "Revoke", "workspace", "(admin)", "naïve", "漢字",
    "unbelievably", "x.y.z", "e-mail:", "[CLS]", "1.5", "🙂", "supercalifragilisticexpialidocious",
]  # fmt: skip


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    """The bundled tokenizer on its own, to check chunks independently of the counter."""
    tok = Tokenizer.from_file(str(REPO / "ingest" / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.sampled_from(VOCAB), min_size=150, max_size=260),
    st.lists(st.integers(0, 300), max_size=8),
)
def test_sections_around_the_budget_fit_the_real_tokenizer_and_keep_every_word(
    minilm: MiniLMEmbeddings, tokenizer: Tokenizer, body: list[str], breaks: list[int]
) -> None:
    """A section from under to a few times over 254 word pieces, split by the real counter."""
    for at in sorted(set(breaks), reverse=True):  # some sentence and paragraph breaks
        body[at:at] = [".\n\n" if at % 2 else "."]
    md = "# Keys\n\n## Rotation of workspace API keys\n\n" + " ".join(body)
    chunks = chunk_page(
        parse_page(md, "https://d.io/keys"),
        max_tokens=MAX_TOKENS,
        overlap=OVERLAP,
        count_tokens=minilm.count_tokens,
        count_many=minilm.count_tokens_many,
    )
    for chunk in chunks:
        assert len(tokenizer.encode(chunk.embed_text, add_special_tokens=False).ids) <= MAX_TOKENS
        assert chunk.embed_text.startswith("Keys › Rotation of workspace API keys\n")
    words_in = [w for w in " ".join(body).split() if w != "."]
    words_out = " ".join(c.text for c in chunks).split()
    assert all(w in words_out for w in words_in)
    assert len({c.id for c in chunks}) == len(chunks)


def test_the_model_reads_no_urls_and_a_long_code_block_stays_fenced() -> None:
    from ingest.chunk import embed_view

    assert embed_view("See [the **docs**](https://d.test/a_(b)) now.") == "See [the docs] now."
    code = "```json\n" + "\n".join(f'  "key{i}": "value number {i}",' for i in range(120)) + "\n```"
    page = parse_page(f"# Ref\n\n## Schema\n\nThe schema:\n\n{code}\n", "https://d.test/ref")
    chunks = chunk_page(page, max_tokens=120, overlap=24)
    assert len(chunks) > 2
    for c in chunks:  # every piece of the cut block is a whole fence: no overlap glued on
        body = c.text.strip()
        assert body.count("```") % 2 == 0, body[:120]
        assert "```json" in body or not body.startswith("```")


def test_every_section_is_embedded_with_its_pages_description() -> None:
    """The page's front-matter summary tells the model what each section is about; the
    intro, whose text already starts with it, does not say it twice; a page without one
    is embedded as before."""
    md = (
        "---\ndescription: Debounce high-frequency webhook events with filters and the cache.\n"
        "---\n\n# Debouncing events\n\nWhy it matters.\n\n## Configuration\n\nSet a TTL.\n"
    )
    intro, config = chunk_page(parse_page(md, "https://d.io/debounce"))
    summary = "Debounce high-frequency webhook events with filters and the cache."
    assert config.embed_text == f"Debouncing events › Configuration\n{summary}\nSet a TTL."
    assert intro.embed_text.count(summary) == 1
    assert config.text == "Set a TTL."  # what an answer quotes is unchanged
    bare = chunk_page(parse_page("# T\n\nIntro.\n\n## S\n\nBody.\n", "https://d.io/t"))[-1]
    assert bare.embed_text == "T › S\nBody."


def test_a_long_description_is_cut_to_its_first_words() -> None:
    long = " ".join(f"word{i}" for i in range(400))
    md = f"---\ndescription: {long}\n---\n\n# T\n\nIntro.\n\n## S\n\nBody text here.\n"
    last = chunk_page(parse_page(md, "https://d.io/t"))[-1]
    assert last.embed_text.startswith("T › S\nword0 word1 ")
    assert last.embed_text.endswith("\nBody text here.")
    assert estimate_tokens(last.embed_text) <= 256
