# Lockstep: `make run` sets up and runs the system; `make test` sets up and runs the whole suite.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# The suite runs in this many worker processes (pytest-xdist), a test file per worker at a time: most
# tests wait on the broker, the databases and service processes, not on a core. Capped so a large CI
# machine does not start dozens of service processes against one broker.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; [ $$n -lt 2 ] && n=2; echo $$n)
# The local broker's port; tests follow it.
export LOCKSTEP_KAFKA_PORT ?= 9092
export LOCKSTEP_TEST_KAFKA_BOOTSTRAP ?= 127.0.0.1:$(LOCKSTEP_KAFKA_PORT)
# The deployment secret every command reads (lead keys): the environment's, or one generated into
# var/secret_key once and kept (deploy/secret_key.sh). Tests set their own.
export LOCKSTEP_SECRET_KEY ?= $(shell deploy/secret_key.sh)

.PHONY: help install tools run lint test screenshots kafka-up kafka-down pg-up pg-down migrate schemas docs bench demo clean

help:
	@echo "make run        set up, start Kafka, migrate, run ingest :8001, scoring :8002, sla :8003 (Ctrl-C stops all)"
	@echo "make lint       ruff (lint and format check), mypy and the import contracts"
	@echo "make test       set up, lint, start Kafka and PostgreSQL, run the whole suite"
	@echo "make demo       the stack and the traffic simulator, then the funnel and SLA compliance"
	@echo "make screenshots  run the browser tests and update docs/dashboard.png and docs/scorecard.png"
	@echo "                  (one of them: make screenshots SCREENSHOTS=scorecard)"
	@echo "make docs       rewrite the generated parts of docs/ (event schemas, configuration tables)"
	@echo "make kafka-up | kafka-down | pg-up | pg-down | migrate | schemas | bench"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# playwright-core for the dashboard's browser test (tests/browser), pinned by its package-lock.json;
# it drives Debian's chromium (deploy/tools.sh), so Playwright downloads no browser of its own.
BROWSER_STAMP := tests/browser/node_modules/.installed-stamp
$(BROWSER_STAMP): tests/browser/package.json tests/browser/package-lock.json
	@command -v npm >/dev/null || { echo "make test: npm (Node.js 20+) is required for the dashboard's browser test" >&2; exit 1; }
	cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	touch $(BROWSER_STAMP)

tools:
	deploy/tools.sh

kafka-up:
	deploy/kafka/kafka.sh up

kafka-down:
	deploy/kafka/kafka.sh down

pg-up:
	@deploy/postgres/pg.sh up

pg-down:
	deploy/postgres/pg.sh down

migrate: install
	$(BIN)/lockstep db upgrade

schemas: install
	$(BIN)/lockstep events schemas

# The LOCKSTEP_* tables of docs/configuration.md, from the settings classes (a test fails when they are stale).
docs: schemas
	$(BIN)/python -m tests.support.settings_reference

run: install kafka-up migrate
	deploy/run.sh

# The tools come from the venv's test extras (pyproject.toml), so a fresh clone lints as CI does.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo

# Lint first: a finding fails the run before Kafka starts or any test runs.
# PostgreSQL is started by the suite itself (tests/conftest.py, deploy/postgres/pg.sh), the first time a
# test needs it; one that cannot be had is an error, never a skip.
test: install lint tools $(BROWSER_STAMP) kafka-up
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -m "not alone" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/pytest -m alone $(PYTEST_ARGS) || [ $$? -eq 5 ]

# Tests save screenshots under var/screenshots (ignored); updating the documented ones is this deliberate
# step: each page's browser test (tests/services/sla/test_<page>_browser.py), then its screenshot copied.
SCREENSHOTS ?= dashboard scorecard
screenshots: install tools $(BROWSER_STAMP) kafka-up
	rm -f $(SCREENSHOTS:%=var/screenshots/%.png)
	$(BIN)/pytest -q -p no:cacheprovider $(SCREENSHOTS:%=tests/services/sla/test_%_browser.py)
	$(foreach page,$(SCREENSHOTS),cp var/screenshots/$(page).png docs/$(page).png;)

# The stack plus the simulator for DEMO_SECONDS (60), then the funnel and SLA compliance.
demo: install kafka-up migrate
	deploy/demo.sh

# Benchmarks write docs/benchmarks.md; each figure beside a baseline measured in the same run.
bench: install kafka-up
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || { echo "make bench: wrk is required (apt-get install wrk)" >&2; exit 1; }
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.scoring
	$(BIN)/python -m bench.sla
	$(BIN)/python -m bench.e2e
	$(BIN)/python -m bench.e2e --postgres "$$(deploy/postgres/pg.sh up)"
	$(BIN)/python -m bench.writeback
	$(BIN)/python -m bench.burst
	$(BIN)/python -m bench.burst --postgres "$$(deploy/postgres/pg.sh up)"
	$(BIN)/python -m bench.reports --postgres "$$(deploy/postgres/pg.sh up)"

clean:
	deploy/kafka/kafka.sh down || true
	deploy/postgres/pg.sh down || true
	rm -rf var
