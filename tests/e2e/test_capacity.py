"""Provider capacity limits enforced across all workers through leases in Redis."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.support.clients import mcp_session
from tests.support.stack import running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def test_the_per_provider_limit_holds_across_two_workers(tmp_path: Path) -> None:
    """12 calls, 2 workers, EXAI_PROVIDER_MAX_IN_FLIGHT=3: all answer, the provider never sees 4 at once."""
    with running_stack(tmp_path, workers=2, EXAI_PROVIDER_MAX_IN_FLIGHT="3") as stack:
        answers: list[bool] = []
        async with mcp_session(stack.authed_url) as session:

            async def one(i: int) -> None:
                result = await session.call_tool(
                    "chat", {"prompt": f"slot {i} emulate:latency_ms=400", "model": "kimi-k2.6"}
                )
                answers.append(result.isError is False)

            with anyio.fail_after(60):
                async with anyio.create_task_group() as group:
                    for i in range(12):
                        group.start_soon(one, i)
        stats = stack.emulator_stats()
        worker_logs = [w.text() for w in stack.workers]
    assert answers == [True] * 12
    assert stats["max_in_flight"]["kimi"] == 3
    assert all("running chat" in log for log in worker_logs)  # both workers took calls
