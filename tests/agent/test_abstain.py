"""The answer-or-fall-back model's inputs (`agent.abstain.features`) and its file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from agent.abstain import FEATURES, features, load_calibration
from agent.errors import CalibrationError
from agent.retrieve import Retrieval, Retrieved, _peaks
from ingest.models import Chunk

PAGE = "https://docs.example.test/guides/tokens"


def _chunk(anchor: str) -> Chunk:
    return Chunk(
        id=anchor, text="", embed_text="", page_url=PAGE, md_url=f"{PAGE}.md", title="Tokens",
        section=anchor, anchor_url=f"{PAGE}#{anchor}", breadcrumb=f"Tokens › {anchor}",
        position=0, sha256=anchor,
    )  # fmt: skip


def _retrieval(section_terms: set[str], page_terms: set[str]) -> Retrieval:
    asked = {"rotat": frozenset({"rotat"}), "token": frozenset({"token"}), "ci": frozenset({"ci"})}
    hit = Retrieved(_chunk("rotating"), 0.03, dense=0.6, terms=frozenset(section_terms))
    return Retrieval(
        query="rotate a CI token",
        hits=[hit],
        asked=asked,
        weights={"rotat": 2.0, "token": 1.0, "ci": 1.0},
        known=frozenset(asked),
        indexed=100,
        page_terms={PAGE: frozenset(page_terms)},
    )


def test_the_page_feature_counts_question_words_anywhere_on_the_best_sections_page() -> None:
    # the section has "rotate token"; "CI" is two sections further down the same page
    values = features(_retrieval({"rotat", "token"}, {"rotat", "token", "ci", "other"}))
    assert values["coverage"] == pytest.approx(0.75)
    assert values["page"] == pytest.approx(1.0)
    # a page that holds nothing more than the section says nothing more
    assert features(_retrieval({"rotat", "token"}, {"rotat"}))["page"] == pytest.approx(0.75)


def test_every_feature_is_zero_but_unknown_words_when_nothing_was_found() -> None:
    values = features(Retrieval(query="q", oov=1.0, indexed=999))
    assert set(values) == set(FEATURES) | {"coverage"}
    assert values["page"] == values["dense"] == values["dense_peak"] == 0.0
    assert values["unknown"] == pytest.approx(1.0)


def test_how_far_the_best_section_stands_out_counts_less_on_a_small_site() -> None:
    retrieval = _retrieval({"rotat", "token"}, {"rotat", "token"})
    retrieval.dense_peak, retrieval.lexical_peak = 0.31, 0.62
    retrieval.indexed = 999  # a real site: the peaks as they are
    assert features(retrieval)["dense_peak"] == pytest.approx(0.31)
    assert features(retrieval)["lexical_peak"] == pytest.approx(0.62)
    retrieval.indexed = 12  # one page: its best of a dozen sections always stands out
    assert features(retrieval)["dense_peak"] == pytest.approx(0.31 * math.log10(13) / 3)


def _found(anchor: str, dense: float, lexical: float) -> Retrieved:
    return Retrieved(_chunk(anchor), 0.02, dense=dense, lexical=lexical)


def test_a_section_that_stands_out_has_high_peaks_and_an_even_field_low_ones() -> None:
    standout = [_found("a", 0.71, 12.0)] + [_found(f"b{i}", 0.30 - i / 100, 2.0) for i in range(12)]
    even = [_found(f"c{i}", 0.42 - i / 1000, 5.0 - i / 100) for i in range(12)]
    dense_peak, lexical_peak = _peaks(standout)
    assert dense_peak == pytest.approx(0.71 - 0.22)  # against the tenth best cosine
    assert lexical_peak == pytest.approx((12.0 - (12.0 + 9 * 2.0) / 10) / 12.0)
    flat_dense, flat_lexical = _peaks(even)
    assert flat_dense < 0.01 and flat_lexical < 0.02
    # sections keyword search alone found (cosine 0) do not count for the dense peak
    assert _peaks([_found("x", 0.5, 0.0), _found("y", 0.0, 3.0)]) == (0.0, 0.5)
    assert _peaks([]) == (0.0, 0.0)


def test_the_packaged_calibration_uses_exactly_the_features_and_says_where_it_came_from() -> None:
    calibration = load_calibration()
    assert set(calibration.weights) == set(FEATURES)
    assert "dev split" in calibration.note and 0 < calibration.threshold < 1


def test_a_calibration_naming_a_feature_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "abstention.json"
    path.write_text(json.dumps({"weights": {"margin": 1.0}, "bias": 0, "threshold": 0.5}))
    with pytest.raises(CalibrationError, match="unknown features"):
        load_calibration(path)
