"""conversation read tokens: an anonymous conversation is opened only with its token

Revision ID: 0007_conversation_tokens
Revises: 0006_threads
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_conversation_tokens"
down_revision = "0006_threads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agent_conversations") as batch:
        batch.add_column(sa.Column("token_digest", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agent_conversations") as batch:
        batch.drop_column("token_digest")
