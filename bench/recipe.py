"""Our retrieval against the plain LangChain tutorial recipe, on the eval sites and questions.

The recipe is what a LangChain RAG tutorial does, reimplemented here without new
dependencies: every page's markdown as stored in the docs cache (front matter, GitBook tags
and all), `RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)` (separators
"\\n\\n", "\\n", " ", "", length = len, start offsets as `add_start_index`), each chunk
embedded with the same local MiniLM model our index uses (which, like any 256-word-piece
model, reads only a long chunk's beginning), and the cosine top k=4 for the question.
"Ours" is `Retriever.retrieve(question)` over the index `bench/eval.py` builds.

A recipe chunk counts as on a gold section when any markdown heading in force at its start,
or inside it, is the gold section (or the gold section is an ancestor of one); it covers a
page intro when it starts before the page's first heading below the title. That is
generous to the recipe: a 1000-character chunk often straddles several sections.

Metrics, on in-scope single-turn questions (follow-ups and out-of-scope cases skipped):
page_hit@1, section_hit@3, fact_recall@3 / @4 (one of the case's facts, `_norm`-ed, is in
the top 3 / 4 contexts' text: does the context hold the answer) and words@3 (mean words in
the top 3 contexts: bigger chunks buy recall with length). "overall" pools every question.

    python bench/recipe.py --sites /work/corpora --data /work/lab/evaldata --split dev
    options: --split dev|test|all (default test), --only SITE[,SITE], --no-profile
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))

from eval import Site, _gold, _is_gold, _norm, _split, _words, load_sites, split_of  # noqa: E402

from agent.config import AgentSettings  # noqa: E402
from agent.profile import SiteProfile  # noqa: E402
from agent.service import build_services  # noqa: E402
from ingest.cache import DocsCache  # noqa: E402
from ingest.embed import make_embeddings  # noqa: E402
from ingest.pipeline import run_ingest  # noqa: E402

CHUNK_SIZE, CHUNK_OVERLAP, K = 1000, 200, 4
SEPARATORS = ["\n\n", "\n", " ", ""]
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _pieces(text: str, sep: str) -> list[str]:
    """LangChain's `_split_text_with_regex`, keep_separator=True: a separator starts a piece."""
    if not sep:
        return list(text)
    parts = re.split(f"({re.escape(sep)})", text)
    return [
        p for p in [parts[0]] + [a + b for a, b in zip(parts[1::2], parts[2::2], strict=True)] if p
    ]


def _merge(splits: list[str]) -> list[str]:
    """`TextSplitter._merge_splits` with the empty separator kept-separator splits use."""
    docs: list[str] = []
    current: list[str] = []
    total = 0
    for d in splits:
        if total + len(d) > CHUNK_SIZE and current:
            if doc := "".join(current).strip():
                docs.append(doc)
            while total > CHUNK_OVERLAP or (total + len(d) > CHUNK_SIZE and total > 0):
                total -= len(current.pop(0))
        current.append(d)
        total += len(d)
    if doc := "".join(current).strip():
        docs.append(doc)
    return docs


def _recursive(text: str, separators: list[str]) -> list[str]:
    """`RecursiveCharacterTextSplitter._split_text`."""
    sep, rest = separators[-1], []
    for i, s in enumerate(separators):
        if s == "" or s in text:
            sep, rest = s, (separators[i + 1 :] if s else [])
            break
    chunks: list[str] = []
    good: list[str] = []
    for piece in _pieces(text, sep):
        if len(piece) < CHUNK_SIZE:
            good.append(piece)
            continue
        if good:
            chunks += _merge(good)
            good = []
        chunks += _recursive(piece, rest) if rest else [piece]
    return chunks + (_merge(good) if good else [])


def split_page(text: str) -> list[tuple[int, str]]:
    """(start offset, chunk) in page order. `add_start_index` looks for a chunk from the
    previous start + its length - the overlap; so do we, but never at or before the previous
    start (where a chunk shorter than the overlap finds an earlier copy of its text)."""
    out: list[tuple[int, str]] = []
    for chunk in _recursive(text, SEPARATORS):
        after = max(out[-1][0] + 1, out[-1][0] + len(out[-1][1]) - CHUNK_OVERLAP) if out else 0
        out.append((text.find(chunk, after), chunk))
    return out


def _headings(text: str) -> list[tuple[int, int, str]]:
    """(offset, level, `_words` title) of the page's `#` headings outside code fences."""
    found, offset, fenced = [], 0, False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := _HEADING.match(line)):
            title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", re.sub(r"<[^>]*>", " ", m[2]))
            found.append((offset, len(m[1]), _words(title)))
        offset += len(line)
    return found


@dataclass
class Passage:
    page: str  # the page URL our chunks carry
    text: str
    sections: frozenset[str]  # `_words` of the headings in force at its start or inside it
    intro: bool  # starts before the page's first heading below the title


