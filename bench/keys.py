"""Key store speed: verify latency with 100,000 keys in SQLite, creates/s, rotations/s.

    .venv/bin/python bench/keys.py [--keys 100000] [--verifies 20000]

Prints numbers; asserts nothing. The 100k keys are bulk-inserted directly (same format,
same digests) so setup takes seconds, not minutes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from agent.config import AgentSettings
from agent.db import make_engine, migrate
from agent.keys.format import generate_key, parse_key
from agent.keys.local import LocalKeyManager
from agent.keys.pepper import digest, load_pepper
from agent.tables import keys_table, secrets_table


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def bulk_insert(manager: LocalKeyManager, pepper: bytes, count: int) -> list[str]:
    now = datetime.now(UTC)
    secrets, key_rows, secret_rows = [], [], []
    for n in range(count):
        secret = generate_key("dak_")
        parsed = parse_key(secret)
        assert parsed is not None
        key_id = str(uuid.uuid4())
        secrets.append(secret)
        key_rows.append({
            "id": key_id, "owner": f"user{n % 1000}", "name": f"key {n}",
            "display_prefix": parsed.prefix, "last4": parsed.last4, "enabled": True,
            "removed": False, "created_at": now, "updated_at": now, "last_used_at": None,
            "expiration_date": None, "version": 1,
        })  # fmt: skip
        secret_rows.append({"key_id": key_id, "digest": digest(pepper, secret),
                            "valid_until": None, "created_at": now})  # fmt: skip
    with manager.engine.begin() as connection:
        connection.execute(insert(keys_table), key_rows)
        connection.execute(insert(secrets_table), secret_rows)
    return secrets


def timed(calls: int, func: object) -> list[float]:
    samples = []
    for n in range(calls):
        start = time.perf_counter()
        func(n)  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--verifies", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = AgentSettings(data_dir=Path(tmp) / "data")
        engine = make_engine(settings)
        migrate(engine)
        manager = LocalKeyManager(engine, settings)
        start = time.perf_counter()
        secrets = bulk_insert(manager, load_pepper(settings), args.keys)
        print(f"setup: {args.keys:,} keys bulk-inserted in {time.perf_counter() - start:.1f} s")

        sample = random.Random(7).sample(secrets, min(args.verifies, len(secrets)))
        first = timed(len(sample), lambda n: manager.verify(sample[n]))
        again = timed(len(sample), lambda n: manager.verify(sample[n]))
        for label, values in (("first use", first), ("second use", again)):
            p50, p99 = percentile(values, 50), percentile(values, 99)
            mean = statistics.mean(values)
            print(f"verify ({label}): p50 {p50:.3f} ms, p99 {p99:.3f} ms, mean {mean:.3f} ms")
        bad = [s[:-1] + ("0" if s[-1] != "0" else "1") for s in sample[:5000]]
        rejected = timed(len(bad), lambda n: _rejects(manager, bad[n]))
        print(f"reject bad checksum: p50 {percentile(rejected, 50) * 1000:.1f} µs")

        start = time.perf_counter()
        created = [manager.create("bench", f"new {n}")[0].id for n in range(args.writes)]
        elapsed = time.perf_counter() - start
        print(f"creates: {args.writes / elapsed:,.0f}/s")
        start = time.perf_counter()
        for n in range(args.writes):
            manager.rotate("bench", created[n])
        elapsed = time.perf_counter() - start
        print(f"rotations: {args.writes / elapsed:,.0f}/s")
        engine.dispose()


def _rejects(manager: LocalKeyManager, secret: str) -> None:
    try:
        manager.verify(secret)
    except Exception:  # noqa: BLE001 - AuthenticationError is the expected outcome
        return
    raise AssertionError("a forged key verified")


if __name__ == "__main__":
    main()
