#!/usr/bin/env bash
# Install (if missing) and start the services the scaled tests and `make run-scaled` use,
# on loopback only: PostgreSQL (Debian's package) and a Chroma server (from the chromadb
# package in .venv). Idempotent: running services are reused. `make test` calls it.
# Prints only the env vars to export (VAR=value lines) on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
PG_PORT=${PG_PORT:-5432}
CHROMA_PORT=${CHROMA_PORT:-8765}
CHROMA_DIR=${CHROMA_DIR:-.docsagent/chroma-server}

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$ver main"; then
  pg_createcluster "$ver" main >/dev/null
fi
pg_ctlcluster "$ver" main start >/dev/null 2>&1 || true
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 1; done
su postgres -c "psql -q -p $PG_PORT -c \"DO \\\$\\\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='docsagent') THEN CREATE ROLE docsagent LOGIN PASSWORD 'docsagent' CREATEDB; END IF; ALTER ROLE docsagent CREATEDB; END\\\$\\\$;\"" >/dev/null
su postgres -c "psql -p $PG_PORT -tAc \"SELECT 1 FROM pg_database WHERE datname='docsagent'\"" | grep -q 1 \
  || su postgres -c "createdb -p $PG_PORT -O docsagent docsagent"

if ! curl -sf "http://127.0.0.1:$CHROMA_PORT/api/v2/heartbeat" >/dev/null; then
  mkdir -p "$CHROMA_DIR"
  nohup .venv/bin/chroma run --path "$CHROMA_DIR" --host 127.0.0.1 --port "$CHROMA_PORT" \
    >"$CHROMA_DIR.log" 2>&1 &
  for _ in $(seq 1 60); do
    curl -sf "http://127.0.0.1:$CHROMA_PORT/api/v2/heartbeat" >/dev/null && break; sleep 1
  done
fi
curl -sf "http://127.0.0.1:$CHROMA_PORT/api/v2/heartbeat" >/dev/null || { echo "chroma server did not start" >&2; exit 1; }
echo "DOCSAGENT_TEST_DATABASE_URL=postgresql+psycopg://docsagent:docsagent@127.0.0.1:$PG_PORT/docsagent"
echo "DOCSAGENT_TEST_CHROMA_URL=http://127.0.0.1:$CHROMA_PORT"
