"""The official TypeScript SDK client (``@modelcontextprotocol/sdk`` 1.32) keeps working on the gateway.

``tests/conformance/ts_client.mjs`` runs on the Node 22 of ``tests/conformance/node_modules``
(``make install``) and drives ``Client`` over ``WebSocketClientTransport`` (token in the query, as
a browser-style WebSocket cannot send headers) and ``StreamableHTTPClientTransport`` (bearer
header): initialize, tools/list, and a streaming ``chat`` call with a progress callback. The SDK
1.x speaks the handshake revisions only (its newest is 2025-11-25).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.support.node_tools import NODE_PROJECT, node_env, tool
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

RUN_BOUND_S = 90.0  # Node start, connect, list, one streaming call, close


def run_ts_client(stack: Stack, transport: str) -> dict[str, Any]:
    url = stack.gateway_url if transport == "ws" else stack.http_url
    token = stack.env["EXAI_WS_TOKEN"]
    done = subprocess.run(
        [tool("node"), "ts_client.mjs", "--transport", transport, "--url", url, "--token", token],
        cwd=NODE_PROJECT,
        env=node_env(),
        capture_output=True,
        text=True,
        timeout=RUN_BOUND_S,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"ts_client.mjs printed no report (exit {done.returncode}):\n{done.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(lines[-1])
    assert report["ok"], f"TS SDK over {transport} failed at {report['stage']}:\n{report.get('error')}"
    return report


def check_list_call_progress(report: dict[str, Any]) -> None:
    assert report["server"] == "exai-mcp"
    assert {"chat", "listmodels", "version"} <= set(report["tools"])
    assert report["call"]["is_error"] is False
    assert "ts sdk matrix" in report["call"]["text"]
    values = [p["progress"] for p in report["progress"]]
    assert values, "no progress notification reached the TS client"
    assert values == sorted(values) and len(set(values)) == len(values), f"progress must increase: {values}"


def test_the_ts_sdk_client_over_websocket_lists_calls_and_gets_progress(stack: Stack) -> None:
    """WebSocketClientTransport: the subprotocol is echoed, the session initializes, calls stream progress."""
    check_list_call_progress(run_ts_client(stack, "ws"))


def test_the_ts_sdk_client_over_streamable_http_lists_calls_and_gets_progress(stack: Stack) -> None:
    """StreamableHTTPClientTransport: the 2025-11-25 session, tools/list, a call with progress on SSE."""
    report = run_ts_client(stack, "http")
    assert report["protocol_version"] == "2025-11-25"
    check_list_call_progress(report)
