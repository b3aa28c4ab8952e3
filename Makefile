# Xinlian command index. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-sqlite test-postgres lint messages bench install clean serve worker

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make demo — migrate the embedded SQLite under var/, seed the demo school once, serve with the worker
demo: $(STAMP) messages
	$(BIN)/xinlian demo

## make test — lint, then the whole suite on SQLite and on a private PostgreSQL cluster
test: $(STAMP) messages lint
	$(BIN)/pytest -q
	scripts/with-postgres.sh $(BIN)/pytest -q

test-sqlite: $(STAMP) messages
	$(BIN)/pytest -q

test-postgres: $(STAMP) messages
	scripts/with-postgres.sh $(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check xinlian tests bench

messages: $(STAMP)
	cd xinlian && ../$(BIN)/xinlian compilemessages -v 0

## make bench — benchmarks on SQLite and on a private PostgreSQL; figures in bench/results/*.json
bench: $(STAMP) messages
	$(BIN)/python bench/run.py --db sqlite
	$(BIN)/python bench/run.py --db postgres

serve: $(STAMP)
	$(BIN)/xinlian serve

worker: $(STAMP)
	$(BIN)/xinlian worker

clean:
	rm -rf $(VENV) var build *.egg-info
