"""Settings of the agent layer: key store, database, upstream docs site, LLM."""

from __future__ import annotations

from pathlib import Path
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
        "",
        description="'provider:model' for LangChain init_chat_model, or 'local' for a "
        "packaged model behind llama.cpp; empty = offline mode.",
    )
    llm_model: str = Field(
        "qwen2.5-coder-0.5b",
        description="With DOCSAGENT_LLM=local: a model of agent/data/local_models.json or a "
        ".gguf path (verified by sha256 before loading when its hash is known).",
    )
    llm_url: str = Field(
        "",
        description="With DOCSAGENT_LLM=local: an already running OpenAI-compatible server "
        "(e.g. http://127.0.0.1:8080/v1); empty = docsagent starts llama-server itself.",
    )
    llm_style: Literal["auto", "grounded", "agent"] = Field(
        "auto",
        description="grounded: the model writes answers from the retrieved sections, the "
        "router decides key actions; agent: a tool-calling agent; auto: grounded for local.",
    )
    llm_max_tokens: int = Field(300, ge=16, le=4096, description="Tokens a reply may have.")
    llm_timeout: float = Field(60.0, gt=0, le=600, description="Seconds a reply may take.")
    llm_queue_wait: float = Field(
        15.0,
        gt=0,
        le=600,
        description="Seconds a chat waits for the model before answering without it.",
    )
    llm_concurrency: int = Field(1, ge=1, le=16, description="Replies generated at once.")
    llm_threads: int = Field(2, ge=1, le=64, description="CPU threads of llama-server.")
    llm_home: Path | None = Field(
        None, description="llama-server (bin/) and models (models/); default <data_dir>/llm."
    )
    llm_max_tool_calls: int = Field(6, ge=1, le=50, description="Tool calls per turn, at most.")
    approval_ttl_seconds: int = Field(300, ge=10, description="Pending key actions expire after.")
    max_question_chars: int = Field(512, ge=16, description="Longest question accepted.")

    @field_validator("llm")
    @classmethod
    def _llm_shape(cls, value: str) -> str:
        if value and value != "local" and ":" not in value:
            raise ValueError(
                f"DOCSAGENT_LLM={value!r} must be 'local' or 'provider:model', "
                "e.g. 'openai:gpt-4.1-mini'"
            )
        return value

    @property
    def grounded(self) -> bool:
        """The model writes answers from retrieved sections (not a tool-calling agent)."""
        return self.llm_style == "grounded" or (self.llm_style == "auto" and self.llm == "local")

    @property
    def llm_dir(self) -> Path:
        """Where `scripts/local_llm.py setup` put llama-server and the model files."""
        return self.llm_home or self.data_dir / "llm"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'docsagent.db').resolve()}"
