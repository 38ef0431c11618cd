"""The labelled routing evaluation set (`routing_eval/dev.txt`, `routing_eval/test.txt`):
loading, running a case through the real `agent.routing.route`, and precision / recall
per action class. Used by `test_routing_eval.py` and printed by `bench/routing.py`.

The dev split is what the routing rules were tuned on; the test split was written after
them and is the one to report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.routing import Intent, route

HERE = Path(__file__).resolve().parent / "routing_eval"
SPLITS = ("dev", "test", "holdout")
CLASSES = ("docs", "generate", "list", "rotate", "revoke", "clarify", "confirm", "deny")
KEY_CLASSES = ("generate", "list", "rotate", "revoke")


@dataclass(frozen=True)
class Key:
    id: str
    name: str


KEYS = [
    Key("3f2a9c1e-1111-4222-8333-444455556666", "cli-key"),
    Key("k-production", "Production"),
    Key("k-my-app", "My app"),
    Key("k-alice-second", "alice-second"),
    Key("k-old-laptop", "Old laptop"),
    Key("k-staging-2", "staging-2"),
    Key("k-ci", "CI"),
    Key("k-team-dashboard", "Team Dashboard"),
    Key("k-build-bot", "build_bot"),
    Key("k-prod-eu-west", "prod-EU-west"),
]
_BY_NAME = {k.name: k for k in KEYS}
_NAME_OF = {k.id: k.name for k in KEYS}


@dataclass(frozen=True)
class Case:
    split: str
    line: int
    labels: tuple[str, ...]  # accepted labels, preferred first: "rotate=cli-key", "docs"
    context: str
    message: str

    @property
    def label(self) -> str:
        """The preferred label: what the figures count."""
        return self.labels[0]

    @property
    def kind(self) -> str:
        return self.label.split("=", 1)[0]

    @property
    def id(self) -> str:
        return f"{self.split}:{self.line}:{self.message[:40]}"


def load(split: str) -> list[Case]:
    cases = []
    text = (HERE / f"{split}.txt").read_text(encoding="utf-8")
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        label, context, message = (part.strip() for part in raw.split("|", 2))
        labels = tuple(part.strip() for part in label.split("/"))
        cases.append(Case(split, number, labels, context or "in", message))
    return cases


def previous_of(context: str) -> dict[str, Any]:
    """The meta of the previous assistant turn a context stands for."""
    if context == "docs":
        return {"intent": "docs", "topic": "Pages"}
    if context.startswith("key="):
        return {"intent": "generate", "key_ref": _BY_NAME[context[4:]].id}
    if context.startswith("await="):
        return {"intent": context[6:], "awaiting": context[6:]}
    if context == "pending":
        return {"intent": "rotate", "pending_id": "pa_eval", "key_ref": KEYS[0].id}
    return {}


def run(case: Case) -> Intent:
    """The real router on one case: the user's keys when signed in, none when signed out."""
    keys = None if case.context == "out" else (lambda: KEYS)
    context = "in" if case.context == "out" else case.context
    return route(case.message, previous_of(context), keys)


def label_of(intent: Intent) -> str:
    """An intent in the label language of the set."""
    if intent.kind in ("rotate", "revoke"):
        if intent.every_key:
            return f"{intent.kind}=*"
        if intent.key_ref is None:
            return f"{intent.kind}=?"
        name = _NAME_OF.get(intent.key_ref)
        return f"{intent.kind}={name}" if name else f"{intent.kind}=!{intent.key_ref}"
    if intent.kind == "generate" and intent.name:
        return f"generate={intent.name}"
    return intent.kind


def scores(results: list[tuple[Case, str]]) -> dict[str, dict[str, float]]:
    """Precision and recall of each class by kind; `right` counts the key / name as well."""
    out: dict[str, dict[str, float]] = {}
    for cls in CLASSES:
        expected = [got for case, got in results if case.kind == cls]
        predicted = [case for case, got in results if got.split("=", 1)[0] == cls]
        hits = sum(1 for case, got in results if case.kind == cls and got.split("=")[0] == cls)
        out[cls] = {
            "n": len(expected),
            "precision": hits / len(predicted) if predicted else 1.0,
            "recall": hits / len(expected) if expected else 1.0,
            "right": sum(1 for case, got in results if case.kind == cls and got == case.label)
            / max(1, len(expected)),
        }
    return out


def summary(results: list[tuple[Case, str]]) -> dict[str, float]:
    """The issue's two targets: docs questions sent to rotate/revoke, key requests right."""
    docs = [got for case, got in results if case.kind == "docs"]
    keyed = [(case, got) for case, got in results if case.kind in KEY_CLASSES]
    return {
        "docs_to_rotate_or_revoke": sum(1 for g in docs if g.split("=")[0] in ("rotate", "revoke")),
        "key_requests_right": sum(1 for c, g in keyed if g == c.label) / max(1, len(keyed)),
        "messages": len(results),
    }


def report(split: str) -> str:
    """The figures of one split as a small table."""
    results = [(case, label_of(run(case))) for case in load(split)]
    lines = [f"routing eval, {split} split: {len(results)} messages"]
    lines.append(f"  {'class':9} {'n':>4} {'precision':>9} {'recall':>7} {'right':>6}")
    for cls, row in scores(results).items():
        lines.append(
            f"  {cls:9} {row['n']:>4.0f} {row['precision']:>9.3f} {row['recall']:>7.3f} "
            f"{row['right']:>6.3f}"
        )
    total = summary(results)
    lines.append(
        f"  docs questions routed to rotate/revoke: {total['docs_to_rotate_or_revoke']:.0f}; "
        f"key requests routed right: {total['key_requests_right']:.3f}"
    )
    misses = [f"    {c.label} <- {g}: {c.message}" for c, g in results if g != c.label]
    return "\n".join(lines + (["  misrouted:", *misses] if misses else []))
