"""Server benchmark on loopback: requests/s and p50/p99 latency of `?ask=` (local answers),
`POST /v1/chat`, and an authenticated route (key verification + listing the caller's keys,
with the per-key rate-limit counter on), against a bare FastAPI hello-world served the same
way (uvicorn, one worker) in the same run; prints the ratio and the server's peak RSS.

The authenticated route runs once per `--keys` count: with 1 key every request is the same
caller; with 100, requests take turns over 100 keys of 100 owners, as on a server with many
active users (each key's use written once a minute, every due rate-limit lease synced once
a second). Each key is used once before the clock starts.

    .venv/bin/python bench/server.py [--clients 16] [--seconds 5] [--keys 1,100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import quote

import httpx

REPO = Path(__file__).resolve().parent.parent
HELLO = (
    "from fastapi import FastAPI\n"
    "app = FastAPI()\n"
    "@app.get('/hello')\n"
    "async def hello() -> dict[str, str]:\n"
    "    return {'hello': 'world'}\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(args: list[str], env: dict[str, str], cwd: Path, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            *args,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=cwd,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if (
                httpx.get(
                    f"http://127.0.0.1:{port}/healthz"
                    if "factory" in " ".join(args)
                    else f"http://127.0.0.1:{port}/hello",
                    timeout=1,
                ).status_code
                == 200
            ):
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


class Conn:
    """A minimal keep-alive HTTP/1.1 client (one connection per simulated client), so the
    load generator costs far less CPU than the servers it measures."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        lines = [
            f"{method} {target} HTTP/1.1",
            f"Host: 127.0.0.1:{self.port}",
            f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = re.search(rb"(?i)content-length: *(\d+)", head)
        await self.reader.readexactly(int(length.group(1)) if length else 0)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class Tally:
    """Requests of one route, possibly over several rounds."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def row(self) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        return f"{self.name:32} {self.rps:8.1f} {p50:8.1f} {p99:8.1f} {self.errors:7d}"


async def load(
    tally: Tally, port: int, clients: int, seconds: float, make: object, at_least: int = 0
) -> float:
    """Run `clients` keep-alive clients for `seconds` (and `at_least` requests each); add
    to `tally`; return req/s."""
    count = len(tally.latencies)
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        conn = Conn(port)
        done = 0
        try:
            while time.perf_counter() < stop or done < at_least:
                done += 1
                started = time.perf_counter()
                status = await make(conn)  # type: ignore[operator]
                tally.latencies.append(time.perf_counter() - started)
                tally.errors += status >= 400
        finally:
            conn.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - began
    tally.elapsed += elapsed
    return (len(tally.latencies) - count) / elapsed


def list_keys(c: Conn, *, callers: list[dict[str, str]], turn: Iterator[int]) -> object:
    """The authenticated route, each request as the next of `callers` in turn."""
    return c.request("GET", "/v1/user/api_keys", callers[next(turn) % len(callers)])


def more_keys(data_dir: Path, count: int) -> list[str]:
    """`count` more keys, each of its own owner, in the running server's key store."""
    if count <= 0:
        return []
    sys.path.insert(0, str(REPO))  # the packages, not this folder's same-named scripts
    from agent.config import AgentSettings
    from agent.db import make_engine
    from agent.keys.local import LocalKeyManager

    settings = AgentSettings(data_dir=data_dir)
    engine = make_engine(settings)
    manager = LocalKeyManager(engine, settings)
    try:
        suffix = time.monotonic_ns()
        return [manager.create(f"bench-{suffix}-{i}", "bench")[1] for i in range(count)]
    finally:
        manager.close()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="the authenticated route and hello-world alternate in this many slices, so "
        "load from anything else on the machine hits both alike",
    )
    parser.add_argument(
        "--keys",
        default="1,100",
        help="comma-separated counts of active keys (one owner each) for the authenticated route",
    )
    parser.add_argument(
        "--routes",
        default="ask,chat,auth",
        help="comma-separated subset of ask,chat,auth (hello-world always runs)",
    )
    opts = parser.parse_args()
    wanted = {r.strip() for r in opts.routes.split(",") if r.strip()}
    work = Path(tempfile.mkdtemp(prefix="docsagent-bench-"))
    shutil.copytree(REPO / "docs_cache", work / "docs_cache")
    (work / "hello_app.py").write_text(HELLO)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCSAGENT_")}
    env.update(
        PYTHONPATH=str(REPO),
        ANONYMIZED_TELEMETRY="False",
        DOCSAGENT_DATA_DIR=str(work / "data"),
        DOCSAGENT_DOCS_CACHE=str(work / "docs_cache"),
        DOCSAGENT_FALLBACK_ENABLED="false",
        DOCSAGENT_RATE_LIMIT_PER_KEY=os.environ.get("BENCH_RATE_LIMIT", "1000000000"),
        DOCSAGENT_LOG_LEVEL="WARNING",
        DOCSAGENT_EMBED_THREADS=os.environ.get("BENCH_EMBED_THREADS", "0"),
    )
    port, hello_port = free_port(), free_port()
    server = start(["--factory", "server.app:app_factory"], env, work, port)
    hello = start(["hello_app:app"], env, work, hello_port)
    try:
        # the server shows its bootstrap key on a terminal only: make the bench's own key
        # with the CLI on the same data dir instead
        cli = "from server.cli import main; main()"
        made = subprocess.run(
            [sys.executable, "-c", cli, "keys", "create", "bench", "--owner", "admin", "--json"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        secret = json.loads(made.stdout)["api_key"]
        page = "/workspace/settings/user-settings/api-keys.md"
        questions = [
            "How do I rotate an API key?",
            "How do I generate an API key?",
            "What happens to the old key when I rotate it?",
        ]
        counter = iter(range(10**9))
        json_headers = {"Content-Type": "application/json"}

        def ask(c: Conn) -> object:
            q = quote(questions[next(counter) % 3])
            return c.request("GET", f"{page}?ask={q}", {})

        def chat(c: Conn) -> object:
            body = json.dumps({"message": questions[next(counter) % 3]}).encode()
            return c.request("POST", "/v1/chat", json_headers, body)

        def hello_world(c: Conn) -> object:
            return c.request("GET", "/hello", {})

        plan = [
            ("ask", "?ask= (local)", port, ask),
            ("chat", "POST /v1/chat", port, chat),
        ]
        tallies: list[Tally] = []
        for key, name, target, make in plan:
            if key in wanted:
                tallies.append(Tally(name))
                asyncio.run(load(tallies[-1], target, opts.clients, opts.seconds, make))
        bare = Tally("hello-world")
        authed: list[tuple[Tally, Tally, list[float]]] = []
        secrets = [secret]
        for count in [int(n) for n in opts.keys.split(",")] if "auth" in wanted else []:
            secrets += more_keys(work / "data", count - len(secrets))
            callers = [{"Authorization": f"Bearer {s}"} for s in secrets[:count]]
            keys = partial(list_keys, callers=callers, turn=iter(range(10**9)))
            asyncio.run(load(Tally("warm-up"), port, 1, 0.0, keys, at_least=count))
            tally, paired, ratios = Tally(f"GET /v1/user/api_keys ({count} keys)"), Tally(""), []
            for _ in range(opts.rounds):
                piece = opts.seconds / opts.rounds
                rps = asyncio.run(load(tally, port, opts.clients, piece, keys))
                rps_hello = asyncio.run(load(paired, hello_port, opts.clients, piece, hello_world))
                ratios.append(rps / rps_hello)
            bare.latencies += paired.latencies
            bare.elapsed += paired.elapsed
            authed.append((tally, paired, ratios))
        if not authed:
            asyncio.run(load(bare, hello_port, opts.clients, opts.seconds, hello_world))
        tallies += [t for t, _, _ in authed] + [bare]
        print(f"clients={opts.clients} seconds={opts.seconds} (1 uvicorn worker each, loopback)")
        print(f"{'route':32} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for tally in tallies:
            print(tally.row())
        for tally, paired, ratios in authed:
            print(
                f"authenticated {tally.name.split()[-2][1:]} key(s) / hello-world requests/s: "
                f"{tally.rps / paired.rps:.2f} (rounds: {min(ratios):.2f}–{max(ratios):.2f})"
            )
        print(f"docsagent server peak RSS: {peak_rss_mb(server.pid):.0f} MB")
    finally:
        for proc in (server, hello):
            proc.terminate()
            proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