def recipe_passages(site: Site) -> list[Passage]:
    """Every page of the site's docs cache, split as the tutorial splits it."""
    out: list[Passage] = []
    for page in DocsCache(site.cache).pages():  # the URLs our ingest gives these files
        text = page.path.read_text(encoding="utf-8", errors="replace")
        heads = _headings(text)
        first_sub = next((o for o, level, _ in heads if level > 1), len(text))
        for start, chunk in split_page(text):
            stack: list[tuple[int, str]] = []
            for offset, level, title in heads:
                if offset > start:
                    break
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, title))
            inside = {t for o, _, t in heads if start < o < start + len(chunk)}
            sections = frozenset({t for _, t in stack} | inside)
            out.append(Passage(page.url, chunk, sections, start < first_sub))
    return out


def _recipe_gold(site: Site, case: dict[str, Any], p: Passage) -> bool:
    return any(
        p.page == page and (wanted in p.sections if wanted else p.intro)
        for page, wanted in _gold(site, case)
    )


def _scores(
    case: dict[str, Any], pages: list[str], gold: list[bool], texts: list[str], gold_pages: set[str]
) -> dict[str, float]:
    facts = [_norm(f) for f in case.get("facts", [])]

    def recall(k: int) -> float:
        context = _norm("\n\n".join(texts[:k]))
        return float(any(f and f in context for f in facts))

    return {
        "page_hit@1": float(bool(pages) and pages[0] in gold_pages),
        "section_hit@3": float(any(gold[:3])),
        "fact_recall@3": recall(3),
        "fact_recall@4": recall(K),
        "words@3": float(sum(len(t.split()) for t in texts[:3])),
    }


def run_site(site: Site, args: argparse.Namespace, work: Path) -> dict[str, list[dict]]:
    cases = [
        q
        for q in site.questions
        if (args.split == "all" or split_of(q["id"]) == args.split)
        and not q.get("history")
        and not q.get("out_of_scope")
    ]
    base = (args.data / site.name) if args.data else work / site.name
    settings = AgentSettings(data_dir=base / "data", docs_cache=site.cache)
    asyncio.run(run_ingest(settings, [str(site.cache)]))
    services = build_services(settings)
    if args.no_profile:
        services.retriever.profile = SiteProfile()
    embedder = make_embeddings(settings)
    passages = recipe_passages(site)
    print(f"[{site.name}] {len(cases)} questions; embedding {len(passages)} recipe chunks",
          file=sys.stderr, flush=True)  # fmt: skip
    matrix = np.asarray(embedder.embed_documents([p.text for p in passages]), dtype=np.float32)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    rows: dict[str, list[dict]] = {"ours": [], "recipe": []}
    for case in cases:
        gold_pages = {p for p, _ in _gold(site, case)}
        hits = services.retriever.retrieve(case["question"]).hits[:K]
        ours = [(*_split(h.chunk.anchor_url), h.chunk.section, h.chunk.breadcrumb) for h in hits]
        rows["ours"].append(
            _scores(
                case,
                [s[0] for s in ours],
                [_is_gold(site, case, *s) for s in ours],
                [h.chunk.text for h in hits],
                gold_pages,
            )
        )
        query = np.asarray(embedder.embed_query(case["question"]), dtype=np.float32)
        top = [passages[i] for i in np.argsort(-(matrix @ query), kind="stable")[:K]]
        rows["recipe"].append(
            _scores(
                case,
                [p.page for p in top],
                [_recipe_gold(site, case, p) for p in top],
                [p.text for p in top],
                gold_pages,
            )
        )
    return rows


METRICS = ("page_hit@1", "section_hit@3", "fact_recall@3", "fact_recall@4", "words@3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", metavar="CORPORA_DIR", required=True)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--split", default="test", choices=["dev", "test", "all"])
    parser.add_argument("--only", help="comma-separated site names")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    args.corpus = None
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    report: dict[str, dict[str, list[dict]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for site in load_sites(args, Path(tmp) / "sites"):
            if not args.only or site.name in args.only.split(","):
                report[site.name] = run_site(site, args, Path(tmp))
    report["overall"] = {
        side: [r for rows in list(report.values()) for r in rows[side]]
        for side in ("ours", "recipe")
    }
    print(f"\nsplit: {args.split} (in-scope single-turn questions; recipe k={K})")
    print(f"{'':24}" + "".join(f"{n:>12}" for n in report))
    print(f"{'questions':24}" + "".join(f"{len(r['ours']):>12}" for r in report.values()))
    for key in METRICS:
        for side in ("ours", "recipe"):
            cells = [
                sum(row[key] for row in r[side]) / max(1, len(r[side])) for r in report.values()
            ]
            fmt = ".1f" if key.startswith("words") else ".3f"
            print(f"{side + ' ' + key:24}" + "".join(f"{v:>12{fmt}}" for v in cells))


if __name__ == "__main__":
    main()
