"""conversations, pending approvals, fallback cache (agent issue)

Revision ID: 0002_agent
Revises: 0001_keys
"""

from __future__ import annotations

revision = "0002_agent"
down_revision = "0001_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
