"""insights, feedback, rate-limit counters (server issue)

Revision ID: 0003_server
Revises: 0002_agent
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_server"
down_revision = "0002_agent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insights",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("turn", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
    )
    op.create_index("ix_insights_at", "insights", ["at"])
    op.create_index("ix_insights_conversation_id", "insights", ["conversation_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("turn", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("rating", sa.String(8), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
    )
    op.create_index("ix_feedback_at", "feedback", ["at"])
    op.create_index("ix_feedback_conversation_id", "feedback", ["conversation_id"])
    # rate_limits was created here too; it is the server's table now (server/migrations),
    # and 0005 drops the copy databases made before that


def downgrade() -> None:
    op.drop_index("ix_feedback_conversation_id", "feedback")
    op.drop_index("ix_feedback_at", "feedback")
    op.drop_table("feedback")
    op.drop_index("ix_insights_conversation_id", "insights")
    op.drop_index("ix_insights_at", "insights")
    op.drop_table("insights")
