"""The key audit log: who changed which key, how, when, under which approval; never a secret."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import SQLAlchemyError

from agent.errors import BackendError
from agent.keys.base import AuditEvent
from agent.tables import audit_table

EVENTS = ("created", "updated", "rotated", "revoked")


class AuditLog:
    """Writes events inside the caller's transaction (`record`) or on its own (`write`)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self._clock = clock

    def record(
        self,
        connection: Connection,
        *,
        event: str,
        owner: str,
        actor: str,
        channel: str,
        key_id: str,
        approval_id: str | None = None,
        at: datetime | None = None,
    ) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}")
        connection.execute(
            insert(audit_table).values(
                event=event,
                owner=owner,
                actor=actor[:255],
                channel=channel,
                key_id=key_id,
                approval_id=approval_id,
                at=at or self._clock(),
            )
        )

    def write(self, **fields: str | None) -> None:
        """Record one event in its own transaction (for backends without a database)."""
        try:
            with self.engine.begin() as connection:
                self.record(connection, **fields)  # type: ignore[arg-type]
        except SQLAlchemyError as exc:
            raise BackendError(f"cannot write the key audit log: {type(exc).__name__}") from exc

    def list(self, owner: str | None = None, limit: int = 100) -> list[AuditEvent]:
        """Newest first; all owners when `owner` is None (administrators only)."""
        query = select(audit_table).order_by(audit_table.c.id.desc()).limit(max(1, limit))
        if owner is not None:
            query = query.where(audit_table.c.owner == owner)
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(query).all()
        except SQLAlchemyError as exc:
            raise BackendError(f"cannot read the key audit log: {type(exc).__name__}") from exc
        return [
            AuditEvent(
                id=row.id,
                event=row.event,
                owner=row.owner,
                actor=row.actor,
                channel=row.channel,
                key_id=row.key_id,
                approval_id=row.approval_id,
                at=row.at,
            )
            for row in rows
        ]
