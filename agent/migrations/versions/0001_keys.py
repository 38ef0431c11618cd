"""API keys, their secrets (digests only) and the key audit log

Revision ID: 0001_keys
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_keys"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("display_prefix", sa.String(32), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("expiration_date", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_api_keys_owner", "api_keys", ["owner"])
    op.create_index(
        "uq_api_keys_owner_name",
        "api_keys",
        ["owner", "name"],
        unique=True,
        sqlite_where=sa.text("removed = 0"),
        postgresql_where=sa.text("removed = false"),
    )
    op.create_table(
        "api_key_secrets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "key_id",
            sa.String(36),
            sa.ForeignKey("api_keys.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("valid_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_api_key_secrets_key_id", "api_key_secrets", ["key_id"])
    op.create_index("uq_api_key_secrets_digest", "api_key_secrets", ["digest"], unique=True)
    op.create_table(
        "api_key_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(36), nullable=False),
        sa.Column("approval_id", sa.String(64), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_api_key_audit_owner", "api_key_audit", ["owner"])
    op.create_index("ix_api_key_audit_key_id", "api_key_audit", ["key_id"])


def downgrade() -> None:
    op.drop_table("api_key_audit")
    op.drop_table("api_key_secrets")
    op.drop_table("api_keys")
