"""rate_limits belongs to the server's own migrations now: drop the copy 0003 once made

Revision ID: 0005_rate_limits_moved
Revises: 0004_epochs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_rate_limits_moved"
down_revision = "0004_epochs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("rate_limits"):
        # per-minute counters only: server/migrations creates the table afresh
        op.drop_table("rate_limits")


def downgrade() -> None:
    pass  # the server's migrations own the table; nothing of the agent's to restore
