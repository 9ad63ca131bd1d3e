"""Throughput of small calls at several concurrencies (goal: ≥ 80 % of raw Celery's tasks/s)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.client import lean_client
from bench.raw_celery import same_tool_throughput
from bench.raw_celery import throughput as raw_throughput
from tests.support.stack import Stack


async def mcp_throughput(url: str, concurrency: int, total: int, suffix: str = "") -> float:
    """Calls per second of ``total`` chat calls, ``concurrency`` at a time (``suffix`` ends each prompt)."""
    async with lean_client(url) as client:
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with gate:
                await client.call("chat", {"prompt": f"throughput {i}{suffix}"})

        await asyncio.gather(*(one(i) for i in range(concurrency)))  # warm up
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(total)))
        return total / (time.perf_counter() - started)


def measure(stack: Stack, levels: tuple[int, ...], total: int) -> list[dict[str, Any]]:
    rows = []
    for concurrency in levels:
        n = max(total // 4, 50) if concurrency == 1 else total
        mcp = asyncio.run(mcp_throughput(stack.authed_url, concurrency, n))
        raw = raw_throughput(stack.env["REDIS_URL"], concurrency, n)
        same = same_tool_throughput(stack.env["REDIS_URL"], concurrency, n)
        rows.append(
            {
                "concurrency": concurrency,
                "calls": n,
                "mcp_calls_per_s": round(mcp, 1),
                "raw_celery_tasks_per_s": round(raw, 1),
                "ratio": round(mcp / raw, 2),
                "met": mcp >= 0.8 * raw,
                # The chat tool's own Celery task without the MCP front: the front's share.
                "celery_same_tool_per_s": round(same, 1),
                "same_tool_ratio": round(same / raw, 2),
            }
        )
    return rows
