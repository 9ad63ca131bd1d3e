"""Horizontal scaling: throughput with 1, 2 and 4 worker processes on one Redis.

Each size runs on a stack of its own (its own Redis, queue and gateway), so runs cannot disturb
each other. Two series: small calls, which exhaust this 2-core machine's CPU with one worker
already, and calls held 100 ms by the emulator on workers of 10 slots each, which are bound by the
workers' slots until the CPU runs out: what adding workers buys for long LLM calls.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bench.throughput import mcp_throughput
from tests.support.stack import running_stack

HELD_MS = 100
HELD_SLOTS = "10"  # EXAI_WORKER_CONCURRENCY for the held series


def measure(
    sizes: tuple[int, ...], concurrency: int, total: int, env: dict[str, Any]
) -> list[dict[str, Any]]:
    small = _series(sizes, concurrency, total, env, "")
    held = _series(
        sizes,
        concurrency,
        total // 2,
        {**env, "EXAI_WORKER_CONCURRENCY": HELD_SLOTS},
        f" emulate:latency_ms={HELD_MS}",
    )
    rows = []
    for workers, rate, held_rate in zip(sizes, small, held, strict=True):
        rows.append(
            {
                "workers": workers,
                "calls_per_s": round(rate, 1),
                "speedup": round(rate / small[0], 2),
                f"held_{HELD_MS}ms_calls_per_s": round(held_rate, 1),
                "held_speedup": round(held_rate / held[0], 2),
            }
        )
    return rows


def _series(
    sizes: tuple[int, ...], concurrency: int, total: int, env: dict[str, Any], suffix: str
) -> list[float]:
    rates = []
    for workers in sizes:
        with (
            tempfile.TemporaryDirectory(prefix="exai-scale-") as tmp,
            running_stack(Path(tmp), workers=workers, **env) as stack,
        ):
            rates.append(asyncio.run(mcp_throughput(stack.authed_url, concurrency, total, suffix)))
    return rates
