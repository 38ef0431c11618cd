# The one task runner: CI (.ci/run) calls these same targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install run run-scaled test lint bench clean

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

## make test: venv, install, the whole test suite.
## make run-scaled: PostgreSQL + a Chroma server + uvicorn --workers 4 (docs/scaling.md).
run-scaled: install
	bash scripts/run-scaled.sh

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check ingest agent server tests bench
	$(BIN)/ruff format --check ingest agent server tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/keys.py
	$(BIN)/python bench/eval.py
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/server.py

clean:
	rm -rf $(VENV) .docsagent .pytest_cache .mypy_cache .ruff_cache
