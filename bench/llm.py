"""Grounded LLM mode with a real local model: load time, time to first token, tokens/s,
RSS, and answer quality side by side with offline mode on the same questions.

    python bench/llm.py [--model qwen2.5-coder-0.5b] [--url URL] [--sites CORPORA_DIR]
                        [--split test] [--only nexos,axon] [--data DIR] [--warm]

Without --url it starts llama-server from `<data_dir>/llm` (`make llm-setup` puts it and
the model there) and stops it at the end. Speed is measured on grounded prompts built
from the shipped page (what a chat answer sends) and, with --sites, the first token on
six questions of each site's split; quality runs `bench/eval.py` twice on the chosen
split, offline and with DOCSAGENT_LLM=local against that server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.config import AgentSettings  # noqa: E402
from agent.extractive import compose  # noqa: E402
from agent.grounded import GroundedWriter, grounding  # noqa: E402
from agent.service import build_services  # noqa: E402
from ingest.pipeline import run_ingest  # noqa: E402

SITE = "https://docs.nexos.ai"
QUESTIONS = (
    "How do I rotate an API key?",
    "Where do I create an API key?",
    "Can I see my API key again after closing the pop-up?",
)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def speed(
    url: str, model: str, max_tokens: int, warm: bool = False
) -> list[tuple[float, int, float]]:
    """(seconds to first token, tokens, tokens/s after the first) per grounded prompt,
    through the chat model LLM mode itself makes; `warm`: after the warm-up the server
    does at start (`GroundedWriter.warm`), else on a server that has read nothing yet."""
    from agent.llm import make_chat_model

    with tempfile.TemporaryDirectory() as tmp:
        settings = AgentSettings(data_dir=Path(tmp), docs_cache=ROOT / "docs_cache")
        await run_ingest(settings, [str(settings.docs_cache)])
        services = build_services(settings)
        retrievals = [services.retriever.retrieve(q) for q in QUESTIONS]
    chat, _ = make_chat_model(
        AgentSettings(llm="local", llm_url=url, llm_model=model, llm_max_tokens=max_tokens)
    )
    if warm:
        writer = GroundedWriter(chat, site=SITE, max_tokens=max_tokens, timeout=60, queue_wait=15)
        took = await writer.warm()
        print(f"warm-up {took:.2f} s" if took is not None else "warm-up failed")
    out = []
    for question, retrieval in zip(QUESTIONS, retrievals, strict=True):
        draft = compose(question, retrieval)
        messages = grounding(question, retrieval, draft).messages(SITE)
        started = time.perf_counter()
        first, tokens = 0.0, 0
        async for chunk in chat.astream(messages):
            if chunk.content:
                tokens += 1
                first = first or time.perf_counter() - started
        total = time.perf_counter() - started
        out.append((first, tokens, (tokens - 1) / max(1e-9, total - first)))
    return out


async def site_first_tokens(
    url: str, model: str, args: argparse.Namespace, per_site: int = 6
) -> None:
    """First-token p50 on real sites' grounded prompts: the first `per_site` in-scope
    single-turn questions of each site's split (their sources are longer than the shipped
    page's), on a warmed server; only the first token is waited for."""
    from agent.llm import make_chat_model

    sys.path.append(str(ROOT / "bench"))
    from eval import load_sites, split_of

    chat, _ = make_chat_model(AgentSettings(llm="local", llm_url=url, llm_model=model))
    await GroundedWriter(chat, site=SITE, max_tokens=1, timeout=60, queue_wait=15).warm()
    with tempfile.TemporaryDirectory() as tmp:
        only = set(filter(None, args.only.split(",")))
        args.corpus = None
        for site in load_sites(args, Path(tmp)):
            if only and site.name not in only:
                continue
            base = (args.data / site.name) if args.data else Path(tmp) / site.name
            settings = AgentSettings(data_dir=base / "data", docs_cache=site.cache)
            await run_ingest(settings, [str(site.cache)])
            services = build_services(settings)
            cases = [
                c["question"]
                for c in site.questions
                if split_of(c["id"]) == args.split
                and not c.get("history")
                and not c.get("out_of_scope")
            ][:per_site]
            firsts, sizes = [], []
            for question in cases:
                retrieval = services.retriever.retrieve(question)
                ground = grounding(question, retrieval, compose(question, retrieval))
                messages = ground.messages(SITE)
                sizes.append(sum(len(t) for t in ground.texts))
                started, first = time.perf_counter(), 0.0
                async for chunk in chat.bind(max_tokens=2).astream(messages):
                    first = first or (time.perf_counter() - started if chunk.content else 0.0)
                firsts.append(first)
            firsts.sort()
            if firsts:
                print(
                    f"[{site.name}] first token p50 {firsts[len(firsts) // 2]:.2f} s "
                    f"(min {firsts[0]:.2f}, max {firsts[-1]:.2f}) over {len(firsts)} "
                    f"questions; sources p50 {sorted(sizes)[len(sizes) // 2]} characters"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--url", default="")
    parser.add_argument("--sites", metavar="CORPORA_DIR")
    parser.add_argument("--split", default="test", choices=["dev", "test", "all"])
    parser.add_argument("--only", default="")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--max-tokens", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-quality", action="store_true")
    parser.add_argument("--warm", action="store_true", help="warm up first, as serve does")
    parser.add_argument(
        "--home", type=Path, help="llama-server and models (default: data dir's llm/)"
    )
    args = parser.parse_args()
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    settings = AgentSettings(data_dir=ROOT / ".docsagent")
    server, url = None, args.url
    if not url:
        from agent.local_llm import LlamaServer, find_binary, resolve_model, verify_model

        home = args.home or settings.llm_dir
        path, sha256 = resolve_model(args.model, home / "models")
        started = time.perf_counter()
        if sha256:
            verify_model(path, sha256)
        verified = time.perf_counter() - started
        binary = find_binary(home)
        if binary is None:
            raise SystemExit("no llama-server: run `make llm-setup` first")
        server = LlamaServer(binary, path, threads=args.threads)
        started = time.perf_counter()
        server.start()
        loaded = time.perf_counter() - started
        print(f"sha256 check {verified:.1f} s; llama-server load {loaded:.1f} s")
        url = server.base_url
    try:
        runs = asyncio.run(speed(url, args.model, args.max_tokens, args.warm))
        for (first, tokens, rate), question in zip(runs, QUESTIONS, strict=True):
            print(f"first token {first:5.2f} s  {tokens:4d} tokens  {rate:5.1f} tok/s  {question}")
        if server is not None and server.pid:
            print(f"llama-server RSS {_rss_mb(server.pid):.0f} MB")
        if args.sites:
            asyncio.run(site_first_tokens(url, args.model, args))
        if args.no_quality:
            return
        common = [sys.executable, str(ROOT / "bench" / "eval.py"), "--split", args.split]
        common += ["--sites", args.sites] if args.sites else []
        common += ["--only", args.only] if args.only else []
        common += ["--data", str(args.data)] if args.data else []
        print("\n== offline", flush=True)
        subprocess.run(common, check=True, env={**os.environ, "DOCSAGENT_LLM": ""})
        print("\n== grounded LLM mode", flush=True)
        env = {
            **os.environ,
            "DOCSAGENT_LLM": "local",
            "DOCSAGENT_LLM_URL": url,
            "DOCSAGENT_LLM_MODEL": args.model,
            "DOCSAGENT_LLM_MAX_TOKENS": str(args.max_tokens),
            "DOCSAGENT_LLM_TIMEOUT": "120",
        }
        subprocess.run(common, check=True, env=env)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
