"""What is measured on every peer, each scenario bounded in time.

* ``latency``: p50 of calls one after another, the emulator answering at once.
* ``throughput``: calls per second with 100 in flight, and the server's CPU per call over that run
  (user + system time of all the server's processes and their children; not the emulator's, not
  Redis's).
* ``held``: N calls at once, each held 2 s by the emulator: wall time until the last answer, and
  the peak RSS of all the server's processes meanwhile (sampled every 50 ms).
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import psutil

from bench.peers.servers import Running

HOLD_MS = 2000
IN_FLIGHT = 100


def _tree(pids: Iterable[int]) -> list[psutil.Process]:
    processes = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            processes += [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return processes


def cpu_seconds(pids: Iterable[int]) -> float:
    total = 0.0
    for process in _tree(pids):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def rss_bytes(pids: Iterable[int]) -> int:
    total = 0
    for process in _tree(pids):
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


class PeakRss:
    """The highest summed RSS of a set of processes while in a ``with`` block."""

    def __init__(self, pids: Callable[[], list[int]], interval: float = 0.05) -> None:
        self._pids = pids
        self._interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self._pids()))
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def _gather_all(calls: list[Any]) -> None:
    """Await every call; raise the first failure (counted) only after all have ended."""
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(outcomes)} calls failed; first: {failures[0]!r:.300}")


async def warm_up(peer: Running, calls: int = 10) -> None:
    for i in range(calls):
        await peer.client.call(peer.arguments(f"warm up {i}"))
    await _gather_all([peer.client.call(peer.arguments(f"warm up burst {i}")) for i in range(20)])


async def latency(peer: Running, calls: int) -> dict[str, float]:
    samples = []
    for i in range(calls):
        started = time.perf_counter()
        await peer.client.call(peer.arguments(f"latency probe {i}"))
        samples.append(time.perf_counter() - started)
    return {"p50_ms": statistics.median(samples) * 1000}


async def throughput(peer: Running, calls: int) -> dict[str, float]:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int) -> None:
        async with gate:
            await peer.client.call(peer.arguments(f"throughput {i}"))

    pids = peer.pids()
    cpu_before = cpu_seconds(pids)
    started = time.perf_counter()
    await _gather_all([one(i) for i in range(calls)])
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pids) - cpu_before
    return {"calls_per_s": calls / elapsed, "cpu_ms_per_call": cpu / calls * 1000}


async def held(peer: Running, calls: int) -> dict[str, float]:
    with PeakRss(peer.pids) as rss:
        started = time.perf_counter()
        await _gather_all(
            [peer.client.call(peer.arguments(f"hold {i} emulate:latency_ms={HOLD_MS}")) for i in range(calls)]
        )
        wall = time.perf_counter() - started
    return {"wall_s": wall, "peak_rss_mb": rss.peak / 2**20}
