"""A site's optional profile is data next to its docs; without one nothing is expanded."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ProfileError
from agent.profile import PROFILE_FILE, SiteProfile, load_profile
from ingest.terms import terms


def write(cache: Path, host: str, text: str) -> None:
    (cache / host).mkdir(parents=True, exist_ok=True)
    (cache / host / PROFILE_FILE).write_text(text)


def test_no_profile_means_no_synonyms(tmp_path: Path) -> None:
    profile = load_profile(tmp_path)
    assert profile == SiteProfile()
    assert profile.expand(terms("my key leaked")) == set(terms("my key leaked"))
    assert profile.expand_query("my key leaked") == "my key leaked"


def test_groups_match_any_form_of_their_words(tmp_path: Path) -> None:
    write(tmp_path, "docs.a.test", "synonyms:\n  - [shared by mistake, leaked, exposed]\n")
    profile = load_profile(tmp_path)
    assert set(terms("leaked")) <= profile.expand(terms("it was exposing us"))
    # a phrase's words are not keyword alternatives ("by", "mistake" would match anything)
    assert not set(terms("shared mistake")) & profile.expand(terms("it was exposing us"))
    assert profile.expand_query("my key leaked") == "my key leaked: shared by mistake"
    # a question already in the docs' words is left alone
    assert profile.expand_query("shared by mistake, now what?") == "shared by mistake, now what?"
    assert profile.sources == (str(tmp_path / "docs.a.test" / PROFILE_FILE),)


@pytest.mark.parametrize(
    "text",
    ["synonyms: 3\n", "synonyms:\n  - [only-one]\n", "synonyms:\n  - [a, 2]\n", "- a\n", "{"],
)
def test_a_bad_profile_is_an_error_naming_the_file(tmp_path: Path, text: str) -> None:
    write(tmp_path, "docs.b.test", text)
    with pytest.raises(ProfileError, match=r"docs\.b\.test/docsagent\.yaml"):
        load_profile(tmp_path)
