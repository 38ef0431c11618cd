"""insights, feedback, rate-limit counters (server issue)

Revision ID: 0003_server
Revises: 0002_agent
"""

from __future__ import annotations

revision = "0003_server"
down_revision = "0002_agent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
