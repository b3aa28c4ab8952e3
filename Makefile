# Xinlian command index. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo demo-deps test test-deps test-sqlite test-postgres lint messages bench install clean serve worker

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make demo — migrate the embedded SQLite under var/, seed the demo school once, serve with the worker
demo: demo-deps $(STAMP) messages
	$(BIN)/xinlian demo

## gettext (and python3-venv before .venv exists), installed only when missing
demo-deps:
	scripts/install-test-deps.sh --demo

## make test — install what the tests need from the system (apt-get, only when missing), lint
## (ruff and the layer contract), then the whole suite on SQLite and on a private PostgreSQL cluster
test: test-deps $(STAMP) messages lint
	$(BIN)/pytest -q
	scripts/with-postgres.sh $(BIN)/pytest -q

## chromium, PostgreSQL server binaries, gettext, a CJK font: see the script
test-deps:
	scripts/install-test-deps.sh

test-sqlite: test-deps $(STAMP) messages
	$(BIN)/pytest -q

test-postgres: test-deps $(STAMP) messages
	scripts/with-postgres.sh $(BIN)/pytest -q

## make lint — ruff, and the layer contract of pyproject.toml's [tool.importlinter]
lint: $(STAMP)
	$(BIN)/ruff check xinlian tests bench
	$(BIN)/lint-imports --no-cache --no-logo

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
