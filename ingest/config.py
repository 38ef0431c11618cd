"""Settings the ingest layer needs. The full settings object (`server.config.Settings`)
extends this class, so one typed object serves every layer; lower layers take it as a
parameter and never read the environment themselves."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseSettings):
    """Where docs come from, where the index lives, and how text is embedded."""

    model_config = SettingsConfigDict(
        env_prefix="DOCSAGENT_", env_file=".env", extra="ignore", validate_default=True
    )

    data_dir: Path = Field(Path(".docsagent"), description="Index, databases and secrets.")
    docs_cache: Path = Field(Path("docs_cache"), description="Fetched docs: <host>/<path>.md.")
    site_url: str = Field("https://docs.nexos.ai", description="The docs site this agent serves.")
    database_url: str = Field(
        "",
        description="SQLAlchemy URL of the shared database (e.g. postgresql+psycopg://…); "
        "empty = SQLite files in the data dir (docsagent.db, ingest.sqlite3).",
    )
    chroma_url: str = Field(
        "", description="Chroma server URL; empty = embedded persistent Chroma."
    )
    chroma_collection: str = Field("docs", description="Chroma collection name.")
    embeddings: str = Field(
        "local",
        description="'local' = bundled all-MiniLM-L6-v2 int8 ONNX; 'openai:<model>' = any "
        "OpenAI-compatible embeddings endpoint.",
    )
    embeddings_base_url: str = Field("", description="Base URL for 'openai:' embeddings.")
    embeddings_api_key: str = Field("", description="API key for 'openai:' embeddings.")
    embed_threads: int = Field(0, ge=0, description="ONNX intra-op threads; 0 = all cores.")
    fetch_timeout: float = Field(20.0, gt=0, description="Seconds per docs HTTP request.")
    fetch_concurrency: int = Field(4, ge=1, le=64, description="Parallel page fetches.")
    fetch_retries: int = Field(3, ge=0, le=10, description="Retries on 429/5xx/timeouts.")
    max_page_bytes: int = Field(5 * 1024 * 1024, gt=0, description="Largest page body accepted.")

    @field_validator("embeddings")
    @classmethod
    def _known_embeddings(cls, value: str) -> str:
        if value != "local" and not (value.startswith("openai:") and len(value) > len("openai:")):
            raise ValueError(
                f"DOCSAGENT_EMBEDDINGS={value!r} is not supported: use 'local' or 'openai:<model>'"
            )
        return value

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def store_location(self) -> str:
        """Where the index lives, as `stats` and errors name it: the Chroma server's URL,
        or the embedded store's directory."""
        return self.chroma_url or str(self.chroma_dir)
