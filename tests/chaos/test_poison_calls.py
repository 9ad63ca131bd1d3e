"""A call that kills every worker that runs it is set aside after EXAI_CALL_MAX_HANDOVERS handovers,
answered with a clear error, and shown by metrics, health and the dashboard; other calls go on."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import redis

from contracts.names import claim_key
from tests.support.browser import chromium_page
from tests.support.clients import RawClient, raw_client
from tests.support.polling import eventually
from tests.support.processes import ManagedProcess
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.chaos, pytest.mark.timeout(240)]

MAX_HANDOVERS = 2
BOUND_S = 60.0  # from the poison call's start to its answer
DASHBOARD_TOKEN = "dashboard-token-for-poison-test"
SETTINGS: dict[str, Any] = {
    "EXAI_CALL_MAX_HANDOVERS": str(MAX_HANDOVERS),
    # A dead worker's call comes back once its consumer heartbeat lapses (3 s by default).
    "EXAI_CALL_TIMEOUT_S": "150",
    "EXAI_PROVIDER_READ_TIMEOUT_S": "120",  # the poison's provider answer never comes in time
    "EXAI_TELEMETRY_FLUSH_S": "0.2",
    "EXAI_DASHBOARD_TOKEN": DASHBOARD_TOKEN,
}


def kill_each_runner(stack: Stack, call_id: str, correlation: str, stop: threading.Event) -> list[int]:
    """SIGKILL the worker holding the call's claim each time the call reaches the provider again,
    MAX_HANDOVERS + 1 times; returns the PIDs killed."""
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    by_pid: dict[int, ManagedProcess] = {w.pid: w for w in stack.workers}
    killed: list[int] = []
    deadline = time.monotonic() + BOUND_S
    while len(killed) <= MAX_HANDOVERS and time.monotonic() < deadline and not stop.is_set():
        reached = stack.emulator_stats()["by_request_id"].get(correlation, 0)
        if reached > len(killed):
            holder = client.get(claim_key(call_id))
            assert holder is not None, "a worker calls the provider for a call it holds no claim on"
            pid = int(holder.decode().split(":")[1])
            os.kill(pid, signal.SIGKILL)
            process = by_pid[pid].process
            assert process is not None
            process.wait(10)
            killed.append(pid)
        time.sleep(0.05)
    client.close()
    return killed


async def keep_calling(client: RawClient, done: anyio.Event, answers: list[dict[str, Any]]) -> None:
    """Ordinary calls, one after another, until ``done``: each must succeed."""
    n = 0
    while not done.is_set():
        n += 1
        params = {"name": "chat", "arguments": {"prompt": f"ordinary {n}", "model": "kimi-k2.6"}}
        answers.append(await client.request(f"ok-{n}", "tools/call", params))


async def test_a_call_that_kills_its_workers_is_set_aside_and_the_others_keep_succeeding(
    tmp_path: Path,
) -> None:
    """Three runners SIGKILLed as each reaches the provider; the fourth worker answers SET_ASIDE
    without calling it; metrics, health and the dashboard show it; ordinary calls all succeed."""
    correlation = "poison-call-1"
    with running_stack(tmp_path, workers=MAX_HANDOVERS + 2, monitor=True, **SETTINGS) as stack:
        ordinary: list[dict[str, Any]] = []
        async with raw_client(stack.authed_url) as poison, raw_client(stack.authed_url) as other:
            await poison.initialize()
            await other.initialize()
            started = time.monotonic()
            created = await poison.request(
                1,
                "tools/call",
                {
                    "name": "chat",
                    "arguments": {"prompt": "poison emulate:latency_ms=110000", "model": "kimi-k2.6"},
                    "task": {"ttl": 300_000},
                    "_meta": {"io.exai/correlation_id": correlation},
                },
            )
            call_id = created["result"]["task"]["taskId"]
            stop = threading.Event()
            done = anyio.Event()
            killed: list[int] = []
            async with anyio.create_task_group() as group:
                group.start_soon(keep_calling, other, done, ordinary)

                async def killer() -> None:
                    killed.extend(
                        await anyio.to_thread.run_sync(kill_each_runner, stack, call_id, correlation, stop)
                    )

                group.start_soon(killer)
                try:
                    with anyio.fail_after(BOUND_S):
                        answer = await poison.request(2, "tasks/result", {"taskId": call_id})
                finally:
                    stop.set()
                    done.set()
            elapsed = time.monotonic() - started
            after = await other.request(
                "after", "tools/call", {"name": "chat", "arguments": {"prompt": "after"}}
            )

        result = answer["result"]
        text = result["content"][0]["text"]
        assert result["isError"] is True, result
        assert result["structuredContent"]["metadata"]["error_code"] == "SET_ASIDE"
        assert f"set aside after stopping {MAX_HANDOVERS + 1} workers" in text and correlation in text
        assert len(killed) == MAX_HANDOVERS + 1 and elapsed < BOUND_S
        # The worker that set it aside never sent it to the provider.
        assert stack.emulator_stats()["by_request_id"][correlation] == MAX_HANDOVERS + 1
        assert ordinary and all(a["result"]["isError"] is False for a in ordinary), ordinary
        assert after["result"]["isError"] is False
        survivor = next(w for w in stack.workers if w.pid not in killed)
        assert "set aside without running it" in survivor.text()

        metrics = stack.monitor_urls["metrics"]
        eventually(
            lambda: 'mcp_calls_set_aside_total{tool="chat"} 1.0' in httpx.get(metrics, timeout=10).text,
            "the set-aside call counted in the metrics",
            30,
            tolerate=(httpx.HTTPError,),
        )

        def health_component() -> dict[str, Any] | None:
            body = httpx.get(stack.monitor_urls["health"], timeout=10).json()
            component = next(c for c in body["components"] if c["name"] == "set_aside_calls")
            return component if component["status"] == "degraded" else None

        component = eventually(health_component, "health degraded by the set-aside call", 30)
        assert component["recent"] == 1 and component["tools"] == ["chat"]
        state_url = f"{stack.monitor_urls['dashboard']}state?token={DASHBOARD_TOKEN}"
        state = json.loads(httpx.get(state_url, timeout=10).text)
        assert [(c["tool"], c["handovers"], c["correlation_id"]) for c in state["set_aside"]["calls"]] == [
            ("chat", MAX_HANDOVERS + 1, correlation)
        ]
        with chromium_page(tmp_path / "profile") as page:
            page.navigate(f"{stack.monitor_urls['dashboard']}?token={DASHBOARD_TOKEN}")
            shown = "document.getElementById('set-aside').textContent"
            page.wait_for(f"{shown}.includes({json.dumps(correlation)})", timeout=30)
            assert page.evaluate("document.getElementById('sa-recent').textContent") == "1"
