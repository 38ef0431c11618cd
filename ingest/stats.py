"""What `docsagent stats` prints, read from the page records alone.

Pages, chunks, version and the embedding model all live in the ingest record (its SQL
tables), so the answer needs neither Chroma nor the embedding model: it is instant. An
index written before the model was recorded there is read through Chroma once.
"""

from __future__ import annotations

from typing import Any

from ingest.config import IngestSettings
from ingest.records import PageRecords, records_engine


def index_stats(settings: IngestSettings) -> dict[str, Any]:
    """pages, chunks, model, dimension, store, collection and version of the index."""
    records = PageRecords(
        records_engine(settings.database_url, settings.data_dir), settings.chroma_collection
    )
    built = records.built_with()
    if built is None:
        from ingest.embed import make_embeddings
        from ingest.store import open_index

        return open_index(settings, make_embeddings(settings), engine=records.engine).stats()
    return {
        "pages": len(records.all()),
        "chunks": records.chunk_total(),
        "model": built[0],
        "dimension": built[1],
        "store": settings.store_location,
        "collection": settings.chroma_collection,
        "version": records.version(),
    }
