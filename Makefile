# SLA Monitor — every target sets up what is missing first, so a fresh Debian machine needs only
# `make run` or `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make services` records the DSNs of this checkout's private PostgreSQL and Redis in
# .data/services.env; the settings (app/config.py) read them from there unless SLAMON_* says otherwise.

.PHONY: run test lint services services-down bench system-deps venv migrate seed clean

system-deps:
	@scripts/system-deps.sh

# constraints.txt pins every installed package to the versions this revision was tested with.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip
	@PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

services: system-deps
	@scripts/services.sh up

services-down:
	@scripts/services.sh down

migrate: services venv
	@$(BIN)/slamon migrate

seed: migrate
	@$(BIN)/slamon seed --days 90

run: services venv
	@$(BIN)/slamon migrate
	@$(BIN)/slamon up --seed-days 90

# A cluster first created by the test suite is a throwaway: it does not archive its WAL (a suite run
# writes GBs of it, with no backup ever expiring it). `make services` / `make run` create one that does.
test: export SLAMON_WAL_ARCHIVE ?= off
test: services venv
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

# The gates (configured in pyproject.toml): lint, formatting, types. All three run every time, so
# one failure does not hide another; the target fails if any did.
lint: venv
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

bench: services venv
	@$(BIN)/slamon migrate
	@for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean: services-down
	rm -rf .data $(VENV)
