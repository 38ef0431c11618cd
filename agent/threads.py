"""Which conversation a resent chat history continues (OpenAI-style clients send the whole
history with every turn and nothing else that identifies the conversation).

After each turn the server stores the conversation's *head*: a digest of the caller and
the history through the reply it just gave. A later request whose history, up to its last
user message, digests to a stored head of the same caller continues that conversation;
anything else — an edited or forged assistant turn, another caller's history, a
regenerated answer — starts a new one. The history itself is never trusted: whether a
"yes" approves anything is decided from the conversation's own stored turns (a yes
decides only the pending action of the previous stored answer), never from what a client
says an assistant turn contained. For an anonymous caller the history is the only
capability: continuing it shows nothing the caller did not already send.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

from sqlalchemy import Engine, delete, insert, select

from agent.tables import threads

Turn = tuple[str, str]  # (role: "user" | "assistant", text)


def head_of(owner: str, history: Sequence[Turn]) -> str:
    """The digest of a caller's history (roles and texts, whitespace at the ends ignored)."""
    canonical = [owner, *((role, " ".join(text.split())) for role, text in history)]
    return hashlib.sha256(json.dumps(canonical, ensure_ascii=False).encode()).hexdigest()


class Threads:
    """Heads of conversations held by clients that resend their history."""

    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self.engine, self.clock = engine, clock

    def find(self, owner: str, history: Sequence[Turn]) -> str | None:
        """The caller's conversation whose newest state is exactly `history`, or None."""
        if not history:
            return None
        with self.engine.begin() as conn:
            row = conn.execute(
                select(threads.c.conversation_id).where(
                    threads.c.head == head_of(owner, history), threads.c.owner == owner
                )
            ).first()
        return None if row is None else str(row.conversation_id)

    def advance(self, conversation_id: str, owner: str, history: Sequence[Turn]) -> None:
        """Make `history` (ending with the reply just sent) the conversation's head."""
        head = head_of(owner, history)
        with self.engine.begin() as conn:
            conn.execute(
                delete(threads).where(
                    (threads.c.conversation_id == conversation_id) | (threads.c.head == head)
                )
            )
            conn.execute(
                insert(threads).values(
                    head=head, conversation_id=conversation_id, owner=owner, updated_at=self.clock()
                )
            )
