"""Every SQL table of the agent layer, in one `metadata`; `agent/migrations` creates exactly
these (tests/agent/test_schema.py runs Alembic's autogenerate comparison against it).

- keys: `api_keys` (id, name, owner and expiration for life), their secrets in
  `api_key_secrets` (HMAC digest + `valid_until`, so a rotation can let the old secret live
  for a grace period) and the audit log `api_key_audit`. `version` makes concurrent
  changes detectable (`UPDATE … WHERE version = :seen`).
- answering: conversations and their turns, pending key actions awaiting approval, the
  fallback answer cache (times as UTC epoch seconds, floats, so SQLite and PostgreSQL
  compare them alike).
- `epochs`: named change counters that let every worker cache what they guard.
- insights: answered questions and the feedback on them.
- the heads of conversations held by clients that resend their history (`agent/threads.py`)
  and sealed one-time secret tickets (`agent/secret_tickets.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
)

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- keys (migration 0001_keys) ------------------------------------------------------------

keys_table = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner", String(255), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("display_prefix", String(32), nullable=False),
    Column("last4", String(4), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("removed", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Column("expiration_date", UTCDateTime(), nullable=True),
    Column("version", Integer, nullable=False, default=1),
)
# names are unique per owner among keys that have not been revoked
Index(
    "uq_api_keys_owner_name",
    keys_table.c.owner,
    keys_table.c.name,
    unique=True,
    sqlite_where=keys_table.c.removed == false(),
    postgresql_where=keys_table.c.removed == false(),
)

secrets_table = Table(
    "api_key_secrets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "key_id",
        String(36),
        ForeignKey("api_keys.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("digest", LargeBinary(32), nullable=False),
    Column("valid_until", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("uq_api_key_secrets_digest", "digest", unique=True),
)

audit_table = Table(
    "api_key_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event", String(32), nullable=False),
    Column("owner", String(255), nullable=False, index=True),
    Column("actor", String(255), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("key_id", String(36), nullable=False, index=True),
    Column("approval_id", String(64), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
)

# --- answering (migration 0002_agent) ------------------------------------------------------

conversations = Table(
    "agent_conversations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(255), nullable=False, default=""),  # "" = anonymous
    # anonymous conversations: sha256 of the token handed to their creator only (0007)
    Column("token_digest", String(64), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

turns = Table(
    "agent_turns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "conversation_id",
        String(64),
        ForeignKey("agent_conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("role", String(16), nullable=False),  # user / assistant
    Column("content", Text, nullable=False),
    Column("mode", String(16), nullable=True),
    Column("sources", Text, nullable=True),  # JSON list of Source
    Column("pending_action", Text, nullable=True),  # JSON PendingAction (no secret ever)
    Column("meta", Text, nullable=True),  # JSON: intent, topic, key ref (follow-ups)
    Column("created_at", Float, nullable=False),
    Index("ix_agent_turns_conversation", "conversation_id", "id"),
)

pending_actions = Table(
    "agent_pending_actions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("conversation_id", String(64), nullable=False, index=True),
    Column("owner", String(255), nullable=False),
    Column("tool", String(32), nullable=False),  # rotate_api_key / revoke_api_key
    Column("key_id", String(64), nullable=False),
    Column("key_name", String(255), nullable=False),
    Column("preview", Text, nullable=False),
    Column("source", String(16), nullable=False, default="offline"),  # offline / llm
    Column("status", String(16), nullable=False, default="pending"),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("decided_at", Float, nullable=True),
)

fallback_cache = Table(
    "agent_fallback_cache",
    metadata,
    Column("key", String(64), primary_key=True),  # sha256 of normalised question + page
    Column("value", Text, nullable=False),  # JSON of the parsed upstream answer
    Column("expires_at", Float, nullable=False),
)

# --- insights (migration 0003_server) ------------------------------------------------------

insights_table = Table(
    "insights",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("conversation_id", String(64), nullable=False, index=True),
    Column("turn", Integer, nullable=False),
    Column("owner", String(255), nullable=True),
    Column("channel", String(16), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("question", Text, nullable=False),
    Column("sources", Text, nullable=False),
    Column("latency_ms", Float, nullable=False),
)

feedback_table = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("conversation_id", String(64), nullable=False, index=True),
    Column("turn", Integer, nullable=False),
    Column("owner", String(255), nullable=True),
    Column("rating", String(8), nullable=False),
    Column("comment", Text, nullable=False),
)

# --- epochs (migration 0004_epochs; see agent/epochs.py) -----------------------------------

epochs_table = Table(
    "epochs",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# --- OpenAI-compatible threads and one-time secret tickets (migration 0006_threads) ----

threads = Table(
    "agent_threads",
    metadata,
    # sha256 of (caller, the history through our last reply): what a resent history continues
    Column("head", String(64), primary_key=True),
    Column(
        "conversation_id",
        String(64),
        ForeignKey("agent_conversations.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,  # one head per conversation: the newest
    ),
    Column("owner", String(255), nullable=False),
    Column("updated_at", Float, nullable=False),
)

secret_tickets = Table(
    "agent_secret_tickets",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 of the ticket (never the ticket)
    Column("owner", String(255), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("key_name", String(255), nullable=False),
    Column("sealed", Text, nullable=False),  # the secret, encrypted with the ticket
    Column("expires_at", Float, nullable=False),
    Column("used", Boolean, nullable=False, default=False),
)
