"""What people ask and how well the docs answered: the insights store.

Every answered question is recorded (time, question text, mode, top sources, latency) and
feedback is attached to it by `(conversation_id, turn)`, where `turn` is the 0-based index
of the answer within its conversation. Nothing secret is ever stored: question text is
scrubbed of anything that looks like an API key before it is written, and key-action turns
keep only the scrubbed request, never tool arguments or results.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent.errors import BackendError, ConversationNotFoundError
from agent.redact import redact
from agent.tables import feedback_table, insights_table

UNANSWERED_MODES = ("fallback", "none")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return round(ordered[index], 1)


@dataclass(frozen=True)
class TurnRecord:
    """One recorded answer, as feedback needs it."""

    conversation_id: str
    turn: int
    owner: str | None
    question: str


class InsightsStore:
    """Record answers and feedback in SQL; aggregate them for `GET /v1/insights`."""

    def __init__(
        self,
        engine: Engine,
        *,
        key_prefixes: Sequence[str] = (),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._engine = engine
        self._prefixes = tuple(key_prefixes)
        self._clock = clock

    def record(
        self,
        *,
        question: str,
        mode: str,
        sources: Sequence[tuple[str, str]],
        latency_ms: float,
        conversation_id: str,
        owner: str | None,
        channel: str,
    ) -> int:
        """Store one answered question; returns its 0-based turn within the conversation."""
        top = [{"title": title, "url": url} for title, url in list(sources)[:5]]
        try:
            with (
                self._engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn,
                conn.begin(),
            ):
                turn = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(insights_table)
                    .where(insights_table.c.conversation_id == conversation_id)
                ).scalar_one()
                conn.execute(
                    insights_table.insert().values(
                        at=self._clock(),
                        conversation_id=conversation_id,
                        turn=turn,
                        owner=owner,
                        channel=channel,
                        mode=mode,
                        question=redact(question, self._prefixes)[:2048],
                        sources=json.dumps(top),
                        latency_ms=float(latency_ms),
                    )
                )
        except sa.exc.SQLAlchemyError as exc:
            raise BackendError(f"could not record insight: {type(exc).__name__}") from exc
        return int(turn)

    def find_turn(self, conversation_id: str, turn: int) -> TurnRecord | None:
        """The recorded answer `turn` of a conversation, or None."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(insights_table.c.owner, insights_table.c.question).where(
                    insights_table.c.conversation_id == conversation_id,
                    insights_table.c.turn == turn,
                )
            ).first()
        if row is None:
            return None
        return TurnRecord(conversation_id, turn, row.owner, row.question)

    def rate(
        self, caller: str | None, *, conversation_id: str, turn: int, rating: str, comment: str
    ) -> None:
        """Feedback from `caller` (an owner, None when anonymous) on a recorded answer they
        may see; someone else's answer is as unknown as a missing one."""
        record = self.find_turn(conversation_id, turn)
        if record is None or (record.owner is not None and record.owner != caller):
            raise ConversationNotFoundError("no such answer in this conversation")
        self.add_feedback(
            conversation_id=conversation_id, turn=turn, rating=rating, comment=comment, owner=caller
        )

    def add_feedback(
        self, *, conversation_id: str, turn: int, rating: str, comment: str, owner: str | None
    ) -> None:
        """Attach a rating (up/down) and an optional comment to a recorded answer: one per
        answer and person, the latest wins (a 👎 is recorded at once; a comment sent
        after it replaces it)."""
        same = (
            (feedback_table.c.conversation_id == conversation_id)
            & (feedback_table.c.turn == turn)
            & (
                feedback_table.c.owner.is_(None)
                if owner is None
                else feedback_table.c.owner == owner
            )
        )
        try:
            with self._engine.begin() as conn:
                conn.execute(feedback_table.delete().where(same))
                conn.execute(
                    feedback_table.insert().values(
                        at=self._clock(),
                        conversation_id=conversation_id,
                        turn=turn,
                        owner=owner,
                        rating=rating,
                        comment=redact(comment, self._prefixes),
                    )
                )
        except sa.exc.SQLAlchemyError as exc:
            raise BackendError(f"could not record feedback: {type(exc).__name__}") from exc

    def summary(
        self, days: int, closest: Callable[[str], list[dict[str, str]]] | None = None
    ) -> dict[str, Any]:
        """Counts by mode per day, fallback rate, latency percentiles, unanswered, feedback."""
        now = self._clock()
        since = now - timedelta(days=days)
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    insights_table.c.at,
                    insights_table.c.mode,
                    insights_table.c.question,
                    insights_table.c.latency_ms,
                ).where(insights_table.c.at >= since)
            ).all()
            feedback_rows = conn.execute(
                sa.select(feedback_table, insights_table.c.question)
                .select_from(
                    feedback_table.outerjoin(
                        insights_table,
                        sa.and_(
                            insights_table.c.conversation_id == feedback_table.c.conversation_id,
                            insights_table.c.turn == feedback_table.c.turn,
                        ),
                    )
                )
                .where(feedback_table.c.at >= since)
                .order_by(feedback_table.c.at.desc())
                .limit(100)
            ).all()
        per_day: dict[str, Counter[str]] = {}
        for offset in range(days, -1, -1):
            per_day[(now - timedelta(days=offset)).date().isoformat()] = Counter()
        unanswered: Counter[tuple[str, str]] = Counter()
        for row in rows:
            at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
            per_day.setdefault(at.date().isoformat(), Counter())[row.mode] += 1
            if row.mode in UNANSWERED_MODES:
                unanswered[(row.question.strip().lower(), row.mode)] += 1
        total = len(rows)
        fallback = sum(1 for row in rows if row.mode == "fallback")
        latencies = [row.latency_ms for row in rows]
        return {
            "days": [
                {
                    "date": date,
                    **{mode: counts[mode] for mode in ("local", "fallback", "none", "action")},
                }
                for date, counts in sorted(per_day.items())
            ],
            "total": total,
            "fallback_rate": round(fallback / total, 4) if total else 0.0,
            "latency_ms": {
                p: _percentile(latencies, n) for p, n in (("p50", 50), ("p95", 95), ("p99", 99))
            },
            "unanswered": [
                {
                    "question": question,
                    "count": count,
                    "mode": mode,
                    "closest": closest(question) if closest else [],
                }
                for (question, mode), count in unanswered.most_common(20)
            ],
            "feedback": [
                {
                    "question": row.question or "",
                    "rating": row.rating,
                    "comment": row.comment,
                    "at": row.at.isoformat(),
                    "conversation_id": row.conversation_id,
                    "turn": row.turn,
                }
                for row in feedback_rows
            ],
        }
