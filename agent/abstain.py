"""Answer locally or fall back to the docs site: a small logistic model over retrieval
features, fitted on the dev split of the evaluation sites (`bench/calibrate.py`) and
stored with a note of the data it came from in `agent/data/abstention.json`.

The features say how well the best sections match, never which site they come from:
the best cosine similarity, how much of the question's idf weight the best section and
its page carry, how much of it is in words the site never uses, and how far the best
section stands out from the next ten in dense and in keyword search (a question the
docs answer has one section that stands out; a question they do not answer matches many
sections about equally: with the two peaks, correct on dev went from 90 to 95 of 172
in-scope questions, out-of-scope answered 5 → 4 of 53). Fitted together,
the section's share gets a negative weight beside the page's: on dev, near-topic
questions the docs do not answer often reuse one section's words ("delete a key instead
of rotating it") where answerable paraphrases spread over the page. (Other features, such
as the margin to the runner-up, agreement of dense and keyword search or sentence-level
similarity, did not separate better on the dev split when one site was held out.)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import CalibrationError

if TYPE_CHECKING:
    from agent.retrieve import Retrieval

FEATURES = ("dense", "coverage", "page", "unknown", "dense_peak", "lexical_peak")
DEFAULT_PATH = Path(__file__).with_name("data") / "abstention.json"


def features(retrieval: Retrieval) -> dict[str, float]:
    """The decision's inputs for one retrieval (all 0 when nothing was found).

    - dense: the best cosine similarity among the top three sections;
    - coverage: the share of the question's idf weight, over the words this site uses,
      that the best section carries;
    - page: the same share for the best section's whole page (a question whose words
      are all on one page is most likely answered there, even when one section holds
      only some of them);
    - unknown: the share of the question's weight in words the site never uses, scaled
      by the size of the index (on a one-page site most words are "unknown" and say
      little; on a thousand sections they say the question is about something else).
    """
    hits = retrieval.hits[:3]
    scale = min(1.0, math.log10(1 + retrieval.indexed) / 3)
    unknown = retrieval.oov * scale
    # scaled as `unknown` is: among a one-page site's few sections the best always stands out
    peaks = {
        "dense_peak": retrieval.dense_peak * scale,
        "lexical_peak": retrieval.lexical_peak * scale,
    }
    if not hits:
        return {"dense": 0.0, "coverage": 0.0, "page": 0.0, "unknown": unknown, **peaks}
    total = retrieval.weight(retrieval.known)

    def share(present: frozenset[str]) -> float:
        return (
            retrieval.weight(retrieval.matched(present) & retrieval.known) / total if total else 0.0
        )

    page = retrieval.page_terms.get(hits[0].chunk.page_url, hits[0].terms) | hits[0].terms
    return {
        "dense": max(h.dense for h in hits),
        "coverage": share(hits[0].terms),
        "page": share(page),
        "unknown": unknown,
        **peaks,
    }


@dataclass(frozen=True)
class Calibration:
    """Weights of the logistic model and the probability above which we answer."""

    weights: dict[str, float]
    bias: float
    threshold: float
    note: str = ""

    def probability(self, values: dict[str, float]) -> float:
        z = self.bias + sum(w * values.get(name, 0.0) for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def covered(self, retrieval: Retrieval) -> bool:
        """True when the local docs answer: answer here, do not fall back."""
        return bool(retrieval.hits) and self.probability(features(retrieval)) >= self.threshold


def load_calibration(path: Path | None = None) -> Calibration:
    """The fitted model (the packaged one unless `path` is given)."""
    path = path or DEFAULT_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        weights = {str(k): float(v) for k, v in data["weights"].items()}
        unknown = set(weights) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}")
        return Calibration(
            weights, float(data["bias"]), float(data["threshold"]), str(data.get("note", ""))
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CalibrationError(f"{path}: not a usable abstention calibration: {exc}") from exc
