"""The labelled routing evaluation set, one test per message (`routing_eval/*.txt`), and
the issue's targets on the whole of each split: no docs question routed to rotate or
revoke, at least 0.97 of key requests routed right. The figures per action class are
printed at the end of the run (`tests/agent/conftest.py`) and by `bench/routing.py`."""

from __future__ import annotations

import pytest

from tests.agent.routing_eval import SPLITS, Case, label_of, load, run, scores, summary

CASES = [case for split in SPLITS for case in load(split)]


def test_the_set_is_big_and_varied_enough() -> None:
    assert len(CASES) >= 200
    kinds = {case.kind for case in CASES}
    assert {"docs", "generate", "list", "rotate", "revoke", "clarify", "confirm"} <= kinds
    assert sum(1 for c in CASES if c.kind == "docs" and "key" in c.message.lower()) >= 20
    assert sum(1 for c in CASES if c.context == "out") >= 10


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_message_is_routed_as_labelled(case: Case) -> None:
    got = label_of(run(case))
    assert got in case.labels, f"{case.message!r} in context {case.context!r}: {got}"
    if case.context == "out":  # signed out there are no keys to ask about
        assert not got.startswith("clarify")


@pytest.mark.parametrize("split", SPLITS)
def test_targets_hold_on_each_split(split: str) -> None:
    results = [(case, label_of(run(case))) for case in load(split)]
    total = summary(results)
    assert total["docs_to_rotate_or_revoke"] == 0
    assert total["key_requests_right"] >= 0.97
    per_class = scores(results)
    assert per_class["rotate"]["precision"] == 1.0 and per_class["revoke"]["precision"] == 1.0
