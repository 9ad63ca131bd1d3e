"""The transport under real workers: a freed slot takes the next call at once; broadcasts still work."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contracts.queue import make_celery
from contracts.settings import Settings
from tests.support.clients import raw_client
from tests.support.stack import running_stack

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def test_twelve_short_calls_on_two_slots_run_back_to_back(tmp_path: Path) -> None:
    """12 calls of 100 ms on 2 slots: ~0.6 s of work. Waiting 2 s whenever both slots were busy
    (Celery's poll under gevent) took over 10 s."""
    with running_stack(tmp_path, EXAI_WORKER_CONCURRENCY="2") as stack:
        async with raw_client(stack.authed_url) as client:
            await client.initialize()
            started = time.monotonic()
            for n in range(12):
                params = {"name": "chat", "arguments": {"prompt": f"slot {n} emulate:latency_ms=100"}}
                await client.send({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params})
            answers = [await client.response(n, timeout=60) for n in range(12)]
            elapsed = time.monotonic() - started
    assert all(a["result"]["isError"] is False for a in answers)
    assert elapsed < 4.0, f"12 calls on 2 slots took {elapsed:.1f} s"


async def test_celery_inspect_and_control_reach_workers_through_the_transport(tmp_path: Path) -> None:
    """Broadcasts (pidbox) and their replies still flow: ping, active queues, and the liveness
    probe's own command line all answer."""
    with running_stack(tmp_path) as stack:
        app = make_celery(Settings(redis_url=stack.env["REDIS_URL"]))
        try:
            inspector = app.control.inspect(timeout=5)
            pings = inspector.ping() or {}
            queues = inspector.active_queues() or {}
        finally:
            app.close()
        probe = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "workers.main", "inspect", "ping", "--timeout", "10"],
            env={**os.environ, **stack.env},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert len(pings) == 1 and all(answer == {"ok": "pong"} for answer in pings.values())
    assert [q["name"] for q in next(iter(queues.values()))] == ["exai.tools"]
    assert "pong" in probe.stdout, probe.stdout + probe.stderr
