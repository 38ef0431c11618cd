"""`last_used_at` bookkeeping: at most one write per key per minute, batched.

Verification must stay a read: uses are noted in memory and written in one statement per
batch (every `interval` seconds or `max_pending` keys), and before this process reads
records, so its own listings are exact. A batch bumps the usage epoch of each owner whose
keys it touched (never the `keys` epoch: verified keys stay cached, see `agent/epochs.py`),
so another worker's listing of those owners shows the use within `interval` seconds; a
crash loses at most that batch's timestamps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, or_, update
from sqlalchemy.exc import SQLAlchemyError

from agent.epochs import bump_each, usage_epoch
from agent.errors import BackendError
from agent.tables import keys_table

RESOLUTION = timedelta(minutes=1)
_K = keys_table.c
_TOUCH = (
    update(keys_table)
    .where(_K.id == bindparam("key_id"))
    .where(or_(_K.last_used_at.is_(None), _K.last_used_at <= bindparam("cutoff")))
    .values(last_used_at=bindparam("used"))
)


class UsageRecorder:
    def __init__(
        self,
        writer: Engine,
        *,
        interval: float = 1.0,
        max_pending: int = 512,
        monotonic: Callable[[], float] = time.monotonic,
        on_written: Callable[[], None] = lambda: None,
    ) -> None:
        self._writer = writer
        self._on_written = on_written  # after each batch commits (it bumped epochs)
        self._interval = interval
        self._max_pending = max_pending
        self._monotonic = monotonic
        self._pending: dict[str, tuple[str, datetime]] = {}  # key id → (owner, first use)
        self._last_flush = monotonic()
        self._lock = threading.Lock()

    @staticmethod
    def due(last_used_at: datetime | None, now: datetime) -> bool:
        return last_used_at is None or now - last_used_at >= RESOLUTION

    def note(self, key_id: str, owner: str, now: datetime) -> None:
        """Remember a use (the first in this batch wins); write the batch when it is due."""
        with self._lock:
            self._pending.setdefault(key_id, (owner, now))
            due = (
                len(self._pending) >= self._max_pending
                or self._monotonic() - self._last_flush >= self._interval
            )
        if due:
            self.flush()

    @property
    def pending(self) -> bool:
        """Uses noted but not yet written."""
        return bool(self._pending)

    def flush(self) -> None:
        """Write every noted use now."""
        with self._lock:
            batch, self._pending = self._pending, {}
            self._last_flush = self._monotonic()
        if not batch:
            return
        rows = [
            {"key_id": key_id, "used": used, "cutoff": used - RESOLUTION}
            for key_id, (_owner, used) in batch.items()
        ]
        try:
            with self._writer.begin() as connection:
                connection.execute(_TOUCH, rows)
                # these owners' cached listings show last_used_at: retire them, only them
                bump_each(connection, (usage_epoch(owner) for owner, _ in batch.values()))
        except SQLAlchemyError as exc:
            raise BackendError(f"cannot record key use: {type(exc).__name__}") from exc
        self._on_written()
