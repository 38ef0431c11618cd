#!/usr/bin/env bash
# `make run-scaled`: PostgreSQL + a Chroma server (via scripts/services.sh) and `uvicorn --workers`
# on loopback. Migrates and ingests docs_cache/ once, before the workers start, so they only
# serve. Override with DOCSAGENT_WORKERS (default 4), DOCSAGENT_PORT (8000), and
# DOCSAGENT_KEY_PEPPER (generated into the data dir when unset; set it for several hosts).
set -euo pipefail
cd "$(dirname "$0")/.."
while IFS= read -r line; do export "$line"; done < <(bash scripts/services.sh)
export DOCSAGENT_DATABASE_URL="${DOCSAGENT_DATABASE_URL:-$DOCSAGENT_TEST_DATABASE_URL}"
export DOCSAGENT_CHROMA_URL="${DOCSAGENT_CHROMA_URL:-$DOCSAGENT_TEST_CHROMA_URL}"
export ANONYMIZED_TELEMETRY=False
WORKERS="${DOCSAGENT_WORKERS:-4}"
PORT="${DOCSAGENT_PORT:-8000}"

# Migrate once (workers would serialise on an advisory lock anyway) and ingest the docs.
.venv/bin/python -c 'from agent.db import make_engine, migrate; from server.config import get_settings; migrate(make_engine(get_settings()))'
.venv/bin/docsagent ingest "${DOCSAGENT_DOCS_CACHE:-docs_cache}"

echo "docsagent: $WORKERS workers on http://127.0.0.1:$PORT (PostgreSQL + Chroma server)" >&2
# X-Forwarded-For only from DOCSAGENT_TRUSTED_PROXIES (default: none), as `docsagent serve`
exec .venv/bin/uvicorn server.app:create_app --factory --workers "$WORKERS" \
  --host 127.0.0.1 --port "$PORT" --forwarded-allow-ips "${DOCSAGENT_TRUSTED_PROXIES:-}"
