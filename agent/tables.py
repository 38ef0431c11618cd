"""SQL tables of the agent layer (created by migration 0002_agent): conversations and
their turns, pending key actions awaiting approval, and the fallback answer cache.

Times are UTC epoch seconds (floats) so SQLite and PostgreSQL compare them alike.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

conversations = Table(
    "agent_conversations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(255), nullable=False, default=""),  # "" = anonymous
    # anonymous conversations: sha256 of the read token handed to their creator only
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
