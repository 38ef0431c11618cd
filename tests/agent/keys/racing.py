"""Helpers to make key rotations truly race, shared by the SQLite and PostgreSQL tests.

Light on imports on purpose: spawned test processes import it too.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agent.errors import AuthenticationError, KeyConflictError
from agent.keys.base import KeyManager
from agent.keys.format import generate_key


def after(barrier: Any, timeout: float = 60) -> Callable[[str], str]:
    """A secret generator that waits until every contender has read the key."""

    def new_secret(prefix: str) -> str:
        barrier.wait(timeout=timeout)
        return generate_key(prefix)

    return new_secret


def working(keys: KeyManager, secrets: list[str]) -> list[str]:
    """The secrets among `secrets` that still verify, in order."""
    alive = []
    for secret in secrets:
        try:
            keys.verify(secret)
        except AuthenticationError:
            continue
        alive.append(secret)
    return alive


def race_rotations(
    racer: KeyManager, owner: str, key_id: str, contenders: int
) -> tuple[list[str], list[KeyConflictError]]:
    """`contenders` threads rotate one key at once: (new secrets, conflicts)."""

    def rotate(_: int) -> str | KeyConflictError:
        try:
            return racer.rotate(owner, key_id)[1]
        except KeyConflictError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=contenders) as pool:
        results = list(pool.map(rotate, range(contenders)))
    secrets = [r for r in results if isinstance(r, str)]
    return secrets, [r for r in results if isinstance(r, KeyConflictError)]
