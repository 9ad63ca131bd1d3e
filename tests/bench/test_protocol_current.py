"""This project's protocol core in the benchmark: every call answered successfully, parked calls weighed."""

from __future__ import annotations

import pytest

from bench import protocol_current

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_core_run_answers_every_call_with_a_success(era: str) -> None:
    """A measured run of tools/call goes through the core and the fake backend and checks its answers."""
    run = await protocol_current.measure("tools/call", 50, 10, era)
    assert run["calls"] == 50
    assert run["cpu_us_per_call"] > 0


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_core_run_lists_every_tool(era: str) -> None:
    """A measured run of tools/list checks that each answer lists the whole catalog."""
    run = await protocol_current.measure("tools/list", 20, 5, era)
    assert run["calls"] == 20


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_parked_calls_hold_no_asyncio_task_in_the_core(era: str) -> None:
    """While their replies are held, a call holds a route and some memory, never a task."""
    cost = await protocol_current.parked(50, era)
    assert cost["parked_calls"] == 50
    assert cost["asyncio_tasks_per_call"] == 0.0
    assert cost["bytes_per_call"] > 0
