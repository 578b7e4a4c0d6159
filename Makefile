# SchoolNews: `make run` to serve the site, `make test` to run every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
FLASK := $(BIN)/flask --app app

.PHONY: run test e2e lint format translations clean-venv

$(BIN)/activate: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(BIN)/activate

run: $(BIN)/activate
	$(FLASK) init-db
	$(FLASK) demo
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl+C to stop)"
	$(BIN)/waitress-serve --host $(HOST) --port $(PORT) --call app:create_app

test: $(BIN)/activate
	$(BIN)/pytest -q

e2e: $(BIN)/activate
	$(BIN)/pytest -q -m e2e tests/e2e

lint: $(BIN)/activate
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/activate
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-extract messages and update catalogs after changing visible strings.
translations: $(BIN)/activate
	$(BIN)/pybabel extract -F babel.cfg -k _l -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations
	$(BIN)/pybabel compile -d translations
