"""Print the routing figures of the labelled evaluation set (tests/agent/routing_eval/):
precision, recall and exact-right rate per action class, the docs questions routed to
rotate/revoke and the share of key requests routed right, per split, plus the time
routing takes per message.

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


if __name__ == "__main__":
    main()
