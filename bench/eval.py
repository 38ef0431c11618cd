"""Evaluate the offline answerer on a question file (default bench/questions.json).

Ingests the shipped docs_cache into a temporary index, runs every question through
`agent.service.answer` (fallback on, the docs site replaced by a local mock so nothing
leaves the machine) and prints retrieval hit@1 / hit@3, answer-contains rate, fallback
rates and latency p50 / p95.

    .venv/bin/python bench/eval.py [questions.json]
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.config import AgentSettings  # noqa: E402
from agent.service import answer, build_services  # noqa: E402
from ingest.pipeline import run_ingest  # noqa: E402

MOCK_ANSWER = (
    "# {q}\n\nThe docs site answered.\n\n# Sources:\n- [Home](https://docs.nexos.ai/.md)\n"
)


def _upstream(request: httpx.Request) -> httpx.Response:
    question = request.url.params.get("ask", "")
    return httpx.Response(200, text=MOCK_ANSWER.format(q=question))


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def run(path: Path) -> dict[str, Any]:
    cases = json.loads(path.read_text())
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    with tempfile.TemporaryDirectory() as tmp:
        settings = AgentSettings(
            data_dir=Path(tmp) / "data", docs_cache=ROOT / "docs_cache", fallback_enabled=True
        )
        await run_ingest(settings, [str(ROOT / "docs_cache")])
        async with httpx.AsyncClient(transport=httpx.MockTransport(_upstream)) as client:
            services = build_services(settings, http_client=client)
            await answer(services, "warm up")  # load the model and the BM25 index once
            rows = []
            for case in cases:
                started = time.perf_counter()
                result = await answer(services, case["question"])
                rows.append((case, result, (time.perf_counter() - started) * 1000))
    in_scope = [(c, r, ms) for c, r, ms in rows if not c.get("out_of_scope")]
    out_scope = [(c, r, ms) for c, r, ms in rows if c.get("out_of_scope")]

    def anchors(result: Any) -> list[str]:
        return [s.url.split("#", 1)[1] for s in result.sources if "#" in s.url]

    hit1 = sum(1 for c, r, _ in in_scope if anchors(r)[:1] and anchors(r)[0] in c["anchors"])
    hit3 = sum(1 for c, r, _ in in_scope if set(anchors(r)[:3]) & set(c["anchors"]))
    contains = sum(
        1 for c, r, _ in in_scope if all(s.lower() in r.answer.lower() for s in c["contains"])
    )
    local_ms = [ms for _, r, ms in rows if r.mode == "local"]
    misses = [
        c["question"]
        for c, r, _ in in_scope
        if r.mode != "local" or not (anchors(r)[:1] and anchors(r)[0] in c["anchors"])
    ]
    return {
        "questions": len(rows),
        "in_scope": len(in_scope),
        "out_of_scope": len(out_scope),
        "hit@1": hit1 / max(1, len(in_scope)),
        "hit@3": hit3 / max(1, len(in_scope)),
        "answer_contains": contains / max(1, len(in_scope)),
        "fallback_rate_in_scope": sum(1 for _, r, _ in in_scope if r.mode != "local")
        / max(1, len(in_scope)),
        "fallback_rate_out_of_scope": sum(1 for _, r, _ in out_scope if r.mode == "fallback")
        / max(1, len(out_scope)),
        "fallback_rate_overall": sum(1 for _, r, _ in rows if r.mode == "fallback") / len(rows),
        "local_latency_ms_p50": _percentile(local_ms, 50),
        "local_latency_ms_p95": _percentile(local_ms, 95),
        "misses_at_1": misses,
    }


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "questions.json"
    report = asyncio.run(run(path))
    for key, value in report.items():
        shown = f"{value:.3f}" if isinstance(value, float) else value
        print(f"{key:28} {shown}")


if __name__ == "__main__":
    main()
