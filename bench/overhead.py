"""Overhead per call (goal: MCP p50 ≤ 1.5x and p99 ≤ 3x the raw Celery round trip).

Three paths, measured in alternating blocks in one run against the same Redis and worker, with
the emulator answering at once: a full MCP ``tools/call`` (chat) through gateway → queue → worker
→ emulator; a raw Celery ``send_task`` + ``get`` of a no-op task; and the chat tool's code called
in-process (its HTTP call to the emulator included).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.client import LeanClient, lean_client
from bench.direct import direct_calls
from bench.raw_celery import SameToolRoundTrip, app_for, round_trip
from bench.stats import summary
from contracts.settings import Settings
from tests.support.stack import Stack


async def mcp_round_trip(client: LeanClient, prompt: str) -> float:
    started = time.perf_counter()
    await client.call("chat", {"prompt": prompt})
    return time.perf_counter() - started


async def _measure(stack: Stack, settings: Settings, rounds: int, block: int) -> dict[str, Any]:
    app = app_for(stack.env["REDIS_URL"])
    same_tool = SameToolRoundTrip(app, stack.env["REDIS_URL"])
    mcp: list[float] = []
    raw: list[float] = []
    celery_tool: list[float] = []
    direct: list[float] = []
    async with lean_client(stack.authed_url) as client:
        for _ in range(5):  # warm every path
            await mcp_round_trip(client, "warm up")
            await asyncio.to_thread(round_trip, app)
            await asyncio.to_thread(same_tool, "warm up")
        direct_calls(settings, ["warm up"] * 5)
        for _ in range(rounds):
            for _ in range(block):
                mcp.append(await mcp_round_trip(client, "latency probe"))
            for _ in range(block):
                raw.append(await asyncio.to_thread(round_trip, app))
            for _ in range(block):
                celery_tool.append(await asyncio.to_thread(same_tool, "latency probe"))
            direct += await asyncio.to_thread(direct_calls, settings, ["latency probe"] * block)
    same_tool.close()
    app.close()
    m, r, d = summary(mcp), summary(raw), summary(direct)
    return {
        "mcp_tools_call": m,
        "raw_celery": r,
        "celery_same_tool": summary(celery_tool),
        "direct_in_process": d,
        "ratio_p50": round(m["p50_ms"] / r["p50_ms"], 2),
        "ratio_p99": round(m["p99_ms"] / r["p99_ms"], 2),
        "goal": "p50 <= 1.5x raw Celery, p99 <= 3x",
        "met": m["p50_ms"] <= 1.5 * r["p50_ms"] and m["p99_ms"] <= 3 * r["p99_ms"],
    }


def measure(stack: Stack, settings: Settings, rounds: int, block: int) -> dict[str, Any]:
    return asyncio.run(_measure(stack, settings, rounds, block))
