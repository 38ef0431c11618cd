"""Conversations and their turns in SQL. Secrets are never stored: the service writes only
the answer text (which never contains a secret) and a scrubbed copy of the user's message.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, insert, select, update

from agent.errors import ConversationNotFoundError
from agent.models import Answer
from agent.redact import redact
from agent.tables import conversations, turns


class Conversations:
    """Create conversations, append turns, read history."""

    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self.engine, self.clock = engine, clock

    def ensure(self, conversation_id: str | None, owner: str) -> str:
        """The id of an existing conversation of `owner`, or of a new one.

        An id that belongs to someone else is refused rather than silently replaced.
        """
        now = self.clock()
        with self.engine.begin() as conn:
            if conversation_id:
                row = conn.execute(
                    select(conversations.c.owner).where(conversations.c.id == conversation_id)
                ).first()
                if row is not None:
                    if row.owner != owner:
                        raise ConversationNotFoundError("no such conversation")
                    return conversation_id
            new_id = conversation_id or "c_" + secrets.token_urlsafe(12)
            conn.execute(
                insert(conversations).values(id=new_id, owner=owner, created_at=now, updated_at=now)
            )
            return new_id

    def owner_of(self, conversation_id: str) -> str | None:
        with self.engine.begin() as conn:
            row = conn.execute(
                select(conversations.c.owner).where(conversations.c.id == conversation_id)
            ).first()
        return None if row is None else str(row.owner)

    def add_user(self, conversation_id: str, message: str) -> None:
        self._add(conversation_id, role="user", content=redact(message))

    def add_answer(self, conversation_id: str, answer: Answer, meta: dict[str, Any]) -> None:
        """Store an assistant turn; `answer.secret` is deliberately not part of the record."""
        self._add(
            conversation_id,
            role="assistant",
            content=redact(answer.answer),
            mode=answer.mode,
            sources=json.dumps([s.model_dump() for s in answer.sources]),
            pending_action=(
                answer.pending_action.model_dump_json() if answer.pending_action else None
            ),
            meta=json.dumps(meta),
        )

    def _add(self, conversation_id: str, **values: Any) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(
                insert(turns).values(conversation_id=conversation_id, created_at=now, **values)
            )
            conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(updated_at=now)
            )

    def last_meta(self, conversation_id: str) -> dict[str, Any]:
        """The meta of the last assistant turn (intent, topic, key ref, pending id)."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(turns.c.meta)
                .where(turns.c.conversation_id == conversation_id)
                .where(turns.c.role == "assistant")
                .order_by(turns.c.id.desc())
            ).first()
        if row is None or not row.meta:
            return {}
        data = json.loads(row.meta)
        return data if isinstance(data, dict) else {}

    def turns(self, conversation_id: str) -> list[dict[str, Any]]:
        """Every turn as `{role, content, mode?, sources?, pending_action?}`."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(turns).where(turns.c.conversation_id == conversation_id).order_by(turns.c.id)
            ).all()
        out: list[dict[str, Any]] = []
        for row in rows:
            item: dict[str, Any] = {"role": row.role, "content": row.content}
            if row.role == "assistant":
                item["mode"] = row.mode
                item["sources"] = json.loads(row.sources) if row.sources else []
                item["pending_action"] = (
                    json.loads(row.pending_action) if row.pending_action else None
                )
            out.append(item)
        return out
