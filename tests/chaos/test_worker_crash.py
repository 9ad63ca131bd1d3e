"""A worker killed with SIGKILL, or stopped with SIGTERM, while it runs calls: none lost, none twice."""

from __future__ import annotations

import os
import random
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
# The default consumer heartbeat (3 s) brings a dead worker's calls back; claims keep their default.
FAST_RECOVERY: dict[str, Any] = {
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
    """All 50 calls of a SIGKILLed worker complete on another within the consumer heartbeat plus
    their own duration; the provider redoes each at most once."""
    latency_s = 6.0
    with running_stack(tmp_path, workers=1, **FAST_RECOVERY) as stack:
        victim = stack.workers[0]
        killed_at: list[float] = []

        def kill_victim() -> None:
            stack.start_worker()  # the survivor, ready before the kill
            os.kill(victim.pid, signal.SIGKILL)
            killed_at.append(time.monotonic())
            assert victim.process is not None
            victim.process.wait(10)

        ledger, ids, correlation = await run_calls_through(stack, "kill9", int(latency_s * 1000), kill_victim)
        # Each call is redone from the start on the survivor: what it waited beyond its own
        # duration is the recovery delay (heartbeat lapse, recovery round, intake).
        added = max(ledger.answered_at[i] for i in ids) - killed_at[0] - latency_s
        result = check(ledger, ids, correlation, stack, "worker kill -9 (50 in flight)")
        result.extra = f"recovery delay after the kill {added:.1f} s (heartbeat 3 s)"
        by_id = stack.emulator_stats()["by_request_id"]
        provider_calls = {i: by_id.get(correlation[i], 0) for i in ids}
        assert "handed" in stack.workers[1].text()  # the survivor's recovery requeued them
    record_figures.append(result)
    assert (result.completed, result.lost, result.duplicated) == (CALLS, 0, 0)
    assert max(provider_calls.values()) <= 2  # each call's work redone at most once
    assert added <= 5.0, result.line()


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


ROUNDS = 20


async def test_kill_9_at_random_points_of_a_calls_life_answers_each_call_once_with_its_own_text(
    tmp_path: Path, record_figures: list[Figures]
) -> None:
    """20 rounds: two calls, then a worker killed at a random moment (queued, running, storing,
    acknowledging) and replaced; every call is answered exactly once, with its own text."""
    rng = random.Random(12)
    heartbeat = {"EXAI_CONSUMER_HEARTBEAT_S": "1.5"}
    ids: list[str] = []
    correlation: dict[str, str] = {}
    with running_stack(tmp_path, workers=2, **FAST_RECOVERY, **heartbeat) as stack:
        async with connect(stack.authed_url, subprotocols=[Subprotocol("mcp")], max_size=None) as ws:
            ledger = Ledger(ws)
            async with anyio.create_task_group() as group:
                group.start_soon(ledger.read_forever)
                await ledger.initialize()
                for round_ in range(ROUNDS):
                    batch = [f"r{round_}-{n}" for n in range(2)]
                    for i in batch:
                        correlation[i] = f"{i}-corr"
                        await ledger.send(
                            i,
                            "tools/call",
                            {
                                "name": "chat",
                                "arguments": {"prompt": f"{i} emulate:latency_ms=600", "model": "kimi-k2.6"},
                                "_meta": {"io.exai/correlation_id": correlation[i]},
                            },
                        )
                    ids += batch
                    await anyio.sleep(rng.uniform(0.0, 1.2))  # the moment of the kill is the point
                    alive = [w for w in stack.workers if w.process is not None and w.process.poll() is None]
                    victim = rng.choice(alive)
                    victim.signal(signal.SIGKILL)
                    assert victim.process is not None
                    await anyio.to_thread.run_sync(victim.process.wait, 10)
                    async with anyio.create_task_group() as replacing:  # two workers again next round
                        replacing.start_soon(anyio.to_thread.run_sync, stack.start_worker)
                        await ledger.wait_for(batch, timeout=60)
                await ledger.wait_for(ids, timeout=60)
                await ledger.request("fence", "ping", {})
                group.cancel_scope.cancel()
        result = check(ledger, ids, correlation, stack, f"worker kill -9 at random points ({ROUNDS} rounds)")
    record_figures.append(result)
    assert (result.completed, result.lost, result.duplicated) == (len(ids), 0, 0)
