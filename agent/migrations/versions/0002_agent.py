"""conversations, pending approvals, fallback cache

Revision ID: 0002_agent
Revises: 0001_keys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_agent"
down_revision = "0001_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_conversations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "agent_turns",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            sa.String(64),
            sa.ForeignKey("agent_conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("mode", sa.String(16), nullable=True),
        sa.Column("sources", sa.Text, nullable=True),
        sa.Column("pending_action", sa.Text, nullable=True),
        sa.Column("meta", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_agent_turns_conversation", "agent_turns", ["conversation_id", "id"])
    op.create_table(
        "agent_pending_actions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("tool", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("key_name", sa.String(255), nullable=False),
        sa.Column("preview", sa.Text, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("decided_at", sa.Float, nullable=True),
    )
    op.create_index(
        "ix_agent_pending_actions_conversation_id", "agent_pending_actions", ["conversation_id"]
    )
    op.create_table(
        "agent_fallback_cache",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agent_fallback_cache")
    op.drop_index("ix_agent_pending_actions_conversation_id", table_name="agent_pending_actions")
    op.drop_table("agent_pending_actions")
    op.drop_index("ix_agent_turns_conversation", table_name="agent_turns")
    op.drop_table("agent_turns")
    op.drop_table("agent_conversations")
