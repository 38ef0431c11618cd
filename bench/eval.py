"""Answer quality on real docs sites, on a fixed dev/test split.

Each site is ingested into its own temporary index and every question goes through
`agent.service.answer` (fallback on; the docs site is a local mock, so nothing leaves the
machine; a follow-up is asked after its `history` in the same conversation). Printed per
site and overall, for the chosen split:

- correct: answered locally, a gold section cited, and one of the key facts in the answer
  (share of in-scope questions); correct_in_words: the same with a fact counted when 80%
  of its content words (stemmed) are in the answer, so a model's paraphrase can count;
- wrongly refused: in-scope questions not answered locally; out-of-scope answered locally;
- abstention precision / recall (abstaining = not answering locally; positive = out of scope);
- citation precision: cited sources of local answers that are on a gold page;
- section hit@1 / hit@3 and page hit@1 of the retrieval itself; the share of local
  answers a model wrote (LLM mode; 0 offline) and the citations that point at no source;
  latency p50 / p95 of local answers.

The split is fixed by a hash of each question id (`split_of`): tune on dev, report test.

    python bench/eval.py                                  # the shipped nexos.ai page
    python bench/eval.py --corpus DIR --questions FILE [--host HOST]
    python bench/eval.py --sites CORPORA_DIR              # every site in bench/eval/sites.json
    options: --split dev|test|all (default test), --show N (failures printed per site),
             --no-profile (ignore sites' docsagent.yaml: the core alone),
             --data DIR (keep the indexes there between runs; re-ingest is incremental)

A CORPORA_DIR holds one checkout per site, named as in sites.json ("owner+name").
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))

from corpus import page_url, prepare  # noqa: E402

from agent.config import AgentSettings  # noqa: E402
from agent.profile import SiteProfile  # noqa: E402
from agent.service import answer, build_services  # noqa: E402
from ingest.pipeline import run_ingest  # noqa: E402
from ingest.terms import terms  # noqa: E402

EVAL_DIR = ROOT / "bench" / "eval"
FACT_WORDS = 0.8  # share of a fact's content words `correct_in_words` asks for
MOCK_ANSWER = "# {q}\n\nThe docs site answered.\n\n# Sources:\n- [Home](https://{h}/readme.md)\n"


def split_of(question_id: str) -> str:
    """'dev' or 'test', fixed forever by the id (never by content or order)."""
    return "test" if int(hashlib.sha256(question_id.encode()).hexdigest(), 16) % 2 else "dev"


def _norm(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[*_`>|]", " ", text).replace("\\", "")
    return " ".join(re.sub(r"[^\w%./:@=+-]+", " ", text.lower()).split())


def _in_words(fact: str, answer: str) -> bool:
    """Most of a fact's content words (stemmed) are in the answer: a paraphrase that keeps
    the fact's terms ("the old key stops working" for "the old key will stop working")."""
    wanted = set(terms(fact))
    return bool(wanted) and len(wanted & set(terms(answer))) >= FACT_WORDS * len(wanted)


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


@dataclass
class Site:
    name: str
    cache: Path  # a docs-cache layout: <cache>/<host>/...
    host: str
    questions: list[dict[str, Any]]


@dataclass
class Row:
    case: dict[str, Any]
    mode: str
    answer: str
    sources: list[tuple[str, str, str, str]]  # (page url, anchor, section title, breadcrumb)
    ms: float
    correct: bool
    cited_gold: bool
    fact: bool
    retrieved: list[tuple[str, str, str, str]] = field(default_factory=list)  # like sources
    generation: str = "extractive"
    fact_in_words: bool = False  # a fact's words are in the answer, not necessarily verbatim


def _gold(site: Site, case: dict[str, Any]) -> list[tuple[str, str]]:
    host = case.get("site") or site.host  # a cache of several sites names each question's
    return [(page_url(host, g["page"]), _words(g["section"])) for g in case.get("gold", [])]


def _is_gold(
    site: Site, case: dict[str, Any], url: str, anchor: str, section: str, breadcrumb: str
) -> bool:
    """A cited section is gold when it is a gold section or lies under one (the steps
    under "Restoring to a point in time" answer from that section); the page intro
    ("") is gold only itself."""
    ancestors = {_words(p) for p in breadcrumb.split(" › ")[1:-1]}
    for page, wanted in _gold(site, case):
        if url != page:
            continue
        if wanted == "" and not anchor:
            return True
        if wanted and (_words(section) == wanted or anchor.replace("-", " ") == wanted):
            return True
        if wanted and wanted in ancestors:
            return True
    return False


def _split(url: str) -> tuple[str, str]:
    page, _, anchor = url.partition("#")
    return page, anchor


