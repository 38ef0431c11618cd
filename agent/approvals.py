"""Pending key actions awaiting the user's approval, stored in SQL so any worker can
decide them. An approval is bound to owner + action + key, single-use, and expires after
`settings.approval_ttl_seconds`; only `consume` (the user's decision), `cancel` (the user
moved on) and a newer `create` (superseding it) move one out of `pending`, atomically.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Row, insert, select, update

from agent.errors import ApprovalError
from agent.models import PendingAction
from agent.tables import pending_actions

TOOLS = ("rotate_api_key", "revoke_api_key")


@dataclass(frozen=True)
class Pending:
    """A stored pending action."""

    id: str
    conversation_id: str
    owner: str
    tool: str
    key_id: str
    key_name: str
    preview: str
    source: str  # "offline" or "llm" (the LLM agent resumes its own graph)
    status: str
    expires_at: float

    def to_model(self) -> PendingAction:
        expires = datetime.fromtimestamp(self.expires_at, tz=UTC).isoformat()
        return PendingAction(
            id=self.id,
            tool=self.tool,
            args={"key_id": self.key_id, "name": self.key_name},
            preview=self.preview,
            expires_at=expires,
        )


def preview_for(tool: str, name: str, masked: str) -> str:
    """What will happen, in the user's words, before they approve it."""
    if tool == "rotate_api_key":
        return (
            f"The key '{name}' ({masked}) will be permanently disabled and replaced with a new "
            "one. The new key is shown once."
        )
    return f"The key '{name}' ({masked}) will be permanently revoked and stop working."


class Approvals:
    """Create, look up and consume pending actions."""

    def __init__(self, engine: Engine, clock: Callable[[], float], ttl_seconds: int) -> None:
        self.engine, self.clock, self.ttl = engine, clock, ttl_seconds

    def create(
        self,
        *,
        conversation_id: str,
        owner: str,
        tool: str,
        key_id: str,
        key_name: str,
        preview: str,
        source: str = "offline",
    ) -> Pending:
        if tool not in TOOLS:
            raise ApprovalError(f"{tool} does not need an approval")
        now = self.clock()
        pending = Pending(
            id="pa_" + secrets.token_urlsafe(18),
            conversation_id=conversation_id,
            owner=owner,
            tool=tool,
            key_id=key_id,
            key_name=key_name,
            preview=preview,
            source=source,
            status="pending",
            expires_at=now + self.ttl,
        )
        with self.engine.begin() as conn:
            # A new request supersedes any older pending action of the conversation.
            conn.execute(
                update(pending_actions)
                .where(pending_actions.c.conversation_id == conversation_id)
                .where(pending_actions.c.status == "pending")
                .values(status="superseded", decided_at=now)
            )
            conn.execute(insert(pending_actions).values(**asdict(pending), created_at=now))
        return pending

    def get(self, pending_id: str) -> Pending | None:
        with self.engine.begin() as conn:
            row = conn.execute(
                select(pending_actions).where(pending_actions.c.id == pending_id)
            ).first()
        return _from_row(row) if row is not None else None

    def active(self, conversation_id: str, owner: str) -> Pending | None:
        """The conversation's pending action, if one is still open for this owner."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(pending_actions)
                .where(pending_actions.c.conversation_id == conversation_id)
                .where(pending_actions.c.owner == owner)
                .where(pending_actions.c.status == "pending")
                .where(pending_actions.c.expires_at > self.clock())
                .order_by(pending_actions.c.created_at.desc())
            ).first()
        return _from_row(row) if row is not None else None

    def cancel(self, pending_id: str, *, owner: str) -> bool:
        """Drop a still-pending action (the user moved on); False if it was not pending."""
        return self._settle(pending_id, owner, "cancelled", self.clock(), unexpired=False)

    def _settle(
        self, pending_id: str, owner: str, status: str, now: float, *, unexpired: bool
    ) -> bool:
        """Move one of `owner`'s pending actions to `status`, atomically; True if it moved."""
        query = (
            update(pending_actions)
            .where(pending_actions.c.id == pending_id)
            .where(pending_actions.c.owner == owner)
            .where(pending_actions.c.status == "pending")
        )
        if unexpired:
            query = query.where(pending_actions.c.expires_at > now)
        with self.engine.begin() as conn:
            result = conn.execute(query.values(status=status, decided_at=now))
        return bool(result.rowcount == 1)

    def statuses(self, pending_ids: list[str]) -> dict[str, str]:
        """Each action's status now; a pending one past its time is reported 'expired'."""
        if not pending_ids:
            return {}
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(
                    pending_actions.c.id, pending_actions.c.status, pending_actions.c.expires_at
                ).where(pending_actions.c.id.in_(pending_ids))
            ).all()
        now = self.clock()
        return {
            row.id: "expired" if row.status == "pending" and row.expires_at <= now else row.status
            for row in rows
        }

    def consume(
        self, pending_id: str, *, owner: str, conversation_id: str, approve: bool
    ) -> Pending:
        """Approve or reject exactly once; refuses unknown, foreign, used or expired ids."""
        pending = self.get(pending_id)
        if pending is None or pending.owner != owner or pending.conversation_id != conversation_id:
            raise ApprovalError("no such pending action for you in this conversation")
        now = self.clock()
        status = "approved" if approve else "rejected"
        if not self._settle(pending_id, owner, status, now, unexpired=True):
            if pending.status == "pending" and pending.expires_at <= now:
                raise ApprovalError("this pending action has expired; ask again")
            raise ApprovalError("this pending action was already decided")
        return pending


def _from_row(row: Row[Any]) -> Pending:
    return Pending(**{f.name: getattr(row, f.name) for f in fields(Pending)})
