"""The mcp 2.x half of the benchmark, run as the benchmark runs it: in its own venv, as a subprocess."""

from __future__ import annotations

import pytest

from bench.protocol_base import MCP2_PYTHON, mcp2_json

pytestmark = pytest.mark.e2e  # starts the mcp 2.x half as a process of its own
needs_venv = pytest.mark.skipif(
    not MCP2_PYTHON.exists(), reason="no .venv-mcp2: `make install` (or `make bench-venv-mcp2`) makes it"
)


@needs_venv
def test_the_mcp2_half_answers_every_call_on_both_eras() -> None:
    """Every mcp 2.x run (stdio-framed and in-memory, legacy and modern) reports checked figures."""
    found = mcp2_json(MCP2_PYTHON, "--calls", "30", "--concurrency", "5", "--rounds", "1", "--parked", "20")
    for era in ("2025-11-25", "2026-07-28"):
        assert found[f"mcp2 stdio-framed {era} tools/call c=5"]["calls"] == 30
        assert found[f"mcp2 memory {era} tools/call c=5"]["calls"] == 30
        assert found[f"mcp2 parked {era}"]["asyncio_tasks_per_call"] >= 1.0


@needs_venv
def test_the_probe_reports_how_the_kernel_treats_task_results() -> None:
    """The probe shows a 2025 {task} answer refused by the kernel and accepted through a middleware."""
    found = mcp2_json(MCP2_PYTHON, "--probe")
    assert found["legacy tools/call answered with {task}"]["error"]["code"] == -32603
    assert "task" in found["legacy {task} answered by a middleware"]["result"]
    assert found["modern tools/call answered with resultType task"]["result"]["resultType"] == "task"
    assert found["notifications/cancelled of a parked call"]["answered_cancelled_call"] is False
    assert found["public methods of the JSON-RPC dispatcher"] == ["notify", "run", "send_raw_request"]
