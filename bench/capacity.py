"""In-flight capacity: N concurrent calls, each held 2 s by the emulator, one gateway, one worker.

Goal at N = 1,000: all complete within 5 s of wall time (stretch 3 s), worker RSS ≤ 400 MB.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.client import lean_client
from bench.procinfo import PeakRss
from tests.support.stack import Stack

HOLD_MS = 2000


async def burst(url: str, n: int, clients: int = 10) -> float:
    """Start ``n`` calls at once over ``clients`` connections; seconds until the last answer."""
    async with asyncio.TaskGroup() as group:
        sessions = [group.create_task(_open(url)) for _ in range(clients)]
    opened = [s.result() for s in sessions]
    try:
        started = time.perf_counter()
        await asyncio.gather(
            *(
                opened[i % clients][1].call("chat", {"prompt": f"hold {i} emulate:latency_ms={HOLD_MS}"})
                for i in range(n)
            )
        )
        return time.perf_counter() - started
    finally:
        for context, _ in opened:
            await context.__aexit__(None, None, None)


async def _open(url: str) -> tuple[Any, Any]:
    context = lean_client(url)
    client = await context.__aenter__()
    return context, client


def measure(stack: Stack, sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    worker = stack.workers[0]
    rows = []
    asyncio.run(burst(stack.authed_url, 20))  # warm up
    for n in sizes:
        with PeakRss(worker.pid) as rss:
            wall = asyncio.run(burst(stack.authed_url, n))
        rows.append(
            {
                "calls": n,
                "hold_s": HOLD_MS / 1000,
                "wall_s": round(wall, 2),
                "worker_peak_rss_mb": round(rss.peak / 2**20, 1),
            }
        )
    return rows
