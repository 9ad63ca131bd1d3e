"""This project's session in the benchmark: every call answered successfully, parked calls weighed."""

from __future__ import annotations

import pytest

from bench import protocol_current

pytestmark = pytest.mark.anyio


async def test_a_session_run_answers_every_call_with_a_success() -> None:
    """A measured run of tools/call goes through Session and the fake backend and checks its answers."""
    run = await protocol_current.measure("tools/call", 50, 10)
    assert run["calls"] == 50
    assert run["cpu_us_per_call"] > 0


async def test_a_session_run_lists_every_tool() -> None:
    """A measured run of tools/list checks that each answer lists the whole catalog."""
    run = await protocol_current.measure("tools/list", 20, 5)
    assert run["calls"] == 20


async def test_parked_calls_cost_one_task_each_in_the_session() -> None:
    """While their replies are held, each call holds one asyncio task and some memory."""
    cost = await protocol_current.parked(50)
    assert cost["parked_calls"] == 50
    assert cost["asyncio_tasks_per_call"] == 1.0
    assert cost["bytes_per_call"] > cost["backend_bytes_per_call"] > 0
