"""Redis commands per call, counted by Redis itself (INFO commandstats) over many sequential calls."""

from __future__ import annotations

import asyncio
from typing import Any

import redis

from bench.client import lean_client
from bench.raw_celery import app_for, round_trip
from tests.support.stack import Stack


def _counts(client: redis.Redis) -> dict[str, int]:
    stats: dict[str, Any] = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def _per_call(before: dict[str, int], after: dict[str, int], n: int) -> dict[str, float]:
    diff = {k: (after.get(k, 0) - before.get(k, 0)) / n for k in after}
    return {k: round(v, 2) for k, v in sorted(diff.items(), key=lambda kv: -kv[1]) if v >= 0.05}


async def _mcp(url: str, n: int) -> None:
    async with lean_client(url) as client:
        for i in range(n):
            await client.call("chat", {"prompt": f"count {i}"})


def measure(stack: Stack, n: int = 200) -> dict[str, Any]:
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    asyncio.run(_mcp(stack.authed_url, 5))  # connections and subscriptions exist before counting
    before = _counts(client)
    asyncio.run(_mcp(stack.authed_url, n))
    mcp = _per_call(before, _counts(client), n)
    app = app_for(stack.env["REDIS_URL"])
    round_trip(app)
    before = _counts(client)
    for _ in range(n):
        round_trip(app)
    raw = _per_call(before, _counts(client), n)
    app.close()
    return {
        "mcp_total_per_call": round(sum(mcp.values()), 1),
        "raw_celery_total_per_call": round(sum(raw.values()), 1),
        "mcp_by_command": mcp,
        "raw_celery_by_command": raw,
    }
