"""The keyword side is derived from the site's own index: idf, typo correction, verbs."""

from __future__ import annotations

from agent.lexicon import Lexicon, edit_distance
from ingest.models import Chunk
from ingest.terms import terms


def chunk(n: int, section: str, text: str, page: str = "https://d.test/p") -> Chunk:
    return Chunk(
        id=f"c{n}",
        text=text,
        embed_text=text,
        page_url=page,
        md_url=page + ".md",
        title="Page",
        section=section,
        anchor_url=f"{page}#s{n}",
        breadcrumb=f"Page › {section}",
        position=n,
        sha256="x",
    )


SECTIONS = [
    chunk(0, "Schedule a backup", "To schedule a backup, run the scheduler every Monday."),
    chunk(1, "Restore", "To restore a backup, choose a point in time. The restore takes minutes."),
    chunk(
        2, "Subscriptions", "A subscription delay is set in minutes. Subscriptions renew monthly."
    ),
    chunk(3, "Console", "The console shows the subscription and the backup schedule every day."),
]


def test_idf_comes_from_the_site_and_unknown_words_weigh_most() -> None:
    lexicon = Lexicon.build(SECTIONS, version=1)
    (backup,) = terms("backup")
    (restore,) = terms("restore")
    (kubernetes,) = terms("kubernetes")
    assert lexicon.idf(backup) < lexicon.idf(restore) < lexicon.idf(kubernetes)


def test_bm25_finds_the_section_that_carries_the_terms() -> None:
    lexicon = Lexicon.build(SECTIONS, version=1)
    hits = lexicon.search(terms("how do I restore to a point in time"), 2)
    assert lexicon.chunks[hits[0][0]].section == "Restore"
    assert lexicon.search(terms("kubernetes"), 3) == []


def test_a_sections_own_heading_weighs_more_than_words_in_anothers_body() -> None:
    """ "webhook retries" names one section's heading; another section's body says both
    words as often: the section the heading names ranks first."""
    sections = [
        chunk(
            0,
            "Delivery",
            "A webhook call that fails gets retries; each webhook logs its retries daily.",
        ),
        chunk(1, "Webhook retries", "Failed calls are sent again."),
        *SECTIONS,
    ]
    lexicon = Lexicon.build(sections, version=1)
    hits = lexicon.search(terms("webhook retries"), 2)
    assert [lexicon.chunks[p].section for p, _ in hits] == ["Webhook retries", "Delivery"]


def test_misspelt_words_are_corrected_against_the_sites_words_only() -> None:
    lexicon = Lexicon.build(SECTIONS, version=1)
    assert lexicon.correct("how do i shedule a backp evry monday") == (
        "how do i schedule a backup every monday"
    )
    # words the site uses, English contractions and short words stay as typed
    assert lexicon.correct("isnt the consle whats up") == "isnt the console whats up"
    assert lexicon.correct("Kubernetes") == "Kubernetes"


def test_english_words_are_never_corrected_into_the_sites_words() -> None:
    """ "stick" is one edit from the site's "stock" and "patch" from "path", but both are
    words; only what no dictionary holds is taken for a typo."""
    lexicon = Lexicon.build(
        [*SECTIONS, chunk(4, "Stock", "The stock level and the file path of each product.")],
        version=1,
    )
    assert lexicon.correct("does the value stick around after a patch") == (
        "does the value stick around after a patch"
    )
    assert lexicon.correct("the stok levl") == "the stock level"


def test_a_form_the_stemmer_leaves_apart_is_found_as_the_sites_variant() -> None:
    """Snowball stems "expiry" to "expiri" but "expiration" to "expir"; the site's form is
    an alternative of the question's, as long as one only extends the other a little."""
    lexicon = Lexicon.build(
        [*SECTIONS, chunk(4, "Expiration", "Entries expire after the expiration date.")],
        version=1,
    )
    (expiry,) = terms("expiry")
    (expiration,) = terms("expiration")
    assert expiry != expiration
    assert lexicon.variants(expiry) == {expiration}
    assert lexicon.variants(expiration) == frozenset()  # a stem the site uses has none
    (suppose,) = terms("suppose")
    assert lexicon.variants(suppose) == frozenset()  # not "support": neither extends the other


def test_verbs_are_the_words_the_docs_put_after_to() -> None:
    lexicon = Lexicon.build(SECTIONS, version=1)
    assert {"schedule", "restore"} <= lexicon.verbs
    assert "console" not in lexicon.verbs


def test_edit_distance_counts_a_transposition_once() -> None:
    assert edit_distance("recieve", "receive") == 1
    assert edit_distance("subscripton", "subscription") == 1
    assert edit_distance("abc", "xyz") == 3
