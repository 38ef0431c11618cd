"""Print the routing figures of the labelled evaluation set (tests/agent/routing_eval/):
precision, recall and exact-right rate per action class, the docs questions routed to
rotate/revoke and the share of key requests routed right, per split, plus the time
routing takes per message (with the set's 10 keys, and with 1,000 similar ones).

    .venv/bin/python bench/routing.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.agent.routing_eval import SPLITS, load, report, run  # noqa: E402


def main() -> None:
    for split in SPLITS:
        print(report(split))
        cases = load(split)
        started = time.perf_counter()
        for _ in range(20):
            for case in cases:
                run(case)
        per_message = (time.perf_counter() - started) / (20 * len(cases)) * 1e6
        print(f"  routing time per message: {per_message:.0f} µs\n")
    many_keys()


def many_keys(count: int = 1000) -> None:
    """Routing time when the user has `count` keys with similar names (the worst case)."""
    from agent.routing import route
    from tests.agent.routing_eval import Key

    keys = [Key(f"k-{i}", f"service-{i}-key") for i in range(count)]
    for message in ("rotate service-517-key", "rotate servce-517-key", "delete this page"):
        started = time.perf_counter()
        for _ in range(20):
            route(message, {}, lambda: keys)
        per_message = (time.perf_counter() - started) / 20 * 1000
        print(f"  {count} keys, {message!r}: {per_message:.1f} ms")


if __name__ == "__main__":
    main()
