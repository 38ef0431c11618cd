"""Fit the answer-or-fall-back model on the dev split and write agent/data/abstention.json.

    python bench/calibrate.py --sites CORPORA_DIR [--data DIR] [--out FILE]

Every site of bench/eval/sites.json and the shipped page are indexed (incrementally in
--data), each dev question is retrieved exactly as an answer would be (a follow-up after its
first turn, with the context the service keeps of it), and
the retrieval's `agent.abstain.features` are the model's inputs.

The model is a logistic regression over `agent.abstain.FEATURES` (standardised, L2
regularised, the two classes weighted equally, then folded back to raw-feature weights);
the label is "the question is in scope for that site". The threshold is the probability
that keeps out-of-scope questions answered locally at or below 10% on dev while refusing
as few in-scope ones as possible. Only dev rows are read: a test row is an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.append(str(ROOT / "bench"))

from eval import load_sites, split_of  # noqa: E402

from agent.abstain import DEFAULT_PATH, FEATURES, Calibration, features  # noqa: E402
from agent.config import AgentSettings  # noqa: E402
from agent.profile import load_profile  # noqa: E402
from agent.retrieve import Context, Retrieval, Retriever  # noqa: E402
from ingest.embed import make_embeddings  # noqa: E402
from ingest.pipeline import run_ingest  # noqa: E402
from ingest.store import open_index  # noqa: E402

MAX_OUT_ANSWERED = 0.10


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 20000) -> np.ndarray:
    """Weights (bias last) of an L2-regularised, class-balanced logistic regression."""
    z = np.hstack([x, np.ones((len(x), 1))])
    share = y.mean()
    sample = np.where(y > 0, 0.5 / share, 0.5 / (1 - share))
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w)))
        grad = z.T @ ((p - y) * sample) / len(y)
        grad[:-1] += l2 * w[:-1] / len(y)
        w -= 0.5 * grad
    return w


def turn_context(question: str, retrieval: Retrieval) -> Context:
    """What the service keeps of a docs turn for the next one: the question, and the
    cited page when it was answered here (`agent.service._docs_turn`)."""
    best = retrieval.best
    anchor = best.chunk.anchor_url if best and retrieval.confident else ""
    return Context(question=question, page_url=anchor.split("#", 1)[0], anchor_url=anchor)


async def dev_rows(args: argparse.Namespace, work: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for site in load_sites(args, work / "sites"):
        base = (args.data / site.name) if args.data else work / site.name
        settings = AgentSettings(data_dir=base / "data", docs_cache=site.cache)
        await run_ingest(settings, [str(site.cache)])
        # the features do not depend on the packaged calibration (which may not fit
        # FEATURES while they change): retrieve with a neutral one
        index = open_index(settings, make_embeddings(settings))
        retriever = Retriever(
            index, profile=load_profile(settings.docs_cache), calibration=Calibration({}, 0.0, 0.5)
        )
        for case in site.questions:
            if split_of(case["id"]) != "dev":
                continue  # only dev is read
            context = None
            for earlier in case.get("history", []):  # as a conversation's previous turn
                context = turn_context(earlier, retriever.retrieve(earlier, context=context))
            values = features(retriever.retrieve(case["question"], context=context))
            rows.append(
                {"site": site.name, "out_of_scope": bool(case.get("out_of_scope")), **values}
            )
        print(
            f"[{site.name}] {sum(r['site'] == site.name for r in rows)} dev rows", file=sys.stderr
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", metavar="CORPORA_DIR", required=True)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args()
    args.corpus = None
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(dev_rows(args, Path(tmp)))
    x = np.array([[float(r[f]) for f in FEATURES] for r in rows])
    y = np.array([0.0 if r["out_of_scope"] else 1.0 for r in rows])
    mu, sd = x.mean(0), x.std(0) + 1e-9
    w = fit((x - mu) / sd, y)
    weights = w[:-1] / sd
    bias = float(w[-1] - (w[:-1] * mu / sd).sum())
    p = 1 / (1 + np.exp(-(x @ weights + bias)))
    best = 0.5
    for threshold in np.linspace(0.05, 0.95, 181):
        out_answered = float(((p >= threshold) & (y == 0)).sum() / max(1, (y == 0).sum()))
        if out_answered <= MAX_OUT_ANSWERED:
            best = float(threshold)
            break
    answered = p >= best
    sites = Counter(r["site"] for r in rows)
    note = (
        f"fitted {datetime.now(UTC):%Y-%m-%d} by bench/calibrate.py on the dev split of "
        f"bench/eval ({len(rows)} questions, follow-ups after their first turn: "
        + ", ".join(f"{s} {n}" for s, n in sorted(sites.items()))
        + f"); dev: in-scope answered {answered[y == 1].mean():.2f}, "
        f"out-of-scope answered {answered[y == 0].mean():.2f}"
    )
    data = {
        "note": note,
        "weights": {f: round(float(v), 4) for f, v in zip(FEATURES, weights, strict=True)},
        "bias": round(bias, 4),
        "threshold": round(best, 3),
    }
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
