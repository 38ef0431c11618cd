"""Settings of the agent layer: key store, database, upstream docs site, LLM."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ingest.config import IngestSettings


class AgentSettings(IngestSettings):
    """Adds what answering questions and managing keys needs."""

    keys_backend: Literal["local", "nexos"] = Field("local", description="Key store backend.")
    key_prefix: str = Field("dak_", description="Prefix of generated local API keys.")
    key_pepper: str = Field(
        "", description="HMAC pepper for key digests; empty = generated into <data_dir>/pepper."
    )
    nexos_api_key: str = Field("", description="nexos.ai API key (CLI / single-user only).")
    nexos_base_url: str = Field("https://api.nexos.ai", description="nexos.ai management API.")
    nexos_team_id: str = Field("", description="Manage this team's keys instead of the user's.")
    upstream_url: str = Field(
        "https://docs.nexos.ai", description="Docs site whose '<page>.md?ask=' is the fallback."
    )
    upstream_timeout: float = Field(10.0, gt=0, description="Seconds per fallback request.")
    upstream_deadline: float = Field(
        5.0,
        gt=0,
        le=120,
        description="Seconds one fallback may take in total, retries included.",
    )
    fallback_enabled: bool = Field(True, description="Ask the docs site when local docs miss.")
    fallback_cache_ttl_seconds: float = Field(
        3600.0, ge=0, description="How long a docs-site answer is reused; 0 = not cached."
    )
    llm: str = Field(
        "", description="'provider:model' for LangChain init_chat_model; empty = offline mode."
    )
    llm_max_tool_calls: int = Field(6, ge=1, le=50, description="Tool calls per turn, at most.")
    approval_ttl_seconds: int = Field(300, ge=10, description="Pending key actions expire after.")
    max_question_chars: int = Field(512, ge=16, description="Longest question accepted.")

    @field_validator("llm")
    @classmethod
    def _llm_shape(cls, value: str) -> str:
        if value and ":" not in value:
            raise ValueError(
                f"DOCSAGENT_LLM={value!r} must be 'provider:model', e.g. 'openai:gpt-4.1-mini'"
            )
        return value

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'docsagent.db').resolve()}"
