"""The official ``mcp`` 2.3 client (``mcp.Client``) against the real stack, per mode and front.

Modes: ``2026-07-28`` (modern: per-request ``_meta``, no handshake), ``auto`` (probes
``server/discover``; a dual-era server keeps it modern) and ``legacy`` (the ``initialize``
handshake). Fronts: Streamable HTTP, ``exai stdio`` (the client launches ``python -m cli.main
stdio``) and WebSocket (a small test transport, ``tests/support/mcp2_client/websocket_transport.py``).
Each case runs one step of ``tests/support/mcp2_client/scenario.py`` with ``.venv-mcp2/bin/python``
(``mcp`` 2.x cannot share the main venv with ``mcp`` 1.x) and checks its JSON report, and for
cancellation what the server did. Tasks go through the ``io.modelcontextprotocol/tasks``
extension, which ``mcp`` 2.3 supports only through its public client-extension API
(``tests/support/mcp2_client/tasks_extension.py``); it has no client for the 2025 tasks API, so
legacy mode has no task case. The stack serves the conformance fixture pack for ``slow_compute``.
"""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from contracts.names import result_key
from tests.support.polling import eventually
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MCP2_PYTHON = REPO / ".venv-mcp2" / "bin" / "python"
MODERN, LEGACY = "2026-07-28", "2025-11-25"
STEP_BOUND_S = 90.0  # one client run: start, connect, the step, exit
WAIT = 30.0
TASKS_EXTENSION = "io.modelcontextprotocol/tasks"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, emulator, worker and gateway, with the fixture pack (``slow_compute``) loaded."""
    with running_stack(
        tmp_path_factory.mktemp("mcp2"), EXAI_TOOL_PACKS="tests.conformance.fixture_pack"
    ) as running:
        yield running


def command(stack: Stack, front: str, mode: str, step: str, *extra: str) -> tuple[list[str], dict[str, str]]:
    if not MCP2_PYTHON.exists():
        raise AssertionError(f"{MCP2_PYTHON} is missing: `make install` creates .venv-mcp2 (mcp 2.3)")
    target = {"http": stack.http_url, "ws": stack.gateway_url, "stdio": ""}[front]
    args = [str(MCP2_PYTHON), "-m", "tests.support.mcp2_client.scenario", "--front", front, "--mode", mode]
    args += ["--step", step, "--target", target, "--server-python", sys.executable, *extra]
    env = {**stack.env, "PYTHONPATH": str(REPO), "EXAI_WS_URL": stack.gateway_url}
    env |= {"EXAI_STDIO_RECONNECT_BASE_S": "0.1", "EXAI_STDIO_RECONNECT_MAX_S": "0.5"}
    return args, env


def run_step(stack: Stack, front: str, mode: str, step: str) -> dict[str, Any]:
    """Run one step to its end and return its report; fail with the client's stderr if it has none."""
    args, env = command(stack, front, mode, step)
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=STEP_BOUND_S)
    return parse_report(done.stdout, done.stderr)


@contextmanager
def held_step(stack: Stack, front: str, mode: str, step: str) -> Iterator[dict[str, Any]]:
    """Run a step that stays connected after its report (``--hold``) until the block ends."""
    args, env = command(stack, front, mode, step, "--hold")
    pipe = subprocess.PIPE
    process = subprocess.Popen(args, cwd=REPO, env=env, text=True, stdin=pipe, stdout=pipe, stderr=pipe)
    assert process.stdout is not None and process.stdin is not None and process.stderr is not None
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=STEP_BOUND_S)
        line = process.stdout.readline() if ready else ""
        if not line:
            process.kill()
        yield parse_report(line, "" if line else process.stderr.read()[-4000:])
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=WAIT)
        process.stdout.close()
        process.stderr.close()