async def run_site(site: Site, split: str, data: Path | None, profile: bool) -> list[Row]:
    cases = [q for q in site.questions if split == "all" or split_of(q["id"]) == split]
    with tempfile.TemporaryDirectory() as tmp:
        base = (data / site.name) if data else Path(tmp)
        settings = AgentSettings(
            data_dir=base / "data",
            docs_cache=site.cache,
            fallback_enabled=True,
            upstream_url=f"https://{site.host}",
            site_url=f"https://{site.host}",
        )
        started = time.perf_counter()
        await run_ingest(settings, [str(site.cache)])
        print(
            f"[{site.name}] indexed in {time.perf_counter() - started:.0f} s; "
            f"{len(cases)} questions",
            file=sys.stderr,
            flush=True,
        )

        def upstream(request: httpx.Request) -> httpx.Response:
            q = request.url.params.get("ask", "")
            return httpx.Response(200, text=MOCK_ANSWER.format(q=q, h=site.host))

        async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as client:
            services = build_services(settings, http_client=client)
            if not profile:
                services.retriever.profile = SiteProfile()
            await answer(services, "warm up")  # load the model and the lexical index once
            rows = []
            for case in cases:
                conv, token = None, None
                for earlier in case.get("history", []):
                    turn = await answer(
                        services, earlier, conversation_id=conv, conversation_token=token
                    )
                    conv, token = turn.conversation_id, token or turn.conversation_token
                started = time.perf_counter()
                result = await answer(
                    services, case["question"], conversation_id=conv, conversation_token=token
                )
                ms = (time.perf_counter() - started) * 1000
                crumbs = {
                    c.anchor_url: c.breadcrumb
                    for s in result.sources
                    for c in services.retriever.page(_split(s.url)[0])
                }
                srcs = [(*_split(s.url), s.section, crumbs.get(s.url, "")) for s in result.sources]
                local = result.mode == "local"
                cited = local and any(_is_gold(site, case, *s) for s in srcs)
                text = _norm(result.answer)
                fact = any(_norm(f) in text for f in case.get("facts", []))
                row = Row(case, result.mode, result.answer, srcs, ms, cited and fact, cited, fact)
                row.generation = result.generation
                row.fact_in_words = any(_in_words(f, result.answer) for f in case.get("facts", []))
                if not case.get("history"):
                    retrieval = services.retriever.retrieve(case["question"])
                    row.retrieved = [
                        (*_split(h.chunk.anchor_url), h.chunk.section, h.chunk.breadcrumb)
                        for h in retrieval.hits
                    ]
                rows.append(row)
    return rows


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def summarise(site: Site, rows: list[Row]) -> dict[str, Any]:
    ins = [r for r in rows if not r.case.get("out_of_scope")]
    outs = [r for r in rows if r.case.get("out_of_scope")]
    abstained = [r for r in rows if r.mode != "local"]
    cited = [s for r in ins if r.mode == "local" for s in r.sources]
    gold_pages = {id(r): {p for p, _ in _gold(site, r.case)} for r in ins}
    on_gold = sum(
        1 for r in ins if r.mode == "local" for s in r.sources if s[0] in gold_pages[id(r)]
    )

    def hit(r: Row, k: int) -> bool:
        return any(_is_gold(site, r.case, *s) for s in r.retrieved[:k])

    scored = [r for r in ins if r.retrieved]
    n = max(1, len(ins))
    return {
        "questions": len(rows),
        "in_scope": len(ins),
        "out_of_scope": len(outs),
        "correct": sum(r.correct for r in ins) / n,
        "correct_in_words": sum(r.cited_gold and r.fact_in_words for r in ins) / n,
        "cited_gold": sum(r.cited_gold for r in ins) / n,
        "fact_present": sum(r.fact for r in ins if r.mode == "local") / n,
        "wrongly_refused": sum(r.mode != "local" for r in ins) / n,
        "out_answered_locally": sum(r.mode == "local" for r in outs) / max(1, len(outs)),
        "abstain_precision": sum(1 for r in abstained if r.case.get("out_of_scope"))
        / max(1, len(abstained)),
        "abstain_recall": sum(r.mode != "local" for r in outs) / max(1, len(outs)),
        "citation_precision": on_gold / max(1, len(cited)),
        "section_hit@1": sum(hit(r, 1) for r in scored) / max(1, len(scored)),
        "section_hit@3": sum(hit(r, 3) for r in scored) / max(1, len(scored)),
        "page_hit@1": sum(
            1 for r in scored if r.retrieved[:1] and r.retrieved[0][0] in gold_pages[id(r)]
        )
        / max(1, len(scored)),
        "written_by_model": sum(r.generation == "llm" for r in rows if r.mode == "local")
        / max(1, sum(r.mode == "local" for r in rows)),
        "citations_to_nowhere": sum(
            1
            for r in rows
            if r.mode == "local"
            for n in re.findall(r"\[(\d+)\]", re.sub(r"`[^`]*`", "", r.answer))
            if not 1 <= int(n) <= len(r.sources)
        ),
        "local_ms_p50": _pct([r.ms for r in rows if r.mode == "local"], 50),
        "local_ms_p95": _pct([r.ms for r in rows if r.mode == "local"], 95),
    }


