"""Local answer latency with every evaluation site in ONE index (about 10,000 real chunks).

    python bench/answer_latency.py CORPORA_DIR [--data DIR] [--rounds 2]

Ingests the sites of bench/eval/sites.json (and the shipped page) into a single index,
then answers every question of their files through `agent.service.answer` (hybrid
retrieval, the decision, composition; fallback off) and prints the chunk count and the
p50 / p95 of the answers given locally, in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))

from corpus import prepare  # noqa: E402

from agent.config import AgentSettings  # noqa: E402
from agent.service import answer, build_services  # noqa: E402
from ingest.pipeline import run_ingest  # noqa: E402

EVAL = ROOT / "bench" / "eval"


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))] if values else 0.0


async def run(corpora: Path, data: Path, rounds: int) -> None:
    cache = data / "docs_cache"
    questions: list[str] = []
    for spec in json.loads((EVAL / "sites.json").read_text()):
        prepare(corpora / spec["checkout"], spec["host"], cache)
        questions += [q["question"] for q in json.loads((EVAL / spec["questions"]).read_text())]
    shutil.copytree(
        ROOT / "docs_cache" / "docs.nexos.ai", cache / "docs.nexos.ai", dirs_exist_ok=True
    )
    questions += [q["question"] for q in json.loads((EVAL / "nexos.json").read_text())]
    settings = AgentSettings(data_dir=data / "data", docs_cache=cache, fallback_enabled=False)
    await run_ingest(settings, [str(cache)])
    services = build_services(settings)
    chunks = len(services.retriever.lexicon())
    await answer(services, "warm up")
    local: list[float] = []
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            result = await answer(services, question)
            if result.mode == "local":
                local.append((time.perf_counter() - started) * 1000)
    print(f"chunks indexed        {chunks}")
    print(f"questions x rounds    {len(questions)} x {rounds}, answered locally {len(local)}")
    print(f"local answer p50 ms   {_pct(local, 50):.1f}")
    print(f"local answer p95 ms   {_pct(local, 95):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpora", type=Path)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    if args.data:
        asyncio.run(run(args.corpora, args.data, args.rounds))
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.corpora, Path(tmp), args.rounds))


if __name__ == "__main__":
    main()