def parse_report(stdout: str, stderr: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert lines, f"the mcp 2.3 client printed no report; its stderr:\n{stderr[-4000:]}"
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def require_ok(report: dict[str, Any], version: str) -> None:
    where = f"{report['front']} mode={report['mode']} step={report['step']}"
    assert report.get("ok"), f"{where}: failed at {report.get('stage')}: {report.get('error')}\n" + str(
        report.get("traceback", "")
    )
    hint = " (server/discover was not answered as a dual-era server does)" if report["mode"] == "auto" else ""
    assert report["protocol_version"] == version, (
        f"{where}: negotiated {report['protocol_version']}, expected {version}{hint}"
    )


def check_list_call_progress(stack: Stack, front: str, mode: str, version: str) -> None:
    report = run_step(stack, front, mode, "list-call-progress")
    require_ok(report, version)
    assert {"chat", "listmodels", "version"} <= set(report["tools"])
    assert report["call"]["is_error"] is False
    assert "mcp2 matrix" in report["call"]["text"]
    values = [p["progress"] for p in report["progress"]]
    assert values, "no progress notification reached the client"
    assert values == sorted(values) and len(set(values)) == len(values), f"progress must increase: {values}"
    assert any("chunks streamed" in (p["message"] or "") for p in report["progress"])


def cancelled_calls(stack: Stack) -> set[str]:
    r = redis.Redis.from_url(stack.env["REDIS_URL"])
    found = set()
    for key in r.scan_iter(result_key("*")):
        outcome = json.loads(r.get(key) or b"{}")
        if outcome.get("error_code") == "CANCELLED":
            found.add(str(outcome.get("call_id")))
    return found


def check_cancel(stack: Stack, front: str, mode: str, version: str) -> None:
    before = cancelled_calls(stack)
    with held_step(stack, front, mode, "cancel") as report:
        require_ok(report, version)
        assert report["answered_anyway"] is None, "the abandoned call was answered all the same"
        assert report["usable_after_cancel"] is True
        # The client stays connected meanwhile: a CANCELLED outcome comes from the cancellation, not
        # from the connection closing (calls of a closed connection run on).
        new = eventually(lambda: cancelled_calls(stack) - before, "the server to cancel the call", WAIT)
        stopped_after = time.time() - float(report["cancelled_at"])
    assert len(new) == 1
    assert stopped_after < WAIT


def check_task(stack: Stack, front: str, mode: str) -> None:
    report = run_step(stack, front, mode, "task")
    require_ok(report, MODERN)
    assert TASKS_EXTENSION in (report["capabilities"].get("extensions") or {}), report["capabilities"]
    assert report["created"], "slow_compute (2 s, task-supporting) was answered without a task"
    created = report["created"][0]
    assert created["resultType"] == "task" and created["taskId"]
    assert created["status"] == "working"
    assert report["statuses"][-1] == "completed", report["statuses"]
    assert report["call"]["is_error"] is False and report["call"]["text"]


# --- mode="2026-07-28" ---------------------------------------------------------------------------


def test_mcp2_client_modern_over_http_lists_calls_and_gets_progress(stack: Stack) -> None:
    """Modern Streamable HTTP: tools/list and a chat call with increasing progress, no handshake."""
    check_list_call_progress(stack, "http", MODERN, MODERN)


def test_mcp2_client_modern_over_http_cancels_a_call(stack: Stack) -> None:
    """Modern Streamable HTTP: closing the call's POST stream cancels the Celery work."""
    check_cancel(stack, "http", MODERN, MODERN)


def test_mcp2_client_modern_over_http_runs_a_task_to_completion(stack: Stack) -> None:
    """Modern Streamable HTTP with the tasks extension: a task answer, tasks/get until completed."""
    check_task(stack, "http", MODERN)


def test_mcp2_client_modern_over_stdio_lists_calls_and_gets_progress(stack: Stack) -> None:
    """Modern stdio through ``exai stdio``: tools/list and a chat call with progress."""
    check_list_call_progress(stack, "stdio", MODERN, MODERN)


def test_mcp2_client_modern_over_stdio_cancels_a_call(stack: Stack) -> None:
    """Modern stdio: notifications/cancelled through the bridge cancels the call."""
    check_cancel(stack, "stdio", MODERN, MODERN)


def test_mcp2_client_modern_over_stdio_runs_a_task_to_completion(stack: Stack) -> None:
    """Modern stdio with the tasks extension: the task runs to completion through the bridge."""
    check_task(stack, "stdio", MODERN)


def test_mcp2_client_modern_over_websocket_lists_calls_and_gets_progress(stack: Stack) -> None:
    """Modern WebSocket (per-request _meta on a socket): tools/list and a chat call with progress."""
    check_list_call_progress(stack, "ws", MODERN, MODERN)


def test_mcp2_client_modern_over_websocket_cancels_a_call(stack: Stack) -> None:
    """Modern WebSocket: notifications/cancelled cancels the call; the socket goes on."""
    check_cancel(stack, "ws", MODERN, MODERN)


def test_mcp2_client_modern_over_websocket_runs_a_task_to_completion(stack: Stack) -> None:
    """Modern WebSocket with the tasks extension: the task runs to completion."""
    check_task(stack, "ws", MODERN)


# --- mode="auto": server/discover, kept modern by a dual-era server ------------------------------


def test_mcp2_client_auto_over_http_lists_calls_and_gets_progress(stack: Stack) -> None:
    """auto over Streamable HTTP negotiates 2026-07-28 by server/discover, then lists and calls."""
    check_list_call_progress(stack, "http", "auto", MODERN)


def test_mcp2_client_auto_over_http_cancels_a_call(stack: Stack) -> None:
    """auto over Streamable HTTP: the abandoned call is cancelled on the server."""
    check_cancel(stack, "http", "auto", MODERN)


def test_mcp2_client_auto_over_http_runs_a_task_to_completion(stack: Stack) -> None:
    """auto over Streamable HTTP with the tasks extension: a task to completion."""
    check_task(stack, "http", "auto")


def test_mcp2_client_auto_over_stdio_lists_calls_and_gets_progress(stack: Stack) -> None:
    """auto over ``exai stdio``: the discover probe is served (stdio backward compatibility)."""
    check_list_call_progress(stack, "stdio", "auto", MODERN)


def test_mcp2_client_auto_over_stdio_cancels_a_call(stack: Stack) -> None:
    """auto over stdio: the abandoned call is cancelled on the server."""
    check_cancel(stack, "stdio", "auto", MODERN)


def test_mcp2_client_auto_over_stdio_runs_a_task_to_completion(stack: Stack) -> None:
    """auto over stdio with the tasks extension: a task to completion."""
    check_task(stack, "stdio", "auto")


def test_mcp2_client_auto_over_websocket_lists_calls_and_gets_progress(stack: Stack) -> None:
    """auto over WebSocket: server/discover opens the modern era on the connection."""
    check_list_call_progress(stack, "ws", "auto", MODERN)


def test_mcp2_client_auto_over_websocket_cancels_a_call(stack: Stack) -> None:
    """auto over WebSocket: the abandoned call is cancelled on the server."""
    check_cancel(stack, "ws", "auto", MODERN)


def test_mcp2_client_auto_over_websocket_runs_a_task_to_completion(stack: Stack) -> None:
    """auto over WebSocket with the tasks extension: a task to completion."""
    check_task(stack, "ws", "auto")


# --- mode="legacy": the newest Python client on the initialize handshake -------------------------


def test_mcp2_client_legacy_over_http_lists_calls_and_gets_progress(stack: Stack) -> None:
    """mcp 2.3 with the 2025-11-25 handshake over Streamable HTTP: list, call, progress."""
    check_list_call_progress(stack, "http", "legacy", LEGACY)


def test_mcp2_client_legacy_over_http_cancels_a_call(stack: Stack) -> None:
    """Legacy Streamable HTTP: notifications/cancelled cancels the call."""
    check_cancel(stack, "http", "legacy", LEGACY)


def test_mcp2_client_legacy_over_stdio_lists_calls_and_gets_progress(stack: Stack) -> None:
    """mcp 2.3 with the handshake through ``exai stdio``: list, call, progress."""
    check_list_call_progress(stack, "stdio", "legacy", LEGACY)


def test_mcp2_client_legacy_over_stdio_cancels_a_call(stack: Stack) -> None:
    """Legacy stdio: notifications/cancelled through the bridge cancels the call."""
    check_cancel(stack, "stdio", "legacy", LEGACY)


def test_mcp2_client_legacy_over_websocket_lists_calls_and_gets_progress(stack: Stack) -> None:
    """mcp 2.3 with the handshake over the WebSocket test transport: list, call, progress."""
    check_list_call_progress(stack, "ws", "legacy", LEGACY)


def test_mcp2_client_legacy_over_websocket_cancels_a_call(stack: Stack) -> None:
    """Legacy WebSocket: notifications/cancelled cancels the call; the socket goes on."""
    check_cancel(stack, "ws", "legacy", LEGACY)
