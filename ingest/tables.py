"""Every SQL table of the ingest layer, in one `metadata`: the ingest record.

- `ingest_pages`: per collection, page url → content sha256 ('' while pending), title,
  chunk count;
- `ingest_versions`: per collection, a counter bumped by every write, so readers notice;
- `ingest_models`: per collection, the embedding model and dimension it was written with
  (the same as the Chroma collection's metadata, readable without opening Chroma).

Ingest runs without the agent (its own SQLite file by default), so these tables are made
by `metadata.create_all` (`ingest/records.py`), not by migrations: nothing can drift.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

pages_table = sa.Table(
    "ingest_pages",
    metadata,
    sa.Column("collection", sa.String(200), primary_key=True),
    sa.Column("url", sa.String(2000), primary_key=True),
    sa.Column("md_url", sa.String(2000), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("chunks", sa.Integer, nullable=False),
)
versions_table = sa.Table(
    "ingest_versions",
    metadata,
    sa.Column("collection", sa.String(200), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)
models_table = sa.Table(
    "ingest_models",
    metadata,
    sa.Column("collection", sa.String(200), primary_key=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("dimension", sa.Integer, nullable=False),
)
