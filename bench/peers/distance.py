"""A provider far away: this project against the emulator behind a 50 ms round trip, over HTTPS and
over plain HTTP, beside a direct kept-alive httpx call to the same emulator.

* warm call: p50 of calls one after another once the worker's connections are warm. The direct
  call (the worker's request body, streamed, read to the end) takes one round trip plus the
  emulator's own time; what the project adds on top is its gateway, queue and worker. A call that
  paid a handshake would add one more round trip (plain) or two (TLS).
* CPU per call at 100 in flight, over TLS beside plain HTTP (gateway + worker).
* the emulator's connection count over those calls: with keep-alive it stays near the number of
  calls in flight, far below the number of calls.
"""

from __future__ import annotations

import asyncio
import ssl
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.__main__ import QUIET
from bench.peers import scenarios
from bench.peers.chat_body import chat_body
from bench.peers.clients import WsClient
from bench.peers.servers import Running
from tests.support.stack import Stack, running_stack

RTT_MS = 50
GOAL_SLACK_MS = 5  # a warm call may add at most this over one round trip (issue 14)


def _direct_p50_ms(stack: Stack, verify: ssl.SSLContext | bool, calls: int) -> float:
    body = chat_body("direct")
    headers = {"Authorization": "Bearer bench-not-a-secret"}
    samples = []
    base = f"{stack.emulator_url}/v1"
    with httpx.Client(base_url=base, verify=verify, headers=headers, timeout=30) as http:
        for i in range(calls + 1):
            started = time.perf_counter()
            with http.stream("POST", "/chat/completions", json=body) as response:
                response.raise_for_status()
                response.read()
            if i:  # the first opens the connection
                samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def _connections(stack: Stack, verify: ssl.SSLContext | bool) -> int:
    with httpx.Client(verify=verify, timeout=10) as http:
        count: int = http.get(f"{stack.emulator_url}/_emulator/stats").json()["connections"]
    return count - 1  # this request's own


async def _project(stack: Stack, calls: int, throughput_calls: int) -> dict[str, float]:
    client = await WsClient(stack.authed_url).open()
    peer = Running(client, lambda: [p.pid for p in [stack.gateway, *stack.workers] if p is not None])
    try:
        await scenarios.warm_up(peer)
        # 100 at once, twice: the first run opens the connections the second one reuses.
        await scenarios.throughput(peer, 2 * scenarios.IN_FLIGHT)
        latency = await scenarios.latency(peer, calls)
        busy = await scenarios.throughput(peer, throughput_calls)
    finally:
        await peer.stop()
    return {**latency, **busy}


def _one(tls: bool, calls: int, throughput_calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="exai-distance-") as tmp:
        ca = Path(tmp) / "emulator-ca.pem"
        emulator_args: tuple[str, ...] = ("--rtt-ms", str(RTT_MS))
        settings: dict[str, Any] = {**QUIET, "EXAI_WORKER_CONCURRENCY": "500", **_trust(tls, ca)}
        verify: ssl.SSLContext | bool = True
        if tls:
            emulator_args += ("--tls", "--ca-file", str(ca))
        with running_stack(Path(tmp), emulator_args=emulator_args, **settings) as stack:
            if tls:
                verify = ssl.create_default_context(cafile=str(ca))
            project = asyncio.run(_project(stack, calls, throughput_calls))
            project_connections = _connections(stack, verify)
            direct = _direct_p50_ms(stack, verify, calls)
    added = project["p50_ms"] - direct
    return {
        "scheme": "https" if tls else "http",
        "rtt_ms": RTT_MS,
        "project_warm_p50_ms": round(project["p50_ms"], 2),
        "direct_keepalive_p50_ms": round(direct, 2),
        "added_over_direct_ms": round(added, 2),
        "project_over_one_rtt_ms": round(project["p50_ms"] - RTT_MS, 2),
        "goal_met": project["p50_ms"] - RTT_MS <= GOAL_SLACK_MS,
        "no_handshake": added < RTT_MS / 2,
        "cpu_ms_per_call": round(project["cpu_ms_per_call"], 3),
        "calls_per_s_at_100": round(project["calls_per_s"], 1),
        "project_calls": calls + throughput_calls + 2 * scenarios.IN_FLIGHT + 30,
        "emulator_connections": project_connections,
    }


def _trust(tls: bool, ca: Path) -> dict[str, str]:
    # The emulator writes its CA at start; the workers read the setting when they start, later.
    return {"EXAI_PROVIDER_CA_FILE": str(ca)} if tls else {}


def measure(*, quick: bool = False) -> list[dict[str, Any]]:
    calls, throughput_calls = (20, 200) if quick else (100, 1000)
    return [_one(tls, calls, throughput_calls) for tls in (True, False)]
