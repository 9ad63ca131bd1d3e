"""How the protocol benchmark times a run and weighs parked calls, the same way for both halves.

A run sends prepared messages ``concurrency`` at a time and waits until each batch is answered;
its cost is the process's CPU time (``time.process_time``: user + system, every thread) over the
calls, so the driver's own few operations count too, the same on both sides. Parked calls are
weighed with ``tracemalloc`` (Python allocations only, C extensions' private buffers excluded)
and counted in asyncio tasks. Standard library only: it runs in both virtual environments.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from bench.fake_broker import FakeBroker, backend_parked_bytes

T = TypeVar("T")
BATCH_TIMEOUT_S = 60.0  # a batch not answered by then means the layer lost a call


class Answers:
    """Counts answers coming out of a protocol layer; a batch waits until it has them all."""

    def __init__(self) -> None:
        self.count = 0
        self.last: Any = None  # the latest answer, to check a run answered what it should
        self.kept: list[Any] | None = None  # every answer, while a warm-up checks them all
        self._target = 0
        self._done = asyncio.Event()

    def expect(self, more: int) -> asyncio.Event:
        self._target = self.count + more
        self._done = asyncio.Event()
        if self.count >= self._target:
            self._done.set()
        return self._done

    def hit(self, answer: Any = None) -> None:
        self.count += 1
        self.last = answer
        if self.kept is not None:
            self.kept.append(answer)
        if self.count >= self._target:
            self._done.set()


async def run_batches(
    messages: Sequence[T], concurrency: int, send: Callable[[T], Awaitable[None] | None], answers: Answers
) -> dict[str, Any]:
    """Send every message, ``concurrency`` at a time; CPU µs and wall-clock rate per call."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(messages), concurrency):
        batch = messages[start : start + concurrency]
        done = answers.expect(len(batch))
        for message in batch:
            sent = send(message)
            if sent is not None:
                await sent
        await asyncio.wait_for(done.wait(), BATCH_TIMEOUT_S)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    n = len(messages)
    return {
        "calls": n,
        "concurrency": concurrency,
        "cpu_us_per_call": round(cpu / n * 1e6, 1),
        "calls_per_s": round(n / wall),
    }


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run by CPU per call (the machine is shared: medians resist a neighbour's burst)."""
    ordered = sorted(runs, key=lambda r: r["cpu_us_per_call"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["cpu_us_runs"] = [r["cpu_us_per_call"] for r in runs]
    chosen["cpu_us_spread"] = round(statistics.pstdev(chosen["cpu_us_runs"]), 1)
    return chosen


async def parked_cost(
    broker: FakeBroker | Any, count: int, send_all: Callable[[], Awaitable[None] | None], answers: Answers
) -> dict[str, Any]:
    """Memory and asyncio tasks per call while ``count`` calls wait for their reply, then release them."""
    gc.collect()
    tracemalloc.start()
    try:
        tasks_before = len(asyncio.all_tasks())
        before = tracemalloc.get_traced_memory()[0]
        done = answers.expect(count)
        parked = broker.parked(count)
        sent = send_all()
        if sent is not None:
            await sent
        await asyncio.wait_for(parked.wait(), BATCH_TIMEOUT_S)
        for _ in range(50):  # let the last handlers reach their await
            await asyncio.sleep(0)
        gc.collect()
        total = (tracemalloc.get_traced_memory()[0] - before) / count
        tasks = (len(asyncio.all_tasks()) - tasks_before) / count
        backend, kept = backend_parked_bytes(count)
        del kept
        broker.release_all()
        await asyncio.wait_for(done.wait(), BATCH_TIMEOUT_S)
    finally:
        tracemalloc.stop()
    return {
        "parked_calls": count,
        "bytes_per_call": round(total),
        "backend_bytes_per_call": round(backend),
        "protocol_bytes_per_call": round(total - backend),
        "asyncio_tasks_per_call": round(tasks, 2),
    }


class WrongAnswer(RuntimeError):
    """Raised when a protocol layer answered a benchmark request with something else than a success."""


def check_answer(method: str, message: dict[str, Any], tools: int) -> None:
    """Fail unless ``message`` is the successful answer to ``method`` (a run of errors measures nothing)."""
    result = message.get("result")
    if not isinstance(result, dict):
        raise WrongAnswer(f"{method} was not answered with a result: {str(message)[:300]}")
    if method == "tools/call" and (result.get("isError") is not False or "structuredContent" not in result):
        raise WrongAnswer(f"tools/call did not succeed: {str(message)[:300]}")
    if method == "tools/list" and len(result.get("tools") or []) != tools:
        raise WrongAnswer(f"tools/list did not list the {tools} tools: {str(message)[:300]}")


async def checked_run(
    method: str,
    warm: Sequence[T],
    timed: Sequence[T],
    concurrency: int,
    send: Callable[[T], Awaitable[None] | None],
    answers: Answers,
    decode: Callable[[Any], dict[str, Any]],
    tools: int,
) -> dict[str, Any]:
    """A warm-up whose every answer is checked, then the timed run, whose last answer is checked."""
    answers.kept = []
    await run_batches(warm, concurrency, send, answers)
    for answer in answers.kept:
        check_answer(method, decode(answer), tools)
    answers.kept = None
    run = await run_batches(timed, concurrency, send, answers)
    check_answer(method, decode(answers.last), tools)
    return run


async def backend_only(calls: int) -> dict[str, Any]:
    """CPU per call of the backend work alone, no protocol layer: what both layers' figures include.

    Tool lookup and argument validation, job, task record, submit, the reply decoded and resolving
    the future, the result dict: what ``Session._tools_call``/``_run_call`` and the ``mcp`` 2.x
    handler do besides the protocol.
    """
    from bench.fake_broker import result_of
    from gateway.catalog import Catalog

    catalog = Catalog()
    broker = FakeBroker()
    arguments: dict[str, object] = {"prompt": "Explain idempotent Celery tasks in two sentences"}
    gc.collect()
    cpu = time.process_time()
    for _ in range(calls):
        spec = catalog.lookup("chat")
        assert spec is not None and not catalog.argument_errors(spec.name, arguments)
        job = broker.new_job(spec.name, arguments, client="bench", correlation_id=None)
        await broker.record(job, "bench")
        pending = await broker.submit(job, None)
        result_of(await pending.future, job)
    cpu = time.process_time() - cpu
    return {"calls": calls, "cpu_us_per_call": round(cpu / calls * 1e6, 1)}
