"""First figures: a full MCP ``tools/call`` round trip against a raw Celery round trip.

Both measured in the same run, in alternating blocks, against the same Redis and worker, with the
emulator answering at once: MCP ``chat`` through gateway → queue → worker → emulator, versus
``send_task("exai.noop").get()``. Then calls per second with 50 calls in flight on one connection.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from celery import Celery

from bench.client import LeanClient, lean_client
from bench.stats import summary
from contracts.queue import make_celery
from contracts.settings import Settings
from tests.support.stack import Stack


async def mcp_call(client: LeanClient, prompt: str) -> float:
    started = time.perf_counter()
    await client.call("chat", {"prompt": prompt})
    return time.perf_counter() - started


def celery_call(app: Celery) -> float:
    started = time.perf_counter()
    result = app.send_task("exai.noop", args=[1])
    if result.get(timeout=30) != 1:
        raise RuntimeError("noop returned the wrong value")
    return time.perf_counter() - started


async def latency(stack: Stack, app: Celery, rounds: int, block: int) -> dict[str, Any]:
    mcp: list[float] = []
    raw: list[float] = []
    async with lean_client(stack.authed_url) as client:
        for _ in range(5):  # warm up both paths
            await mcp_call(client, "warm up")
            await asyncio.to_thread(celery_call, app)
        for _ in range(rounds):
            for _ in range(block):
                mcp.append(await mcp_call(client, "latency probe"))
            for _ in range(block):
                raw.append(await asyncio.to_thread(celery_call, app))
    m, r = summary(mcp), summary(raw)
    return {
        "mcp_tools_call": m,
        "raw_celery": r,
        "ratio_p50": round(m["p50_ms"] / r["p50_ms"], 2),
        "ratio_p99": round(m["p99_ms"] / r["p99_ms"], 2),
    }


async def throughput(stack: Stack, total: int, in_flight: int) -> dict[str, Any]:
    async with lean_client(stack.authed_url) as client:
        gate = asyncio.Semaphore(in_flight)

        async def one(i: int) -> None:
            async with gate:
                await mcp_call(client, f"throughput {i}")

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(total)))
        elapsed = time.perf_counter() - started
    return {
        "calls": total,
        "in_flight": in_flight,
        "seconds": round(elapsed, 3),
        "calls_per_s": round(total / elapsed, 1),
    }


def run(
    stack: Stack, out_dir: Path, *, rounds: int = 20, block: int = 20, total: int = 1000
) -> dict[str, Any]:
    settings = Settings(redis_url=stack.env["REDIS_URL"])
    app = make_celery(settings)
    results = {
        "latency": asyncio.run(latency(stack, app, rounds, block)),
        "throughput_50": asyncio.run(throughput(stack, total, 50)),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "pipeline.json").write_text(json.dumps(results, indent=2) + "\n")
    lat, thr = results["latency"], results["throughput_50"]
    (out_dir / "pipeline.md").write_text(
        "| measure | p50 ms | p99 ms | n |\n|---|---|---|---|\n"
        f"| MCP tools/call (chat, 0 ms emulator) | {lat['mcp_tools_call']['p50_ms']} | "
        f"{lat['mcp_tools_call']['p99_ms']} | {lat['mcp_tools_call']['n']} |\n"
        f"| raw Celery send_task + get (no-op) | {lat['raw_celery']['p50_ms']} | "
        f"{lat['raw_celery']['p99_ms']} | {lat['raw_celery']['n']} |\n\n"
        f"Ratio MCP / raw Celery: p50 {lat['ratio_p50']}x, p99 {lat['ratio_p99']}x.\n\n"
        f"Throughput, {thr['in_flight']} calls in flight on one connection: "
        f"**{thr['calls_per_s']} calls/s** ({thr['calls']} calls in {thr['seconds']} s).\n"
    )
    return results
