"""The MCP Inspector CLI (npm ``@modelcontextprotocol/inspector`` 2.x, ``--cli``) lists and calls tools.

Over Streamable HTTP (bearer header with ``--header``) and over stdio (the Inspector launches
``python -m cli.main stdio``, given the gateway URL and token with ``-e``), each in the legacy era
(``--protocol-era legacy``: the initialize handshake) and the modern one (``--protocol-era
modern``: pinned to 2026-07-28 through ``server/discover``, no fallback). ``--format json`` prints
one JSON object, ``{"result": …}`` or ``{"error": …}``. The Inspector keeps state under
``~/.mcp-inspector``: each run gets a HOME of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.node_tools import NODE_PROJECT, REPO, node_env, tool
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

RUN_BOUND_S = 90.0  # Node start, negotiation, one request (a call streams for about a second)
PROMPT = "from the inspector"


def inspect(stack: Stack, home: Path, front: str, era: str, *method: str) -> dict[str, Any]:
    """One ``mcp-inspector --cli`` run; its JSON result, or a failure naming the Inspector's error."""
    token = stack.env["EXAI_WS_TOKEN"]
    if front == "http":
        target = ["--server-url", stack.http_url, "--transport", "http"]
        target += ["--header", f"Authorization: Bearer {token}"]
        command: list[str] = []
    else:
        bridge_env = {"EXAI_WS_URL": stack.gateway_url, "EXAI_WS_TOKEN": token, "PYTHONPATH": str(REPO)}
        target = ["--transport", "stdio", "--cwd", str(REPO)]
        target += [arg for key, value in bridge_env.items() for arg in ("-e", f"{key}={value}")]
        command = ["--", sys.executable, "-m", "cli.main", "stdio"]
    args = [tool("mcp-inspector"), "--cli", *target, "--protocol-era", era, *method, "--format", "json", "-q"]
    done = subprocess.run(
        [*args, *command],
        cwd=NODE_PROJECT,
        env=node_env(HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=RUN_BOUND_S,
    )
    answer = next((json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")), None)
    errors = [line for line in done.stderr.splitlines() if line.startswith('{"error"')]
    error = errors[0] if errors else done.stderr[-2000:]
    assert done.returncode == 0 and answer is not None, f"inspector {front} {era} {method[:2]}: {error}"
    result: dict[str, Any] = answer["result"]
    return result


def check_lists_and_calls(stack: Stack, home: Path, front: str, era: str) -> None:
    listing = inspect(stack, home, front, era, "--method", "tools/list")
    assert {"chat", "listmodels", "version"} <= {t["name"] for t in listing["tools"]}
    call = ["--method", "tools/call", "--tool-name", "chat", "--tool-arg", f"prompt={PROMPT}"]
    result = inspect(stack, home, front, era, *call)
    assert result.get("isError") is False
    assert PROMPT in json.dumps(result["content"])


def test_the_inspector_cli_lists_and_calls_tools_over_http_in_the_legacy_era(
    stack: Stack, tmp_path: Path
) -> None:
    """``--protocol-era legacy`` over Streamable HTTP with a bearer header: tools/list, tools/call chat."""
    check_lists_and_calls(stack, tmp_path, "http", "legacy")


def test_the_inspector_cli_lists_and_calls_tools_over_http_in_the_modern_era(
    stack: Stack, tmp_path: Path
) -> None:
    """``--protocol-era modern`` over Streamable HTTP: discover, then stateless tools/list and tools/call."""
    check_lists_and_calls(stack, tmp_path, "http", "modern")


def test_the_inspector_cli_lists_and_calls_tools_over_exai_stdio_in_the_legacy_era(
    stack: Stack, tmp_path: Path
) -> None:
    """The Inspector launches ``exai stdio``; the handshake and both methods cross the bridge."""
    check_lists_and_calls(stack, tmp_path, "stdio", "legacy")


def test_the_inspector_cli_lists_and_calls_tools_over_exai_stdio_in_the_modern_era(
    stack: Stack, tmp_path: Path
) -> None:
    """The Inspector's modern stdio client probes server/discover through the bridge and stays modern."""
    check_lists_and_calls(stack, tmp_path, "stdio", "modern")
