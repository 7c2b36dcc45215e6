# safestreets: two commands for a newcomer (make run, make test) and a few for developers.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test bench bench-matching lint install dev clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

## make run: install, build the SYNTHETIC demo region once, serve http://127.0.0.1:$${SAFESTREETS_PORT:-8000}
run: install
	$(BIN)/safestreets init
	$(BIN)/safestreets demo --if-missing
	SAFESTREETS_DEMO=$${SAFESTREETS_DEMO:-true} $(BIN)/safestreets serve

## make test: the whole suite (PostgreSQL half runs when SAFESTREETS_TEST_POSTGRES_URL is set)
test: dev
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

## make bench: benchmark scripts; figures go to docs/benchmarks.md by hand
bench: dev
	$(BIN)/python benchmarks/bench_ingest.py

## make bench-matching: FEBRL4, privacy mode, synthetic dedupe, online index, API hit/no-hit
bench-matching: dev
	$(BIN)/python benchmarks/bench_matching.py --only febrl,privacy,synthetic,online-index
	$(BIN)/python benchmarks/bench_hits.py

lint: dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
