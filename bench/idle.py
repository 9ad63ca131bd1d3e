"""Idle connections: N open, initialized sessions on one gateway (goal: ≤ 50 KB of gateway RSS each,
and ping latency for a new client unaffected)."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.client import INITIALIZED
from bench.procinfo import rss_bytes
from tests.support.clients import initialize_params
from tests.support.stack import Stack

INIT = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": initialize_params("idle")})


async def open_session(url: str) -> ClientConnection:
    ws = await connect(url, subprotocols=[Subprotocol("mcp")], open_timeout=60, ping_interval=None)
    await ws.send(INIT)
    await ws.recv()
    await ws.send(INITIALIZED)
    return ws


async def ping_latency(url: str, count: int = 50) -> float:
    """Median ms of ``ping`` round trips on a brand-new connection."""
    ws = await open_session(url)
    samples = []
    for i in range(count):
        started = time.perf_counter()
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "ping"}))
        await ws.recv()
        samples.append(time.perf_counter() - started)
    await ws.close()
    return statistics.median(samples) * 1000


async def run(url: str, gateway_pid: int, n: int) -> dict[str, Any]:
    before_ping = await ping_latency(url)
    before_rss = rss_bytes(gateway_pid)
    gate = asyncio.Semaphore(200)  # handshakes in flight, to stay under the listen backlog

    async def one() -> ClientConnection:
        async with gate:
            return await open_session(url)

    started = time.perf_counter()
    sessions = await asyncio.gather(*(one() for _ in range(n)))
    opened_in = time.perf_counter() - started
    await asyncio.sleep(1.0)  # let the gateway settle its buffers before reading RSS
    after_rss = rss_bytes(gateway_pid)
    during_ping = await ping_latency(url)
    await asyncio.gather(*(ws.close() for ws in sessions))
    per_connection = (after_rss - before_rss) / n
    return {
        "connections": n,
        "opened_in_s": round(opened_in, 1),
        "gateway_rss_before_mb": round(before_rss / 2**20, 1),
        "gateway_rss_after_mb": round(after_rss / 2**20, 1),
        "rss_per_connection_kb": round(per_connection / 1024, 1),
        "ping_ms_new_client_before": round(before_ping, 3),
        "ping_ms_new_client_during": round(during_ping, 3),
        "met": per_connection <= 50 * 1024,
    }


def measure(stack: Stack, n: int) -> dict[str, Any]:
    assert stack.gateway is not None
    return asyncio.run(run(stack.authed_url, stack.gateway.pid, n))
