"""A worker killed with SIGKILL, or stopped with SIGTERM, while it runs calls: none lost, none twice."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from tests.chaos.ledger import Figures, Ledger, figures
from tests.support.polling import eventually
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.chaos, pytest.mark.timeout(240)]

CALLS = 50
# Short claims so a dead worker's calls come back in seconds; the visibility timeout stays long.
FAST_RECOVERY: dict[str, Any] = {
    "EXAI_CLAIM_TTL_S": "3",
    "EXAI_REAPER_INTERVAL_S": "0.5",
    "EXAI_CALL_TIMEOUT_S": "120",
    "EXAI_PROVIDER_READ_TIMEOUT_S": "30",  # the emulated provider takes seconds before its first byte
}


async def run_calls_through(
    stack: Stack, prefix: str, latency_ms: int, disrupt: object
) -> tuple[Ledger, list[str], dict[str, str]]:
    """Send CALLS chat calls on one connection, run ``disrupt()`` once all are in flight, await all."""
    ids = [f"{prefix}-{i}" for i in range(CALLS)]
    correlation = {i: f"{prefix}-corr-{n}" for n, i in enumerate(ids)}
    async with connect(stack.authed_url, subprotocols=[Subprotocol("mcp")], max_size=None) as ws:
        ledger = Ledger(ws)
        async with anyio.create_task_group() as group:
            group.start_soon(ledger.read_forever)
            await ledger.initialize()
            for i in ids:
                await ledger.send(
                    i,
                    "tools/call",
                    {
                        "name": "chat",
                        "arguments": {"prompt": f"{i} emulate:latency_ms={latency_ms}", "model": "kimi-k2.6"},
                        "_meta": {"io.exai/correlation_id": correlation[i]},
                    },
                )
            await anyio.to_thread.run_sync(
                lambda: eventually(
                    lambda: stack.emulator_stats()["in_flight"]["kimi"] >= CALLS,
                    f"{CALLS} calls in flight",
                    60,
                    interval=0.05,
                )
            )
            await anyio.to_thread.run_sync(disrupt)  # type: ignore[arg-type]
            await ledger.wait_for(ids, timeout=150)
            await ledger.request("fence", "ping", {})  # anything answered twice came before this
            group.cancel_scope.cancel()
    return ledger, ids, correlation


def check(ledger: Ledger, ids: list[str], correlation: dict[str, str], stack: Stack, name: str) -> Figures:
    result = figures(name, ids, ledger.answers, stack.emulator_stats()["by_request_id"], correlation)
    for i in ids:
        text = ledger.answers[i][0]["result"]["structuredContent"]["content"]
        assert f"{i} emulate:latency_ms=" in text, text
    return result


async def test_kill_9_of_a_worker_with_50_calls_in_flight_loses_none(
    tmp_path: Path, record_figures: list[Figures]
) -> None:
    """All 50 calls of a SIGKILLed worker complete on another; the provider redoes each at most once."""
    with running_stack(tmp_path, workers=1, **FAST_RECOVERY) as stack:
        victim = stack.workers[0]

        def kill_victim() -> None:
            stack.start_worker()  # the survivor, ready before the kill
            os.kill(victim.pid, signal.SIGKILL)
            assert victim.process is not None
            victim.process.wait(10)

        ledger, ids, correlation = await run_calls_through(stack, "kill9", 6000, kill_victim)
        result = check(ledger, ids, correlation, stack, "worker kill -9 (50 in flight)")
        by_id = stack.emulator_stats()["by_request_id"]
        provider_calls = {i: by_id.get(correlation[i], 0) for i in ids}
        assert "handed" in stack.workers[1].text()  # the survivor's reaper requeued them
    record_figures.append(result)
    assert (result.completed, result.lost, result.duplicated) == (CALLS, 0, 0)
    assert max(provider_calls.values()) <= 2  # each call's work redone at most once


async def test_sigterm_of_a_busy_worker_finishes_its_calls_within_the_bound(
    tmp_path: Path, record_figures: list[Figures]
) -> None:
    """A warm shutdown lets running calls finish (bounded by their deadline); nothing is lost or redone."""
    with running_stack(tmp_path, workers=1, **FAST_RECOVERY) as stack:
        victim = stack.workers[0]
        exit_code: list[int] = []

        def stop_victim() -> None:
            stack.start_worker()
            started = time.monotonic()
            os.kill(victim.pid, signal.SIGTERM)
            assert victim.process is not None
            exit_code.append(victim.process.wait(60))
            assert time.monotonic() - started < 60

        ledger, ids, correlation = await run_calls_through(stack, "term", 3000, stop_victim)
        result = check(ledger, ids, correlation, stack, "worker SIGTERM (50 in flight)")
    record_figures.append(result)
    assert exit_code == [0]
    assert (result.completed, result.lost, result.duplicated, result.redone) == (CALLS, 0, 0, 0)
