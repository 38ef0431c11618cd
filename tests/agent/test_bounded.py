"""The one eviction rule of the server's in-memory maps."""

from __future__ import annotations

from agent.bounded import put_bounded


def test_the_oldest_written_entries_go_first_and_a_rewrite_makes_an_entry_newest() -> None:
    store: dict[str, int] = {}
    for n, key in enumerate("abc"):
        put_bounded(store, key, n, limit=3)
    put_bounded(store, "a", 10, limit=3)  # rewritten: now the newest
    put_bounded(store, "d", 3, limit=3)  # one too many: "b", the oldest write, goes
    assert store == {"c": 2, "a": 10, "d": 3} and list(store) == ["c", "a", "d"]
    put_bounded(store, "e", 4, limit=1)  # a smaller limit drops all but the newest
    assert store == {"e": 4}
