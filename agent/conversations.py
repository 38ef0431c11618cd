"""Conversations and their turns in SQL. Secrets are never stored: the service writes only
the answer text (which never contains a secret) and a redacted copy of the user's message.

Ids are always minted here, never chosen by a client (no fixation). A signed-in user's
conversation is theirs alone; an anonymous one is opened only with the random token
handed to its creator when it was created (stored as a digest), or by a client resending
its whole history (`agent.threads`), never by its id alone. Signing in with the token
claims it: it becomes the user's, and the token opens it no more.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, select, update

from agent.errors import ConversationNotFoundError
from agent.models import Answer
from agent.redact import redact
from agent.tables import conversations, turns


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _access_row(conn: Connection, conversation_id: str) -> Row[Any, Any] | None:
    return conn.execute(
        select(conversations.c.owner, conversations.c.token_digest).where(
            conversations.c.id == conversation_id
        )
    ).first()


def _may_open(row: Row[Any, Any] | None, owner: str, token: str | None, by_history: bool) -> bool:
    if row is None or row.owner != owner:
        return False
    if owner or by_history:
        return True
    # anonymous: the token it was created with, nothing less
    stored = row.token_digest
    return bool(token and stored) and hmac.compare_digest(str(stored), _digest(token or ""))


class Conversations:
    """Create conversations, append turns, read history."""

    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self.engine, self.clock = engine, clock

    def ensure(self, conversation_id: str | None, owner: str, token: str | None = None) -> str:
        """The id of `owner`'s existing conversation (`check`), or of a new one."""
        if conversation_id:
            self.check(conversation_id, owner, token)
            return conversation_id
        return self.create(owner)[0]

    def create(self, owner: str) -> tuple[str, str | None]:
        """A new conversation: (its id, and for an anonymous one the token that opens it)."""
        now = self.clock()
        new_id = "c_" + secrets.token_urlsafe(12)
        token = secrets.token_urlsafe(24) if not owner else None
        with self.engine.begin() as conn:
            conn.execute(
                insert(conversations).values(
                    id=new_id,
                    owner=owner,
                    token_digest=_digest(token) if token else None,
                    created_at=now,
                    updated_at=now,
                )
            )
        return new_id, token

    def check(
        self,
        conversation_id: str,
        owner: str,
        token: str | None = None,
        *,
        by_history: bool = False,
    ) -> None:
        """ConversationNotFoundError unless `owner` may open it: their own, or an anonymous
        one with its token or (`by_history`) with its history resent, which `agent.threads`
        matched to this conversation's newest state. Unknown ids, someone else's and a
        wrong token look alike."""
        with self.engine.begin() as conn:
            row = _access_row(conn, conversation_id)
        if not _may_open(row, owner, token, by_history):
            raise ConversationNotFoundError("no such conversation")

    def claim(self, conversation_id: str, owner: str, token: str | None) -> None:
        """Give an anonymous conversation to `owner`, who signed in holding its token (the
        capability that opens it; its id alone is not enough); from then on it opens as
        theirs only. Someone's own conversation stays theirs. ConversationNotFoundError
        for an unknown id, a wrong or missing token, another owner's conversation, or a
        concurrent claim that won."""
        with self.engine.begin() as conn:
            row = _access_row(conn, conversation_id)
            if row is not None and owner and row.owner == owner:
                return
            if not _may_open(row, "", token, by_history=False):
                raise ConversationNotFoundError("no such conversation")
            taken = conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id, conversations.c.owner == "")
                .values(owner=owner, token_digest=None, updated_at=self.clock())
            )
            if taken.rowcount != 1:
                raise ConversationNotFoundError("no such conversation")

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
