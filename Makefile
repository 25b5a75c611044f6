# TowerFlow: `make run` serves the app with demo data; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run test test-pg lint bench soak screenshots clean

FRONTEND := $(shell find web/frontend -type f)

install: $(STAMP) node_modules/.installed web/static/build/.built

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch node_modules/.installed

# The pages' bundles (esbuild over web/frontend/ and node_modules); never committed.
web/static/build/.built: node_modules/.installed $(FRONTEND)
	npm run --silent build
	touch $@

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: install
	$(BIN)/towerflow init-db
	$(BIN)/towerflow deploy processes/
	$(BIN)/towerflow demo
	$(BIN)/towerflow serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest

test-pg: install
	TOWERFLOW_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test $(BIN)/pytest

screenshots: install
	TOWERFLOW_SCREENSHOTS=1 $(BIN)/pytest tests/browser

lint: install
	$(BIN)/ruff check engine tower handlers forms web migrations tests benchmarks
	$(BIN)/lint-imports

bench: install  # BENCH_ARGS=--quick for a few minutes; rewrites BENCHMARKS.md
	$(BIN)/python -c "import pyinstrument" 2>/dev/null || $(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

soak: install  # 10 minutes of steady mixed load on real processes (PostgreSQL; SOAK_ARGS=--sqlite, --minutes N)
	$(BIN)/python -m benchmarks.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) node_modules web/static/build towerflow.db towerflow.db-wal towerflow.db-shm
