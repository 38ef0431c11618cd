"""epochs: named change counters that let every worker cache what they guard

Revision ID: 0004_epochs
Revises: 0003_server
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_epochs"
down_revision = "0003_server"
branch_labels = None
depends_on = None


def upgrade() -> None:
    epochs = op.create_table(
        "epochs",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(epochs, [{"name": "keys", "value": 0}, {"name": "auth_failures", "value": 0}])


def downgrade() -> None:
    op.drop_table("epochs")
