"""In-memory copies of verified keys and of owners' key listings, valid for one `keys`
epoch (see `agent/epochs.py`); a listing also for one usage epoch of its owner.

Every key change, in any worker, bumps the epoch in its own transaction, and every cached
value is tagged with the epoch read *before* the database read that produced it; a value
whose tag differs from the current epoch is never used. So a revocation, rotation or
disable anywhere takes effect on the next request everywhere, while the common request
(the same key again, nothing changed) needs one epoch read instead of a join and a write.

Only keys that were valid when verified are kept; their expiry times are checked again on
every use. Unknown or refused secrets are never cached (failed attempts are the failed-auth
limiter's business). Both maps are bounded; the oldest entries go first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from agent.bounded import put_bounded
from agent.keys.base import APIKeyRecord, Principal

MAX_VERIFIED = 10_000
MAX_LISTINGS = 1_000


@dataclass(frozen=True)
class VerifiedKey:
    """What verification needs of a key and its secret, as read at `epoch`."""

    digest: bytes
    principal: Principal
    expiration_date: datetime | None
    valid_until: datetime | None
    last_used_at: datetime | None
    epoch: int

    def valid_at(self, now: datetime) -> bool:
        return (self.expiration_date is None or self.expiration_date > now) and (
            self.valid_until is None or self.valid_until > now
        )


class KeyCache:
    """Verified keys by secret digest and listings by owner; thread-safe."""

    def __init__(self, max_verified: int = MAX_VERIFIED, max_listings: int = MAX_LISTINGS) -> None:
        self._verified: dict[bytes, VerifiedKey] = {}
        self._listings: dict[str, tuple[tuple[int, int], tuple[APIKeyRecord, ...]]] = {}
        self._max_verified = max_verified
        self._max_listings = max_listings
        self._lock = threading.Lock()

    def verified(self, digest: bytes, epoch: int, now: datetime) -> VerifiedKey | None:
        """The cached key for `digest` if it is from `epoch` and still valid at `now`."""
        if epoch < 0:  # no epoch row: nothing would announce a change, so never cache
            return None
        with self._lock:
            entry = self._verified.get(digest)
        if entry is None or entry.epoch != epoch or not entry.valid_at(now):
            return None
        return entry

    def remember(self, entry: VerifiedKey) -> None:
        if entry.epoch < 0:
            return
        with self._lock:
            put_bounded(self._verified, entry.digest, entry, self._max_verified)

    def listing(self, owner: str, epoch: tuple[int, int]) -> tuple[APIKeyRecord, ...] | None:
        """The owner's cached listing if it is from `epoch` (keys epoch, owner's usage
        epoch): the same tuple object for as long as the listing is unchanged (callers may
        memoise what they derive from it)."""
        if epoch[0] < 0:
            return None
        with self._lock:
            cached = self._listings.get(owner)
        if cached is None or cached[0] != epoch:
            return None
        return cached[1]

    def remember_listing(
        self, owner: str, epoch: tuple[int, int], records: list[APIKeyRecord]
    ) -> None:
        if epoch[0] < 0:
            return
        with self._lock:
            put_bounded(self._listings, owner, (epoch, tuple(records)), self._max_listings)
