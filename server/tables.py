"""Every SQL table of the server layer, in one `metadata`; `server/migrations` creates
exactly these (tests/server/test_schema.py runs Alembic's autogenerate comparison).

- `rate_limits`: one row per (bucket, minute) of the shared sliding-window rate limits
  (`server/ratelimit.py`).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table

metadata = MetaData()

rate_limits_table = Table(
    "rate_limits",
    metadata,
    Column("bucket", String(160), primary_key=True),
    Column("window", BigInteger, primary_key=True),
    Column("count", Integer, nullable=False),
)
