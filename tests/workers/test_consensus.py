"""Consensus calls never starve the pool: their parents hold no slot while their models answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.support.clients import mcp_session
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

STEP = {"step": "Choose a cache", "step_number": 1, "total_steps": 1, "next_step_required": False,
        "findings": "Redis or memcached", "confidence": "high"}  # fmt: skip
MODELS = [{"model": "kimi-k2.6", "stance": "for"}, {"model": "glm-4.6", "stance": "against"}]


async def _mix(stack: Stack, consensus_calls: int, plain_calls: int) -> list[dict[str, Any]]:
    """Run consensus and plain chat calls at once, each on its own connection; their results."""
    results: list[dict[str, Any]] = []

    async def one(tool: str, args: dict[str, Any]) -> None:
        async with mcp_session(stack.authed_url) as session:
            result = await session.call_tool(tool, args)
        assert result.isError is False, result.content
        results.append({"tool": tool, **json.loads(result.content[0].text)})  # type: ignore[union-attr]

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for n in range(consensus_calls):
                group.start_soon(one, "consensus", {**STEP, "step": f"Choose a cache {n}", "models": MODELS})
            for n in range(plain_calls):
                plain = {"prompt": f"plain {n} emulate:latency_ms=200", "model": "kimi-k2.6"}
                group.start_soon(one, "chat", plain)
    return results


@pytest.mark.parametrize("concurrency", ["1", "2"])
async def test_three_consensus_calls_and_plain_calls_complete_on_one_or_two_slots(
    tmp_path: Path, concurrency: str
) -> None:
    """Three consensus calls (two models each) and four plain calls at once on a worker of 1 or 2
    slots: all complete, and every model is asked exactly once per consensus call."""
    with running_stack(tmp_path, EXAI_WORKER_CONCURRENCY=concurrency) as stack:
        results = await _mix(stack, consensus_calls=3, plain_calls=4)
        calls = stack.emulator_stats()["calls"]
        worker_log = stack.workers[0].text()
    consensus = [r for r in results if r["tool"] == "consensus"]
    assert len(consensus) == 3 and len(results) == 7
    assert all(r["status"] == "consensus_complete" for r in consensus), consensus
    assert all(len(r["consulted"]) == 2 for r in consensus)
    assert (calls["kimi"], calls["glm"]) == (3 + 4, 3)  # each model once per consensus call
    assert "waits for 2 sub-tasks without holding a slot" in worker_log
