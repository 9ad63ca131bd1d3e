"""The gateway killed, and Redis restarted, with calls in flight: every result is still delivered."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from contracts.names import TOOL_QUEUE
from tests.chaos.ledger import Figures, Ledger, figures
from tests.support.polling import eventually
from tests.support.stack import running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.chaos, pytest.mark.timeout(240)]

RECOVERY: dict[str, Any] = {
    "EXAI_CALL_TIMEOUT_S": "120",
    "EXAI_PROVIDER_READ_TIMEOUT_S": "30",
}


def chat(prompt: str, correlation: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "chat",
        "arguments": {"prompt": prompt, "model": "kimi-k2.6"},
        "_meta": {"io.exai/correlation_id": correlation},
        **extra,
    }


async def test_gateway_killed_with_50_calls_in_flight_every_result_is_retrievable(
    tmp_path: Path, record_figures: list[Figures]
) -> None:
    """25 task calls and 25 plain calls, gateway SIGKILLed: a new gateway serves all 50 results."""
    sent = [f"gw-{i}" for i in range(50)]
    with running_stack(tmp_path, workers=1, **RECOVERY) as stack:
        async with connect(stack.authed_url, subprotocols=[Subprotocol("mcp")]) as ws:
            ledger = Ledger(ws)
            async with anyio.create_task_group() as group:
                group.start_soon(ledger.read_forever)
                await ledger.initialize()
                for n, name in enumerate(sent):
                    task = {"task": {"ttl": 600_000}} if n % 2 == 0 else {}
                    await ledger.send(
                        name, "tools/call", chat(f"{name} emulate:latency_ms=4000", name, **task)
                    )
                await ledger.wait_for(sent[::2], timeout=30)  # the task calls are acknowledged
                await anyio.to_thread.run_sync(
                    lambda: eventually(
                        lambda: stack.emulator_stats()["in_flight"]["kimi"] >= 50,
                        "50 calls in flight",
                        60,
                        interval=0.05,
                    )
                )
                killed = stack.gateway
                assert killed is not None and killed.process is not None
                killed.signal(signal.SIGKILL)
                await anyio.to_thread.run_sync(killed.process.wait, 10)
                killed.stop()  # reaps it and closes its log pipe
                group.cancel_scope.cancel()
        stack.start_gateway()
        answers: dict[Any, list[dict[str, Any]]] = {}
        async with connect(stack.authed_url, subprotocols=[Subprotocol("mcp")]) as ws:
            again = Ledger(ws)
            async with anyio.create_task_group() as group:
                group.start_soon(again.read_forever)
                await again.initialize()
                task_ids: list[str] = []
                cursor: str | None = None
                while True:
                    page = await again.request(
                        f"list-{cursor}", "tasks/list", {"cursor": cursor} if cursor else {}
                    )
                    task_ids += [t["taskId"] for t in page["result"]["tasks"]]
                    cursor = page["result"].get("nextCursor")
                    if cursor is None:
                        break
                for task_id in task_ids:
                    await again.send(task_id, "tasks/result", {"taskId": task_id})
                await again.wait_for(task_ids, timeout=120)
                group.cancel_scope.cancel()
        for task_id in task_ids:
            answer = again.answers[task_id][0]
            name = answer["result"]["_meta"]["io.exai/correlation_id"]
            answers.setdefault(name, []).append(answer)
        result = figures(
            "gateway kill -9 (50 in flight)",
            sent,
            answers,
            stack.emulator_stats()["by_request_id"],
            {n: n for n in sent},
        )
    record_figures.append(result)
    assert (result.completed, result.lost, result.duplicated, result.redone) == (50, 0, 0, 0)


async def test_redis_restart_with_calls_queued_loses_none_and_everything_reconnects(
    tmp_path: Path, record_figures: list[Figures]
) -> None:
    """Redis (AOF on) stops and starts under 30 calls, most of them queued: all 30 are answered once."""
    sent = [f"rd-{i}" for i in range(30)]
    with running_stack(tmp_path, workers=1, EXAI_WORKER_CONCURRENCY="5", **RECOVERY) as stack:
        store = redis.Redis.from_url(stack.env["REDIS_URL"])
        async with connect(stack.authed_url, subprotocols=[Subprotocol("mcp")]) as ws:
            ledger = Ledger(ws)
            async with anyio.create_task_group() as group:
                group.start_soon(ledger.read_forever)
                await ledger.initialize()
                for name in sent:
                    await ledger.send(name, "tools/call", chat(f"{name} emulate:latency_ms=1500", name))
                await anyio.to_thread.run_sync(
                    lambda: eventually(
                        lambda: store.llen(TOOL_QUEUE) >= 15, "calls waiting in the queue", 30, interval=0.05
                    )
                )
                store.close()
                await anyio.to_thread.run_sync(stack.redis.stop)
                await anyio.to_thread.run_sync(stack.redis.start)
                await ledger.wait_for(sent, timeout=150)
                after = await ledger.request("after", "tools/call", chat("after the restart", "rd-after"), 60)
                await ledger.request("fence", "ping", {})
                group.cancel_scope.cancel()
        provider_calls = stack.emulator_stats()["by_request_id"]
        result = figures(
            "redis restart (30 calls, 25 queued)", sent, ledger.answers, provider_calls, {n: n for n in sent}
        )
    record_figures.append(result)
    assert after["result"]["isError"] is False
    failed = {
        n: ledger.answers[n][0]
        for n in sent
        if ledger.answers.get(n) and ledger.answers[n][0].get("result", {}).get("isError") is not False
    }
    assert (result.completed, result.lost, result.duplicated) == (30, 0, 0), failed
    assert all(provider_calls.get(n, 0) <= 2 for n in sent)  # work redone at most once


async def test_redis_kill_9_with_appendfsync_always_loses_no_call(
    tmp_path: Path, record_figures: list[Figures]
) -> None:
    """Redis SIGKILLed under 30 calls (some running, most queued) and started again from its AOF:
    a message is in its queue or in a consumer's in-flight list at every instant, so all 30 are
    answered exactly once, each with its own text, and no lost-call check is needed."""
    sent = [f"rk-{i}" for i in range(30)]
    with running_stack(tmp_path, workers=1, EXAI_WORKER_CONCURRENCY="5", **RECOVERY) as stack:
        store = redis.Redis.from_url(stack.env["REDIS_URL"])
        store.config_set("appendfsync", "always")
        async with connect(stack.authed_url, subprotocols=[Subprotocol("mcp")]) as ws:
            ledger = Ledger(ws)
            async with anyio.create_task_group() as group:
                group.start_soon(ledger.read_forever)
                await ledger.initialize()
                for name in sent:
                    await ledger.send(name, "tools/call", chat(f"{name} emulate:latency_ms=1500", name))
                await anyio.to_thread.run_sync(
                    lambda: eventually(
                        lambda: store.llen(TOOL_QUEUE) >= 15, "calls waiting in the queue", 30, interval=0.05
                    )
                )
                store.close()
                assert stack.redis.process is not None
                stack.redis.process.kill()
                await anyio.to_thread.run_sync(stack.redis.process.wait, 10)
                await anyio.to_thread.run_sync(stack.redis.start)
                await ledger.wait_for(sent, timeout=150)
                await ledger.request("fence", "ping", {})
                group.cancel_scope.cancel()
        provider_calls = stack.emulator_stats()["by_request_id"]
        scenario = "redis kill -9, appendfsync always (30 calls)"
        result = figures(scenario, sent, ledger.answers, provider_calls, {n: n for n in sent})
    record_figures.append(result)
    for name in sent:
        text = ledger.answers[name][0]["result"]["structuredContent"]["content"]
        assert f"{name} emulate:latency_ms=" in text, text
    assert (result.completed, result.lost, result.duplicated) == (30, 0, 0)
    assert all(provider_calls.get(n, 0) <= 2 for n in sent)  # work redone at most once
