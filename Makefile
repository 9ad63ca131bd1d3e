# The two commands of the README, and the rest of the daily work.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-fast lint bench clean

install: $(STAMP) .venv-exporter/.installed tests/conformance/node_modules/.installed

# The official MCP conformance suite and inspector (npm, pinned by the lockfile); skipped without npm.
tests/conformance/node_modules/.installed: tests/conformance/package-lock.json
	if command -v npm >/dev/null; then \
		npm ci --prefix tests/conformance --no-audit --no-fund --loglevel=error && touch $@; \
	fi

# celery-exporter pins libraries this project cannot share (see monitoring/sidecars.py): its own venv.
.venv-exporter/.installed:
	test -x .venv-exporter/bin/python || $(PYTHON) -m venv .venv-exporter
	.venv-exporter/bin/python -m pip install --quiet "prometheus-exporter-celery==0.11.2" "celery<5.7" "kombu<5.7" packaging
	touch $@

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
	$(BIN)/mypy contracts gateway workers monitoring emulator cli bridge

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .venv-exporter .pytest_cache .mypy_cache .ruff_cache *.egg-info
