"""Horizontal scaling: throughput of small calls with 1, 2 and 4 worker processes on one Redis.

Each size runs on a stack of its own (its own Redis, queue and gateway), so runs cannot disturb
each other; on this 2-core machine the curve should flatten once the CPU is exhausted.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bench.throughput import mcp_throughput
from tests.support.stack import running_stack


def measure(
    sizes: tuple[int, ...], concurrency: int, total: int, env: dict[str, Any]
) -> list[dict[str, Any]]:
    rows = []
    for workers in sizes:
        with (
            tempfile.TemporaryDirectory(prefix="exai-scale-") as tmp,
            running_stack(Path(tmp), workers=workers, **env) as stack,
        ):
            rate = asyncio.run(mcp_throughput(stack.authed_url, concurrency, total))
        rows.append({"workers": workers, "calls_per_s": round(rate, 1)})
    base = rows[0]["calls_per_s"]
    for row in rows:
        row["speedup"] = round(row["calls_per_s"] / base, 2)
    return rows
