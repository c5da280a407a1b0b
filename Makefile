# planwatch developer and CI entry points. `make test` is the test command.
# Every step is idempotent: work already done (venv, Kafka jars, FerretDB binary) is skipped.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.planwatch-installed

.DEFAULT_GOAL := help
.PHONY: help install build demo run test test-unit test-integration test-chaos test-fuzz test-py313 lock lint format infra-up infra-down infra-status bench

help:
	@echo "make demo              install, then the whole platform with the realistic demo feed (Ctrl-C stops)"
	@echo "make run               install, then the platform only, kept running (Ctrl-C stops)"
	@echo "make bench             the benchmarks (ingest, scoring, notify; replicas; latency), results in bench/results/"
	@echo "make install           venv + editable install with dev extras, Kafka jars, FerretDB binary"
	@echo "make test              install, then all tests (unit + integration; servers started as needed)"
	@echo "make test-unit         unit tests only (starts nothing)"
	@echo "make test-integration  integration tests only"
	@echo "make test-chaos        the chaos suite alone (replicas under load and faults, own Kafka + FerretDB; in make test)"
	@echo "make test-fuzz         the fuzz suites alone (tests/fuzz: 10,000+ hostile inputs per door)"
	@echo "make test-py313        the unit suite and the services' end-to-end tests on Python 3.13"
	@echo "make lock              the lock files (requirements*.lock) again from pyproject.toml"
	@echo "make lint              ruff check, ruff format --check, mypy --strict, import-linter"
	@echo "make format            ruff format + ruff check --fix"
	@echo "make infra-up|infra-down|infra-status   local Kafka + FerretDB on 127.0.0.1"

$(BIN)/python:
	@echo "==> creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)

# Reinstalled only when the lock or pyproject.toml changes: every dependency at its locked
# version and hash, then the project itself.
$(STAMP): requirements-dev.lock pyproject.toml | $(BIN)/python
	@echo "==> pip install --require-hashes -r requirements-dev.lock, then -e ."
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

# The lock files, from pyproject.toml: one resolution for every supported Python (3.11-3.13).
# requirements.lock is what the image installs, requirements-dev.lock what the venvs install.
LOCK := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --quiet --custom-compile-command "make lock"
lock: $(STAMP)
	$(LOCK) --output-file requirements.lock
	$(LOCK) --extra dev --output-file requirements-dev.lock

# Python 3.13: CPython from the Go module proxy (tools/python313/fetch.py), a second venv
# from the same lock, and the unit suite plus the services' end-to-end tests on it.
PY313      := tools/python313/dist/bin/python3.13
VENV313    := .venv-py313
STAMP313   := $(VENV313)/.planwatch-installed
PY313_TESTS := tests/integration/test_kafka_security.py \
	tests/integration/test_ingest_service.py \
	tests/integration/test_scoring_service.py tests/integration/test_notify_service.py
$(PY313):
	$(PYTHON) tools/python313/fetch.py tools/python313/dist
$(STAMP313): requirements-dev.lock pyproject.toml $(STAMP) | $(PY313)
	$(BIN)/uv venv --quiet --allow-existing --python $(PY313) $(VENV313)
	$(BIN)/uv pip install --quiet --python $(VENV313)/bin/python --require-hashes -r requirements-dev.lock
	$(BIN)/uv pip install --quiet --python $(VENV313)/bin/python --no-deps -e .
	@touch $@
test-py313: install $(STAMP313)
	$(VENV313)/bin/python -m pytest -q -p no:cacheprovider -m "not integration and not fuzz"
	$(VENV313)/bin/python -m pytest -q -p no:cacheprovider $(PY313_TESTS)

build: $(STAMP)
	@echo "==> Kafka jars (Maven) and FerretDB binary (Go), skipped when present"
	$(BIN)/planwatch infra build

install: $(STAMP) build

demo: install
	$(BIN)/planwatch demo $(DEMO_ARGS)

run: install
	$(BIN)/planwatch demo --no-feed --keep-running

bench: install
	$(BIN)/python -m bench.bench_ingest
	$(BIN)/python -m bench.bench_scoring
	$(BIN)/python -m bench.bench_notify
	$(BIN)/python -m bench.bench_replicas --service all
	$(BIN)/python -m bench.bench_latency

# Every test: the suite, then the fuzz suites (10,000+ hostile inputs per door) on every core.
test: install
	$(BIN)/python -m pytest -q -m "not fuzz"
	$(BIN)/python -m pytest -q -p no:cacheprovider -n auto -m fuzz tests/fuzz

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q -m "not integration and not fuzz"

test-fuzz: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n auto -m fuzz tests/fuzz

test-integration: install
	$(BIN)/python -m pytest -q -m integration

test-chaos: install
	$(BIN)/python -m pytest -q tests/integration/test_chaos.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

infra-up: install
	$(BIN)/planwatch infra up

infra-down: $(STAMP)
	$(BIN)/planwatch infra down

infra-status: $(STAMP)
	$(BIN)/planwatch infra status
