# The two commands of the README, and the rest of the daily work.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-fast lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## Start the whole stack locally: private Redis, emulator when no API key is set, worker, gateway.
run: install
	$(BIN)/exai up

## Run every test (unit, end-to-end with real processes).
test: install
	$(BIN)/python -m pytest -q

## Unit tests only (no processes started).
test-fast: install
	$(BIN)/python -m pytest -q -m "not e2e and not chaos"

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy contracts gateway workers monitoring emulator cli

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
