"""`?ask=` throughput of the scaled setup: `uvicorn --workers N` (N = 1, 2, 4) on
PostgreSQL + a Chroma server, driven by concurrent loopback clients.

Needs the services of `scripts/services.sh` (DOCSAGENT_TEST_DATABASE_URL and
DOCSAGENT_TEST_CHROMA_URL, or the defaults it prints). Each run gets its own PostgreSQL
schema and Chroma collection, ingested once before the workers start. Prints requests/s,
p50/p99 latency and the workers' summed RSS per worker count.

    .venv/bin/python bench/server_scaled.py [--requests 600] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
PAGE = "/workspace/settings/user-settings/api-keys.md"
DEFAULT_DB = "postgresql+psycopg://docsagent:docsagent@127.0.0.1:5432/docsagent"
DEFAULT_CHROMA = "http://127.0.0.1:8765"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(master: int) -> float:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    total = 0
    for pid in [str(master), *children]:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


async def load(url: str, questions: list[str], requests: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            for n in counter:
                started = time.perf_counter()
                response = await client.get(PAGE, params={"ask": questions[n % len(questions)]})
                response.raise_for_status()
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def run(workers: int, env: dict[str, str], args: argparse.Namespace, root: Path) -> str:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    master = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "server.app:create_app", "--factory",
         "--workers", str(workers), "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or master.poll() is not None:
                raise SystemExit(f"{workers} worker(s) did not start")
            time.sleep(0.3)
        questions = [q["question"] for q in json.loads((REPO / "bench/questions.json").read_text())]
        asyncio.run(load(url, questions, max(40, args.requests // 10), args.concurrency))  # warm-up
        started = time.perf_counter()
        latencies = asyncio.run(load(url, questions, args.requests, args.concurrency))
        elapsed = time.perf_counter() - started
        q = statistics.quantiles(latencies, n=100)
        return (
            f"workers={workers}  requests={len(latencies)}  concurrency={args.concurrency}  "
            f"{len(latencies) / elapsed:7.1f} req/s  p50={q[49] * 1000:6.1f} ms  "
            f"p99={q[98] * 1000:6.1f} ms  rss={rss_mb(master.pid):6.0f} MB"
        )
    finally:
        master.terminate()
        master.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    base = os.environ.get("DOCSAGENT_TEST_DATABASE_URL", DEFAULT_DB)
    chroma = os.environ.get("DOCSAGENT_TEST_CHROMA_URL", DEFAULT_CHROMA)
    schema, collection = f"bench_{uuid.uuid4().hex[:10]}", f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    root = Path(tempfile.mkdtemp(prefix="docsagent-bench-"))
    shutil.copytree(REPO / "docs_cache", root / "docs_cache")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCSAGENT_")}
    env.update(
        DOCSAGENT_DATA_DIR=str(root / "data"),
        DOCSAGENT_DOCS_CACHE=str(root / "docs_cache"),
        DOCSAGENT_DATABASE_URL=f"{base}?options={quote(f'-csearch_path={schema}')}",
        DOCSAGENT_CHROMA_URL=chroma,
        DOCSAGENT_CHROMA_COLLECTION=collection,
        DOCSAGENT_KEY_PEPPER="bench-pepper-" + uuid.uuid4().hex,
        DOCSAGENT_FALLBACK_ENABLED="false",
        DOCSAGENT_RATE_LIMIT_PER_KEY="0",
        DOCSAGENT_RATE_LIMIT_FAILED_AUTH="0",
        DOCSAGENT_LOG_LEVEL="WARNING",
        ANONYMIZED_TELEMETRY="False",
    )
    try:
        # ingest and migrate once, so the timed servers only serve
        subprocess.run(
            [str(Path(sys.executable).parent / "docsagent"), "ingest", str(root / "docs_cache")],
            cwd=root, env={**env, "PYTHONPATH": str(REPO)}, check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        print(f"?ask= on PostgreSQL + Chroma server ({os.cpu_count()} cores)")
        for workers in args.workers:
            print(run(workers, env, args, root), flush=True)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        shutil.rmtree(root, ignore_errors=True)
        import chromadb
        import chromadb.config

        host, port = chroma.rsplit("//", 1)[1].split(":")
        client = chromadb.HttpClient(
            host=host, port=int(port), settings=chromadb.config.Settings(anonymized_telemetry=False)
        )
        try:
            client.delete_collection(collection)
        except chromadb.errors.NotFoundError:
            pass


if __name__ == "__main__":
    main()
