"""A worker killed while it holds capacity leases: its slots come back, so no capacity is lost."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import anyio
import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from tests.chaos.ledger import Figures, Ledger, figures
from tests.support.stack import running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.chaos, pytest.mark.timeout(240)]

LIMIT = 2


async def test_a_killed_workers_leases_expire_and_its_calls_run_elsewhere(
    tmp_path: Path, record_figures: list[Figures]
) -> None:
    """With every slot held by the victim, its calls can only finish if its leases lapse."""
    sent = [f"lease-{i}" for i in range(LIMIT)]
    with running_stack(
        tmp_path,
        workers=1,
        EXAI_PROVIDER_MAX_IN_FLIGHT=str(LIMIT),
        EXAI_LEASE_TTL_S="2",
        EXAI_PROVIDER_READ_TIMEOUT_S="30",
    ) as stack:
        victim = stack.workers[0]
        async with connect(stack.authed_url, subprotocols=[Subprotocol("mcp")]) as ws:
            ledger = Ledger(ws)
            async with anyio.create_task_group() as group:
                group.start_soon(ledger.read_forever)
                await ledger.initialize()
                for name in sent:
                    params = {
                        "name": "chat",
                        "arguments": {"prompt": f"{name} emulate:latency_ms=8000", "model": "kimi-k2.6"},
                        "_meta": {"io.exai/correlation_id": name},
                    }
                    await ledger.send(name, "tools/call", params)

                def kill_when_busy() -> None:
                    deadline = time.monotonic() + 60
                    while stack.emulator_stats()["in_flight"]["kimi"] < LIMIT:
                        assert time.monotonic() < deadline, "calls never reached the provider"
                        time.sleep(0.05)
                    stack.start_worker()
                    os.kill(victim.pid, signal.SIGKILL)
                    assert victim.process is not None
                    victim.process.wait(10)

                await anyio.to_thread.run_sync(kill_when_busy)
                await ledger.wait_for(sent, timeout=120)
                await ledger.request("fence", "ping", {})
                group.cancel_scope.cancel()
        result = figures(
            f"worker kill -9 holding all {LIMIT} capacity leases",
            sent,
            ledger.answers,
            stack.emulator_stats()["by_request_id"],
            {n: n for n in sent},
        )
    record_figures.append(result)
    assert (result.completed, result.lost, result.duplicated) == (LIMIT, 0, 0)
