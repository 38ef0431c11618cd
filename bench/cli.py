"""CLI start-up: wall time of `docsagent --help`, `keys list`, `stats`, `ask` and an
unchanged re-ingest, each run as a fresh process (what a user waits for in a terminal),
and the modules `--help` imports.

    .venv/bin/python bench/cli.py [--runs 5]

Runs in a temporary data dir with the shipped docs ingested once beforehand.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCSAGENT = Path(sys.executable).with_name("docsagent")
COMMANDS: dict[str, list[str]] = {
    "--help": ["--help"],
    "keys list": ["keys", "list"],
    "stats": ["stats"],
    "ask": ["ask", "How do I rotate an API key?"],
    "ingest (unchanged)": ["ingest"],
}
HEAVY = ("chromadb", "langchain_core", "langgraph", "onnxruntime", "sqlalchemy", "fastapi")


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run; CPU time varies less on a busy machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([str(DOCSAGENT), *args], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _heavy_imports(env: dict[str, str]) -> list[str]:
    """The heavy packages imported by `docsagent --help`."""
    code = (
        "import sys; sys.argv = ['docsagent', '--help']\n"
        "from server.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    lines = done.stderr.strip().splitlines()
    return [m for m in (lines[-1] if lines else "").split(",") if m]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    try:
        shutil.copytree(REPO / "docs_cache", root / "docs_cache")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DOCSAGENT_")},
            "DOCSAGENT_DATA_DIR": str(root / "data"),
            "DOCSAGENT_DOCS_CACHE": str(root / "docs_cache"),
            "DOCSAGENT_FALLBACK_ENABLED": "false",
            "ANONYMIZED_TELEMETRY": "False",
        }
        _run(["ingest"], env)  # the index exists before anything is timed
        print(f"load average before: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
        print(f"{'command':<20} {'wall median s':>13} {'min s':>6} {'CPU median s':>13}")
        for name, argv in COMMANDS.items():
            runs = [_run(argv, env) for _ in range(args.runs)]
            wall = [w for w, _ in runs]
            cpu = statistics.median(c for _, c in runs)
            print(f"{name:<20} {statistics.median(wall):>13.2f} {min(wall):>6.2f} {cpu:>13.2f}")
        heavy = _heavy_imports(env)
        print(f"heavy packages `--help` imports: {', '.join(heavy) if heavy else 'none'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
