# SchoolNews: `make run` to serve the site, `make test` to run every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
FLASK := $(BIN)/flask --app app
# DEMO=0: a brand-new site starts empty instead of with the demo school.
DEMO ?= 1

.PHONY: run test e2e lint format translations

PIP := $(BIN)/pip install --quiet --disable-pip-version-check

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# Stamps record that the pinned requirements are installed; they are redone
# whenever a requirements file changes.
$(VENV)/.runtime: requirements.txt $(BIN)/activate
	$(PIP) -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PIP) -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(FLASK) init-db
	$(FLASK) demo $(if $(filter 0 no false,$(DEMO)),--skip)
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl+C to stop)"
	$(BIN)/python serve.py --host $(HOST) --port $(PORT)

# One test process per core (each test file stays in one process, so a
# module's fixtures are made once); ends with the line coverage of the app's
# modules, lowest first (modules at 100 % left out). Measuring costs about a
# third more CPU time on Python 3.11 (its tracer); the processes win it back.
# `.venv/bin/coverage report -m` then lists the missed lines.
test: $(VENV)/.dev
	$(BIN)/pytest -q -n auto --dist loadfile --cov --cov-report=term:skip-covered

e2e: $(VENV)/.dev
	$(BIN)/pytest -q -m e2e tests/e2e

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

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
# A quick check: make bench BENCH_ARGS="--sizes 200 2000 --duration 3 --rounds 1"
BENCH_ARGS ?=
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: bench
bench: $(VENV)/.dev
	command -v wrk >/dev/null && { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null \
		|| ($(SUDO) apt-get update && { $(SUDO) apt-get install -y wrk nginx-light \
		|| $(SUDO) apt-get install -y wrk nginx; })
	$(BIN)/python bench/bench_http.py $(BENCH_ARGS)
