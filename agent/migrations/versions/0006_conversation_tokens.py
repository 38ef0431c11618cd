"""conversation read tokens: an anonymous conversation is opened only with its token

Revision ID: 0006_conversation_tokens
Revises: 0005_rate_limits_moved
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_conversation_tokens"
down_revision = "0005_rate_limits_moved"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agent_conversations") as batch:
        batch.add_column(sa.Column("token_digest", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agent_conversations") as batch:
        batch.drop_column("token_digest")