def show_failures(site: Site, rows: list[Row], limit: int) -> None:
    bad = [
        r
        for r in rows
        if (r.case.get("out_of_scope") == (r.mode == "local"))
        or (not r.case.get("out_of_scope") and not r.correct)
    ]
    for r in bad[:limit]:
        c = r.case
        gold = [f"{g['page']}#{g['section']}" for g in c.get("gold", [])]
        print(f"\n--- {c['id']} [{c.get('kind')}] {c['question']!r} history={c.get('history', [])}")
        print(f"    gold={gold} facts={c.get('facts')}")
        print(f"    mode={r.mode} cited={r.cited_gold} fact={r.fact}")
        got = [f"{u.rsplit('/', 1)[-1]}#{a}" for u, a, _, _ in r.retrieved[:3]]
        print(f"    retrieved={got}")
        print("    " + r.answer[:600].replace("\n", "\n    "))


def load_sites(args: argparse.Namespace, work: Path) -> list[Site]:
    sites: list[Site] = []
    if args.corpus:
        corpus = Path(args.corpus)
        questions = json.loads(Path(args.questions).read_text())
        host = args.host or corpus.name
        if (corpus / "SUMMARY.md").exists() or (corpus / ".gitbook.yaml").exists():
            prepare(corpus, host, work / host)
            corpus = work / host
        sites.append(Site(Path(args.questions).stem, corpus, host, questions))
    elif args.sites:
        for spec in json.loads((EVAL_DIR / "sites.json").read_text()):
            checkout = Path(args.sites) / spec["checkout"]
            if not checkout.is_dir():
                raise SystemExit(f"{checkout}: missing (see bench/eval/sites.json for its repo)")
            prepare(checkout, spec["host"], work / spec["host"])
            questions = json.loads((EVAL_DIR / spec["questions"]).read_text())
            sites.append(Site(spec["name"], work / spec["host"], spec["host"], questions))
    if not args.corpus and (args.sites or not sites):
        questions = json.loads((EVAL_DIR / "nexos.json").read_text())
        sites.append(Site("nexos", ROOT / "docs_cache", "docs.nexos.ai", questions))
    return sites


FIELDS = (
    "questions", "in_scope", "out_of_scope", "correct", "correct_in_words", "wrongly_refused",
    "out_answered_locally", "abstain_precision", "abstain_recall", "citation_precision",
    "section_hit@1", "section_hit@3", "page_hit@1", "written_by_model",
    "citations_to_nowhere", "local_ms_p50", "local_ms_p95",
)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus")
    parser.add_argument("--questions")
    parser.add_argument("--host")
    parser.add_argument("--sites", metavar="CORPORA_DIR")
    parser.add_argument("--split", default="test", choices=["dev", "test", "all"])
    parser.add_argument("--show", type=int, default=0)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--only", help="comma-separated site names")
    args = parser.parse_args()
    if bool(args.corpus) != bool(args.questions):
        parser.error("--corpus and --questions go together")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    with tempfile.TemporaryDirectory() as tmp:
        sites = load_sites(args, Path(tmp) / "sites")
        if args.only:
            sites = [s for s in sites if s.name in args.only.split(",")]
        report: dict[str, dict[str, Any]] = {}
        for site in sites:
            rows = asyncio.run(run_site(site, args.split, args.data, not args.no_profile))
            report[site.name] = summarise(site, rows)
            if args.show:
                show_failures(site, rows, args.show)
    print(f"\nsplit: {args.split}")
    names = list(report)
    print(f"{'':24}" + "".join(f"{n:>12}" for n in names))
    for key in FIELDS:
        cells = []
        for n in names:
            v = report[n][key]
            cells.append(
                f"{v:>12.3f}"
                if isinstance(v, float) and "ms" not in key
                else f"{v:>12.1f}"
                if isinstance(v, float)
                else f"{v:>12}"
            )
        print(f"{key:24}" + "".join(cells))


if __name__ == "__main__":
    main()
