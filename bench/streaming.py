"""Streaming: a 2,000-token reply at 200 tokens/s; how far progress trails the emulator (goal: ≤ 50 ms
median lag). The emulator records when it sent each chunk, so lag = progress arrival - chunk sent."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from tests.support.clients import initialize_params
from tests.support.stack import Stack

CHUNKS = re.compile(r"^(\d+) chunks streamed")


async def run(stack: Stack, tokens: int, rate: float) -> dict[str, Any]:
    correlation = f"stream-bench-{int(time.time())}"
    arrivals: list[tuple[float, int]] = []
    async with connect(stack.authed_url, subprotocols=[Subprotocol("mcp")], max_size=None) as ws:
        await ws.send(
            json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": initialize_params("s")})
        )
        await ws.recv()
        await ws.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tools/call",
                    "params": {
                        "name": "chat",
                        "arguments": {
                            "prompt": f"stream emulate:tokens={tokens} emulate:tokens_per_second={rate:g}",
                            "max_tokens": tokens + 50,
                        },
                        "_meta": {"progressToken": 1, "io.exai/correlation_id": correlation},
                    },
                }
            )
        )
        while True:
            message = json.loads(await ws.recv())
            now = time.time()
            if message.get("id") == 1:
                break
            match = CHUNKS.match(message.get("params", {}).get("message") or "")
            if match:
                arrivals.append((now, int(match.group(1))))
    sent = httpx.get(
        f"{stack.emulator_url}/_emulator/stream_times", params={"request_id": correlation}, timeout=5
    ).json()["times"]
    # Chunk k (1-based) left the emulator at sent[k - 1]; its progress arrived at t.
    lags = [(t - sent[k - 1]) * 1000 for t, k in arrivals if 0 < k <= len(sent)]
    return {
        "tokens": tokens,
        "tokens_per_second": rate,
        "progress_messages": len(arrivals),
        "median_lag_ms": round(statistics.median(lags), 2),
        "p95_lag_ms": round(sorted(lags)[int(0.95 * len(lags))], 2),
        "met": statistics.median(lags) <= 50,
    }


def measure(stack: Stack, tokens: int = 2000, rate: float = 200) -> dict[str, Any]:
    return asyncio.run(run(stack, tokens, rate))
