"""What an offline answer looks like, on the team's fixture sites: procedures whole and in
order, markdown intact, one passage of the best section, distinct follow-ups."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from agent.extractive import STEPS_INTRO, Draft, compose, question_for
from agent.retrieve import Retrieval, Retrieved, Retriever
from ingest.models import Chunk
from ingest.store import DocIndex
from ingest.terms import terms


@pytest.fixture(scope="module")
def retriever(sites_index: DocIndex) -> Retriever:
    return Retriever(sites_index)


def answer_of(retriever: Retriever, question: str) -> Draft:
    return compose(question, retriever.retrieve(question), verbs=retriever.lexicon().verbs)


def test_a_procedure_comes_back_whole_and_in_order(retriever: Retriever) -> None:
    draft = answer_of(retriever, "How do I restore the database to a point in time?")
    steps = re.findall(r"^(\d+)\. \*\*(.+?)\*\* \[\d+\]$", draft.text, re.MULTILINE)
    assert [n for n, _ in steps] == ["1", "2", "3", "4"]
    assert [t for _, t in steps] == [
        "Stop the server",
        "Restore the base backup",
        "Replay the WAL",
        "Open the database for writes",
    ]
    # the steps' own code is a fenced block, indented under its step, lines intact
    assert "   ```bash\n   quill-restore --source s3://acme-backups/quill/prod \\\n" in draft.text


def test_one_step_is_never_presented_as_step_by_step(retriever: Retriever) -> None:
    for question in ["How do I open the restored database for writes?", "tern rollback"]:
        draft = answer_of(retriever, question)
        numbered = re.findall(r"^\d+\. \*\*", draft.text, re.MULTILINE)
        assert STEPS_INTRO not in draft.text or len(numbered) >= 2, draft.text


def test_code_fences_keep_their_language_and_lines(retriever: Retriever) -> None:
    draft = answer_of(retriever, "how do I create a query template?")
    assert (
        "```sql\nCREATE TEMPLATE orders_report AS $$\nSELECT id, customer_id, total\n" in draft.text
    )
    assert "{% if region %}\n  AND region = {{ region }}\n{% endif %}" in draft.text


def test_hints_are_labelled_callouts_and_tables_stay_tables(retriever: Retriever) -> None:
    draft = answer_of(retriever, "does tern rollback also restore environment variables?")
    assert "> **Warning:** A rollback restores code only." in draft.text
    table = answer_of(retriever, "what type is deploy.healthcheck.interval?")
    assert re.search(r"^\| .+ \|\n\|( --- \|)+\n", table.text, re.MULTILINE), table.text


def test_an_answer_is_one_passage_with_its_heading_and_citation(retriever: Retriever) -> None:
    draft = answer_of(retriever, "how long does Ledgerly remember an idempotency key?")
    assert re.match(r"\*\*[^*\n]+\*\* \[1\]\n\n\S", draft.text), draft.text[:80]
    assert len(draft.sources) <= 2
    assert all(f"[{n}]" in draft.text for n in range(1, len(draft.sources) + 1))


def test_followups_keep_the_headings_casing_and_are_distinct(retriever: Retriever) -> None:
    draft = answer_of(retriever, "after an insert, how do I get the generated id back?")
    assert len(draft.followups) == len(set(draft.followups)) >= 1
    headings = {s.section for s in draft.sources}
    for followup in draft.followups:
        assert not any(h in followup for h in headings)  # never what the answer covers
    assert question_for("CREATE TABLE", frozenset({"create"})) == "How do I CREATE TABLE?"
    assert question_for("Rotate API key", frozenset({"rotate"})) == "How do I rotate API key?"
    assert question_for("How to generate your API key") == "How do I generate my API key?"
    assert question_for("Overview") == "What do the docs say about “Overview”?"
    assert question_for("Can I deploy from CI?") == "Can I deploy from CI?"


def _chunk(n: int, section: str, text: str) -> Chunk:
    return Chunk(
        id=f"c{n}",
        text=text,
        embed_text=text,
        page_url="https://d.test/p",
        md_url="https://d.test/p.md",
        title="Page",
        section=section,
        anchor_url=f"https://d.test/p#s{n}",
        breadcrumb=f"Page › {section}",
        position=n,
        sha256="x",
    )


def _retrieval(question: str, *chunks: Chunk) -> Retrieval:
    asked = {t: frozenset({t}) for t in terms(question)}
    return Retrieval(
        query=question,
        hits=[Retrieved(c, 1.0 / (61 + i)) for i, c in enumerate(chunks)],
        asked=asked,
        weights=dict.fromkeys(asked, 1.0),
        pages={"https://d.test/p": list(chunks)},
    )


def test_a_signpost_of_links_is_not_the_answer() -> None:
    related = _chunk(
        0, "Related", "- [Webhooks](https://d.test/w)\n- [Event topics](https://d.test/t)"
    )
    real = _chunk(1, "Subscribing", "Tasks subscribe to webhook event topics with a subscription.")
    draft = compose(
        "which event topics can a webhook use", _retrieval("webhook topics", related, real)
    )
    assert draft.text.startswith("**Subscribing** [1]")


def test_a_passage_never_starts_inside_a_list() -> None:
    items = "\n".join(
        f"{n}. Step {n} does something with the widget number {n}." for n in range(1, 6)
    )
    filler = " ".join(["Background words about something else entirely."] * 30)
    text = f"{filler}\n\nTo install the widget:\n\n{items}\n\n  - the gadget detail"
    draft = compose(
        "install gadget widget", _retrieval("install gadget widget", _chunk(0, "Setup", text))
    )
    body = draft.text.split("\n\n", 1)[1]
    assert not body.startswith(("  -", "2.", "3.", "4.", "5.")), body[:80]


def test_a_passage_with_room_left_reads_on_through_prose_but_not_into_code() -> None:
    filler = " ".join(["Background words about something else entirely."] * 16)
    asked = "Instead of rejecting every stale command, check whether the intent conflicts."
    after = "Then pass a resolver to the handler method."  # none of the question's words
    code = "```java\nresolver.check(spec);\n```"
    text = f"{filler}\n\n{asked}\n\n{after}\n\n{code}\n\n{filler}"
    question = "reject stale command intent conflicts"
    draft = compose(question, _retrieval(question, _chunk(0, "Conflicts", text)))
    # the paragraph after the matching one is what the reader needs ("pass a resolver")
    assert f"{asked}\n\n{after}" in draft.text, draft.text
    assert "resolver.check" not in draft.text


def test_a_bold_label_whose_code_did_not_fit_does_not_end_a_passage() -> None:
    asked = "Instead of rejecting every stale command, check whether the intent conflicts."
    code = "```java\n" + "\n".join(f"resolver.check({n});" for n in range(80)) + "\n```"
    text = f"{asked}\n\n**Conflicts in Java:**\n\n{code}"
    question = "reject stale command intent conflicts java"
    draft = compose(question, _retrieval(question, _chunk(0, "Conflicts", text)))
    assert asked in draft.text
    assert "**Conflicts in Java:**" not in draft.text, draft.text


def _procedure_under(intro: str) -> Retrieval:
    """A section saying `intro`, with a two-step stepper under it; the question names
    neither a procedure nor a step ("widget key", not "how do I …")."""
    head = _chunk(0, "Create a widget key", intro)
    steps = [
        replace(
            _chunk(n, title, body),
            breadcrumb=f"Page › Create a widget key › {title}",
            step=(n, 2),
        )
        for n, title, body in [
            (1, "Open the editor", "Open Settings, then Widgets."),
            (2, "Generate it", "Click Generate and copy the key."),
        ]
    ]
    retrieval = _retrieval("widget key", head, *steps)
    retrieval.steps, retrieval.lead = retrieval.hits[1:], retrieval.hits[0]
    return retrieval


def test_the_short_heading_of_a_procedure_is_answered_with_its_steps() -> None:
    draft = compose("widget key", _procedure_under("You need a widget key for the API."))
    assert draft.text.startswith("**Create a widget key** [1]\n\nYou need a widget key")
    steps = re.findall(r"^(\d+)\. \*\*(.+?)\*\* \[\d+\]$", draft.text, re.MULTILINE)
    assert steps == [("1", "Open the editor"), ("2", "Generate it")]
    assert "Click Generate and copy the key." in draft.text
    # a section that explains at length is answered with its own words, not the steps
    long_intro = " ".join(["A widget key identifies your app to the widget API."] * 6)
    assert STEPS_INTRO not in compose("widget key", _procedure_under(long_intro)).text


def test_a_page_card_is_shown_with_the_linked_pages_title() -> None:
    # GitBook's markdown writes a card as the file name; the site shows the page's title
    cards = _chunk(
        0,
        "Messaging apps",
        "Send crash alerts to your team chat.\n\n"
        "**See also:** [slack.md](https://d.test/apps/slack)\n\n"
        "**See also:** [gone.md](https://d.test/apps/gone)",
    )
    retrieval = _retrieval("crash alerts team chat", cards)
    slack = replace(cards, id="s", page_url="https://d.test/apps/slack", title="Slack")
    retrieval.pages["https://d.test/apps/slack"] = [slack]
    text = compose("crash alerts in team chat", retrieval).text
    assert "**See also:** [Slack](https://d.test/apps/slack)" in text
    # a page the index does not hold keeps the words the docs wrote
    assert "**See also:** [gone.md](https://d.test/apps/gone)" in text


def test_a_second_section_from_another_page_must_match_the_question_as_well() -> None:
    question = "reject commands whose version conflicts with unseen changes"
    conflicts = _chunk(
        0, "Conflict resolution", "Reject a command only when unseen changes conflict with it."
    )
    note = replace(
        _chunk(1, "Enhancements", "Sagas now close on a deadline in this version."),
        page_url="https://d.test/releases",
        anchor_url="https://d.test/releases#enhancements",
    )
    retrieval = _retrieval(question, conflicts, note)
    retrieval.hits[0].coverage, retrieval.hits[1].coverage = 0.8, 0.2
    assert "Enhancements" not in compose(question, retrieval).text  # "version" alone
    # the same words on the first section's own page continue the answer
    retrieval.hits[1] = replace(retrieval.hits[1], chunk=replace(note, page_url=conflicts.page_url))
    assert "**Enhancements** [2]" in compose(question, retrieval).text
    # and from another page, a section that matches as well as the first is shown
    retrieval.hits[1] = replace(retrieval.hits[1], chunk=note, coverage=0.8)
    assert "**Enhancements** [2]" in compose(question, retrieval).text
