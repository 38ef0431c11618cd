"""OpenAI-style thread heads and one-time secret tickets

Revision ID: 0006_threads
Revises: 0005_rate_limits_moved
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_threads"
down_revision = "0005_rate_limits_moved"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_threads",
        sa.Column("head", sa.String(64), primary_key=True),
        sa.Column(
            "conversation_id",
            sa.String(64),
            sa.ForeignKey("agent_conversations.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "agent_secret_tickets",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("key_name", sa.String(255), nullable=False),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_table("agent_secret_tickets")
    op.drop_table("agent_threads")
