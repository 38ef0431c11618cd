"""The one settings object (env prefix DOCSAGENT_, .env supported), read via get_settings()."""

from __future__ import annotations

from pydantic import Field, ValidationError

from agent.config import AgentSettings
from ingest.errors import ConfigError

ENV_PREFIX = "DOCSAGENT_"
_SECRET_ENDINGS = ("api_key", "pepper", "secret", "password", "token")


class Settings(AgentSettings):
    """Every setting of docsagent; the README's configuration table lists them all."""

    host: str = Field("127.0.0.1", description="Address the server binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port the server binds.")
    public_url: str = Field(
        "",
        description="Public base URL for links; empty = this server's own address "
        "(never the request's Host header).",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated proxy addresses/networks whose X-Forwarded-For is "
        "trusted; empty = none (the peer address counts).",
    )
    require_auth: bool = Field(False, description="Close every route but health without a key.")
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted; larger ones get 413."
    )
    rate_limit_per_key: int = Field(600, ge=0, description="Requests/minute per key; 0 = off.")
    rate_limit_failed_auth: int = Field(
        20, ge=0, description="Failed authentications/minute per client address; 0 = off."
    )
    admins: str = Field("", description="Comma-separated owner ids allowed to see insights.")
    log_level: str = Field("INFO", description="Log level of the JSON logs.")
    otel: bool = Field(
        False,
        description="FastAPI's OpenTelemetry spans and metrics (when a provider is set up, "
        "e.g. by opentelemetry-instrument); off saves its per-request check.",
    )
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes.")


def get_settings() -> Settings:
    """Read settings from the environment and .env; called at start-up, never at import.
    A bad value is a ConfigError naming the variable, e.g. "DOCSAGENT_PORT='abc': …"."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(describe_problems(exc)) from None


def describe_problems(error: ValidationError) -> str:
    """One line per bad setting, named as the variable the user set (never echoing a
    value that could be a secret)."""
    lines = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem.get("loc") else ""
        name = f"{ENV_PREFIX}{field.upper()}" if field else "a setting"
        value = problem.get("input")
        shown = "" if field.endswith(_SECRET_ENDINGS) else f"={str(value)[:60]!r}"
        message = str(problem.get("msg", "is invalid")).removeprefix("Value error, ")
        lines.append(f"{name}{shown}: {message}")
    return "bad setting (environment or .env): " + "; ".join(lines)
