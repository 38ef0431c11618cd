"""Ingest benchmark: prints numbers, asserts nothing.

    .venv/bin/python bench/ingest.py [--pages N | --dir PATH] [--search-chunks N]

Generates N synthetic GitBook pages (hints, steppers, tabs, code, tables) or takes a
directory of markdown, then measures, in one process:
  parse+chunk pages/s; the bare ONNX model's word-pieces/s on the same chunks (length-
  sorted, real tokens counted; at most 2,500 of them, evenly picked) at batch 32 and at the
  embedder's own batch shapes; the full pipeline's pages/s, chunks/s and word-pieces/s and
  its ratio to the raw model at the same shapes (the pipeline's overhead); a re-ingest of
  the unchanged corpus; search latency p50/p95 (optionally after padding the index to
  --search-chunks with random unit vectors); peak RSS.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.chunk import chunk_page
from ingest.config import IngestSettings
from ingest.embed import MiniLMEmbeddings
from ingest.parse import parse_page
from ingest.pipeline import MAX_TOKENS, OVERLAP, ingest_sync
from ingest.store import open_index

WORDS = (
    "api key token rotate revoke team workspace model agent chat project billing invoice "
    "integration guardrail observability usage limit policy member admin role permission "
    "request response endpoint gateway request header secret storage upload file document "
    "search memory routing research preview prompt library approval human loop settings"
).split()


def sentence(rng: random.Random, n: int | None = None) -> str:
    words = [rng.choice(WORDS) for _ in range(n or rng.randint(6, 18))]
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 5)))


def synthetic_page(rng: random.Random, n: int) -> str:
    title = f"Feature {n} {rng.choice(WORDS).title()}"
    out = [f"# {title}", "", paragraph(rng), ""]
    out += ['{% hint style="info" %}', sentence(rng), "{% endhint %}", ""]
    out += [f"## Set up {rng.choice(WORDS)}", "", "{% stepper %}"]
    for s in range(rng.randint(3, 5)):
        out += ["{% step %}", "", f"### Step {s + 1}: {rng.choice(WORDS)}", "", paragraph(rng)]
        out += ["", '<figure><img src="/files/x" alt="screen"><figcaption></figcaption></figure>']
        out += ["{% endstep %}", ""]
    out += ["{% endstepper %}", "", f"## Use {rng.choice(WORDS)}", "", "{% tabs %}"]
    for lang in ("Python", "curl"):
        out += [f'{{% tab title="{lang}" %}}', "```", f"call {rng.choice(WORDS)}", "```"]
        out += ["{% endtab %}"]
    out += ["{% endtabs %}", "", "| Field | Meaning |", "| --- | --- |"]
    out += [f"| {rng.choice(WORDS)} | {sentence(rng, 6)} |" for _ in range(3)]
    out += ["", "## Details", "", *(paragraph(rng) + "\n" for _ in range(rng.randint(2, 6)))]
    return "\n".join(out)


def write_corpus(root: Path, pages: int) -> list[Path]:
    rng = random.Random(42)
    paths = []
    for n in range(pages):
        path = root / f"section-{n % 20}" / f"page-{n}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(synthetic_page(rng, n), encoding="utf-8")
        paths.append(path)
    return paths


def raw_model_rate(emb: MiniLMEmbeddings, texts: list[str], *, own_shapes: bool) -> float:
    """Word pieces/s of bare session runs (sorted, tokenised beforehand), 32 rows a batch
    or cut like the embedder cuts them (`own_shapes`)."""
    ids = sorted(emb.encode(texts), key=len)
    if own_shapes:
        cuts = emb.plan_batches([len(row) for row in ids])
    else:
        cuts = [list(range(start, min(start + 32, len(ids)))) for start in range(0, len(ids), 32)]
    tokens, seconds = 0, 0.0
    for cut in cuts:
        rows = [ids[i] for i in cut]
        width = max(map(len, rows))
        input_ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)], mask[i, : len(row)] = row, 1
        feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": mask * 0}
        t = time.perf_counter()
        emb.session.run(["last_hidden_state"], feed)
        seconds += time.perf_counter() - t
        tokens += int(mask.sum())
    return tokens / seconds


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw_in_child(texts: list[str], threads: int) -> tuple[float, float]:
    """(word pieces/s at batch 32, at the embedder's shapes) of the bare model."""
    emb = MiniLMEmbeddings(threads=threads)
    return raw_model_rate(emb, texts, own_shapes=False), raw_model_rate(emb, texts, own_shapes=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--dir", type=Path, default=None, help="ingest this markdown dir instead")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--search-chunks", type=int, default=0, help="pad index to N chunks")
    ap.add_argument("--threads", type=int, default=0, help="ONNX threads (0 = cores)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (corpus, index)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="docsagent-bench-"))
    corpus = args.dir or work / "corpus"
    files = sorted(corpus.rglob("*.md")) if args.dir else write_corpus(corpus, args.pages)
    settings = IngestSettings(
        data_dir=work / "data", docs_cache=work / "cache", embed_threads=args.threads
    )
    emb = MiniLMEmbeddings(threads=args.threads)
    print(f"corpus: {len(files)} pages in {corpus}; model loaded, peak RSS {_peak_mb():,.0f} MB")

    bodies = [(p.read_text(encoding="utf-8"), p.resolve().as_uri()) for p in files]
    t, cpu = time.perf_counter(), time.process_time()
    chunks = [
        c
        for body, url in bodies
        for c in chunk_page(
            parse_page(body, url),
            max_tokens=MAX_TOKENS,
            overlap=OVERLAP,
            count_tokens=emb.count_tokens,
            count_many=emb.count_tokens_many,
        )
    ]
    parse_s, parse_cpu = time.perf_counter() - t, time.process_time() - cpu
    print(
        f"parse+chunk: {len(files) / parse_s:,.0f} pages/s wall, "
        f"{len(files) / parse_cpu:,.0f} pages/s of CPU time ({len(chunks)} chunks)"
    )

    # in a child process, so the peak RSS printed below is the pipeline's own
    sample = [c.embed_text for c in chunks[:: max(1, len(chunks) // 2500)]]
    del bodies, chunks  # the bench's copies; the pipeline reads and chunks the corpus itself
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        raw32, raw = pool.submit(raw_in_child, sample, args.threads).result()
    print(
        f"raw model (bare ONNX, {len(sample)} chunks): {raw32:,.0f} word-pieces/s at batch 32, "
        f"{raw:,.0f} at the embedder's batch shapes"
    )

    report = ingest_sync(settings, [str(corpus)], embeddings=emb)
    s = report.seconds
    rate = report.tokens_embedded / s
    print(
        f"pipeline: {report.new / s:,.1f} pages/s, {report.chunks_embedded / s:,.1f} chunks/s, "
        f"{rate:,.0f} word-pieces/s = {rate / raw:.0%} of raw at the same shapes "
        f"({rate / raw32:.0%} of batch 32) ({s:.1f} s, "
        f"{report.tokens_embedded:,} word-pieces)"
    )
    print(f"peak RSS after the pipeline: {_peak_mb():,.0f} MB")
    again = ingest_sync(settings, [str(corpus)], embeddings=emb)
    print(
        f"re-ingest unchanged: {again.seconds:.2f} s "
        f"({again.unchanged} unchanged, {again.chunks_embedded} embedded)"
    )

    index = open_index(settings, emb)
    if args.search_chunks > index.count():
        col, rng = index._col(), np.random.default_rng(0)
        missing = args.search_chunks - index.count()
        for start in range(0, missing, 2000):
            n = min(2000, missing - start)
            vecs = rng.standard_normal((n, emb.dimension)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            col.add(
                ids=[f"pad-{start + i}" for i in range(n)],
                embeddings=vecs,
                documents=["pad"] * n,
                metadatas=[
                    {
                        "page_url": "pad",
                        "md_url": "pad",
                        "title": "",
                        "section": "",
                        "anchor_url": "pad",
                        "breadcrumb": "",
                        "position": i,
                        "sha256": "",
                        "text": "pad",
                    }
                    for i in range(n)
                ],
            )
    rng_q = random.Random(7)
    queries = [sentence(rng_q, rng_q.randint(3, 10)) for _ in range(args.queries)]
    index.search(queries[0])  # warm up
    lat = []
    for q in queries:
        t = time.perf_counter()
        index.search(q, k=5)
        lat.append((time.perf_counter() - t) * 1000)
    p95 = statistics.quantiles(lat, n=20)[18]
    print(
        f"search at {index.count():,} chunks: p50 {statistics.median(lat):.1f} ms, "
        f"p95 {p95:.1f} ms (k=5, query embedding included)"
    )
    peak_mb = _peak_mb()
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:,.0f} MB (raw-model child process: {child_mb:,.0f} MB)")
    if args.keep:
        print(f"(work dir {work})")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
