"""The same tool code called in-process, with no gateway and no queue: the floor of any call."""

from __future__ import annotations

import time

from contracts.job import Job
from contracts.settings import Settings
from workers.cancellation import CancelToken
from workers.context import ToolContext
from workers.runner import ProviderPool
from workers.tools import IMPLEMENTATIONS


def direct_calls(settings: Settings, prompts: list[str]) -> list[float]:
    pool = ProviderPool(settings)
    tool = IMPLEMENTATIONS["chat"]
    latencies = []
    for i, prompt in enumerate(prompts):
        job = Job(
            call_id=f"direct-{i}",
            tool="chat",
            arguments={"prompt": prompt},
            deadline=time.time() + 60,
            correlation_id=f"direct-{i}",
        )
        ctx = ToolContext(
            job=job, settings=settings, cancel=CancelToken(), provider=pool.get, report=lambda *_: None
        )
        started = time.perf_counter()
        tool(ctx, job.arguments)
        latencies.append(time.perf_counter() - started)
    return latencies
