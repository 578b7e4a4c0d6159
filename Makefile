# SchoolNews: `make run` to serve the site, `make test` to run every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
FLASK := $(BIN)/flask --app app
# DEMO=0: a brand-new site starts empty instead of with the demo school.
DEMO ?= 1

.PHONY: run test coverage test-postgresql e2e lint format translations

PIP := $(BIN)/pip install --quiet --disable-pip-version-check

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# Stamps record that the pinned requirements are installed: each holds the
# sha256 of its requirements file, and pip runs again whenever the file's
# content differs. Not its date: a release unpacked over an old one keeps the
# archive's dates, older than the stamps, and would install nothing (issue 19).
sha256 = $(firstword $(shell { sha256sum $(1) || shasum -a 256 $(1); } 2>/dev/null))
RUNTIME_HASH := $(call sha256,requirements.txt)
DEV_HASH := $(call sha256,requirements-dev.txt)
# FORCE when the stamp does not hold the hash (or there is no hash to hold).
stale = $(if $(filter $(2),$(shell cat $(1) 2>/dev/null)),,FORCE)

.PHONY: FORCE
FORCE:

$(VENV)/.runtime: $(BIN)/activate $(call stale,$(VENV)/.runtime,$(RUNTIME_HASH))
	$(PIP) -r requirements.txt
	echo $(RUNTIME_HASH) > $@

$(VENV)/.dev: $(VENV)/.runtime $(call stale,$(VENV)/.dev,$(DEV_HASH))
	$(PIP) -r requirements-dev.txt
	echo $(DEV_HASH) > $@

# core/depcheck.py names a package missing all the same (a venv changed by hand)
# and drops the stamps, so the next `make run` installs again.
run: $(VENV)/.runtime
	@$(BIN)/python -m core.depcheck || { rm -f $(VENV)/.runtime $(VENV)/.dev; exit 1; }
	$(FLASK) init-db
	$(FLASK) demo $(if $(filter 0 no false,$(DEMO)),--skip)
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl+C to stop)"
	$(BIN)/python serve.py --host $(HOST) --port $(PORT)

# Two test processes per core: much of the suite waits on Chromium, on servers
# it started and on their sleeps, so more processes than cores keep the CPUs
# busy (each test file stays in one process, so a module's fixtures are made
# once).
TEST_WORKERS ?= $(shell python3 -c "import os; print(2 * (os.cpu_count() or 1))")
PYTEST_ALL := $(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile
test: $(VENV)/.dev
	$(PYTEST_ALL)

# The same, ending with the line coverage of the app's modules, lowest first
# (modules at 100 % left out). Measuring costs about a third more CPU time on
# Python 3.11 (its tracer), which would take `make test` past ten minutes on
# two cores. `.venv/bin/coverage report -m` lists missed lines afterwards.
coverage: $(VENV)/.dev
	$(PYTEST_ALL) --cov --cov-report=term:skip-covered

# The same tests on the local PostgreSQL server (tests/dbserver.py): each test
# gets its own database there, dropped after it. PG_TEST_SERVER names another
# server; tests about SQLite's own files skip, saying so.
PG_TEST_SERVER ?= postgresql+psycopg://postgres@127.0.0.1:5432/
test-postgresql: $(VENV)/.dev
	SCHOOLNEWS_TEST_POSTGRESQL=$(PG_TEST_SERVER) \
		$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile $(PG_TESTS)

e2e: $(VENV)/.dev
	$(BIN)/pytest -q -m e2e tests/e2e

# lint-imports: the import rules between the packages ([tool.importlinter]).
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-extract messages and update catalogs after changing visible strings, then
# translate the new Chinese entries; tests/test_i18n.py lists what is missing.
translations: $(VENV)/.dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations -l zh_Hans_CN
	$(BIN)/pybabel update -i translations/messages.pot -d translations -l en --no-fuzzy-matching
	$(BIN)/pybabel compile -d translations

# Load the reader's pages against nginx and a bare Flask app, in one run, and
# record the table in bench/RESULTS.md (bench/bench_http.py --help for options).
# Then the article page under floods of uncached pages (bench/bench_flood.py),
# and the memory of attachment previews, hostile documents included
# (bench/bench_documents.py).
# 站群: 100 schools of 1,000 posts in one installation, one server, with the
# isolation of every school's pages checked (bench/bench_sites.py).
# Search on SQLite and PostgreSQL at 100,000 posts (bench/bench_search.py),
# and one app server against two behind nginx on PostgreSQL
# (bench/bench_two_servers.py): both need the local PostgreSQL server.
# A quick check: make bench BENCH_ARGS="--sizes 200 2000 --duration 3 --rounds 1"
#                FLOOD_ARGS="--posts 2000 --duration 3"
#                SEARCH_ARGS="--posts 2000 --rounds 5"
#                TWO_SERVERS_ARGS="--duration 3 --warmup 3 --rounds 1"
#                SITES_ARGS="--sites 5 --posts 200 --duration 3 --rounds 1"
BENCH_ARGS ?=
FLOOD_ARGS ?=
SEARCH_ARGS ?=
TWO_SERVERS_ARGS ?=
SITES_ARGS ?=
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: bench
bench: $(VENV)/.dev
	command -v wrk >/dev/null && { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null \
		|| ($(SUDO) apt-get update && { $(SUDO) apt-get install -y wrk nginx-light \
		|| $(SUDO) apt-get install -y wrk nginx; })
	$(BIN)/python bench/bench_http.py $(BENCH_ARGS)
	$(BIN)/python bench/bench_sites.py $(SITES_ARGS)
	$(BIN)/python bench/bench_search.py $(SEARCH_ARGS)
	$(BIN)/python bench/bench_two_servers.py $(TWO_SERVERS_ARGS)
	$(BIN)/python bench/bench_flood.py $(FLOOD_ARGS)
	$(BIN)/python bench/bench_documents.py
