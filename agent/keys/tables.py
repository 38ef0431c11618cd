"""SQLAlchemy models of the local key store: keys, their secrets, and the audit log.

A key (`api_keys`) keeps its id, name, owner and expiration for life; its secrets live in
their own rows (`api_key_secrets`: HMAC digest + `valid_until`) so a rotation can let the
old secret live for a grace period. `version` makes concurrent changes detectable
(`UPDATE … WHERE version = :seen`). Migration `0001_keys` creates exactly these tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    TypeDecorator,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255))
    display_prefix: Mapped[str] = mapped_column(String(32))
    last4: Mapped[str] = mapped_column(String(4))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expiration_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        # names are unique per owner among keys that have not been revoked
        Index(
            "uq_api_keys_owner_name",
            "owner",
            "name",
            unique=True,
            sqlite_where=removed == false(),
            postgresql_where=removed == false(),
        ),
    )


class ApiKeySecret(Base):
    __tablename__ = "api_key_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("api_keys.id", ondelete="CASCADE"), index=True
    )
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("uq_api_key_secrets_digest", "digest", unique=True),)


class ApiKeyAudit(Base):
    __tablename__ = "api_key_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(255), index=True)
    actor: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str] = mapped_column(String(36), index=True)
    approval_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


keys_table = cast(Table, ApiKey.__table__)
secrets_table = cast(Table, ApiKeySecret.__table__)
audit_table = cast(Table, ApiKeyAudit.__table__)
