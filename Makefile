# Beacon: `make run` and `make test` do all the set-up on a fresh machine (Python 3.11, Node 20, make).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
TIMESCALE_PORT ?= 55433

.PHONY: run test test-postgres test-timescaledb services stop migrate demo lint bench clean-local help

help:
	@echo "make run    set up everything and run Beacon (web, Celery worker, Celery beat)"
	@echo "make test   set up everything and run the tests on PostgreSQL and on TimescaleDB"
	@echo "make stop   stop the embedded PostgreSQL and Redis"
	@echo "make lint   ruff"
	@echo "make bench  benchmarks (ratios against baselines measured in the same run)"

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: Beacon needs Python 3.11 (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

services: $(STAMP)
	$(PY) -m config.services start

migrate: services
	$(PY) manage.py migrate --no-input

demo: migrate
	$(PY) manage.py seed_demo

run: demo
	$(PY) manage.py collectstatic --no-input -v 0
	$(PY) manage.py run_banner
	$(VENV)/bin/honcho start -f Procfile

stop: $(STAMP)
	$(PY) -m config.services stop

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: test-postgres test-timescaledb
	@echo "== Both storage backends passed: PostgreSQL (full suite) and TimescaleDB (storage and query tests) =="

test-postgres: $(NODE_STAMP) services
	@echo "== Test suite on PostgreSQL (embedded or DATABASE_URL) =="
	BEACON_STORAGE_BACKEND=postgres $(PY) -m pytest $(PYTEST_ARGS)

test-timescaledb: $(STAMP) $(NODE_STAMP) services
	@echo "== Storage and query tests on TimescaleDB (PGlite build, fresh in-memory server) =="
	$(PY) tests/timescaledb/run.py --port $(TIMESCALE_PORT) -- $(PYTEST_ARGS)

bench: migrate
	$(PY) bench/storage.py
	$(PY) bench/ingest.py
	$(PY) bench/validate.py
	$(PY) bench/live.py
	$(PY) bench/queries.py
	$(PY) bench/alerts.py
