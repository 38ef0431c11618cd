"""Bounded in-memory maps: the one eviction rule of every cache the server keeps (verified
keys, listings and their encoded bodies, rate-limit leases, nexos.ai verifications)."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def put_bounded(store: dict[K, V], key: K, value: V, limit: int) -> None:
    """`store[key] = value` as the newest entry; then the oldest entries go until at most
    `limit` are left. The caller holds whatever lock guards `store`."""
    store.pop(key, None)
    store[key] = value
    while len(store) > limit:
        del store[next(iter(store))]
