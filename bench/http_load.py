"""Streamable HTTP half of the protocol benchmark: a server process on the fake backend, driven from here.

The server (this project's ``gateway/http.py`` front, or ``mcp`` 2.x's Starlette app under uvicorn)
runs in its own process and prints ``PORT <n>``; this process sends ``tools/call`` POSTs over
``concurrency`` keep-alive connections and charges the **server process's** CPU time (psutil) to the
calls, so the client's own work is not counted. A legacy run opens one session with ``initialize``
first; a modern run sends self-contained 2026-07-28 POSTs with ``MCP-Protocol-Version``,
``Mcp-Method`` and ``Mcp-Name``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import psutil

from bench.protocol_measure import check_answer

LEGACY, MODERN = "2025-11-25", "2026-07-28"
START_TIMEOUT_S = 60.0
ACCEPT = "application/json, text/event-stream"
ARGUMENTS = {"prompt": "Explain idempotent Celery tasks in two sentences"}
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


@contextlib.contextmanager
def server_process(command: list[str], env: dict[str, str]) -> Iterator[tuple[int, int]]:
    """Start a benchmark server; yield its (pid, port); stop it at the end."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    killer = threading.Timer(START_TIMEOUT_S, proc.kill)  # a server that never says its port
    killer.start()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        killer.cancel()
        if not line.startswith("PORT "):
            raise RuntimeError(f"{command[2:]} did not start (exit {proc.poll()}): {line!r}")
        yield proc.pid, int(line.split()[1])
    finally:
        killer.cancel()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def answer_of(body: str) -> dict[str, Any]:
    """The JSON-RPC response in a POST's body: plain JSON, or the last ``data:`` event of an SSE stream."""
    if body.lstrip().startswith("{"):
        return json.loads(body)  # type: ignore[no-any-return]
    events = [
        json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:") and line[5:].strip()
    ]
    return next((e for e in reversed(events) if "id" in e and "method" not in e), {"body": body[:300]})


class Caller:
    def __init__(self, http: aiohttp.ClientSession, url: str, era: str) -> None:
        self.http, self.url, self.era = http, url, era
        self.headers = {"Accept": ACCEPT, "Content-Type": "application/json"}

    async def open(self) -> None:
        if self.era == MODERN:
            self.headers.update(
                {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "chat"}
            )
            return
        params = {
            "protocolVersion": LEGACY,
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        }
        body = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}
        async with self.http.post(self.url, json=body, headers=self.headers) as response:
            answer = answer_of(await response.text())
            session = response.headers.get("Mcp-Session-Id")
        if "result" not in answer or not session:
            raise RuntimeError(f"initialize failed: {answer}")
        self.headers.update({"Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY})
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        async with self.http.post(self.url, json=note, headers=self.headers) as response:
            await response.read()

    async def call(self, msg_id: int) -> str:
        params: dict[str, Any] = {"name": "chat", "arguments": ARGUMENTS}
        if self.era == MODERN:
            params["_meta"] = MODERN_META
        body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": "tools/call", "params": params})
        async with self.http.post(self.url, data=body, headers=self.headers) as response:
            return await response.text()


async def _drive(port: int, era: str, ids: range, concurrency: int, check_all: bool) -> str:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        caller = Caller(http, f"http://127.0.0.1:{port}/mcp", era)
        await caller.open()
        queue = iter(ids)
        last = ""

        async def worker() -> None:
            nonlocal last
            for msg_id in queue:
                last = await caller.call(msg_id)
                if check_all:
                    check_answer("tools/call", answer_of(last), 0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return last


def measure(pid: int, port: int, era: str, calls: int, concurrency: int) -> dict[str, Any]:
    """CPU of the server process per ``tools/call``, after a warm-up whose every answer is checked."""
    asyncio.run(_drive(port, era, range(1, min(calls, 200) + 1), concurrency, check_all=True))
    server = psutil.Process(pid)
    before = server.cpu_times()
    wall = time.perf_counter()
    last = asyncio.run(_drive(port, era, range(1, calls + 1), concurrency, check_all=False))
    wall = time.perf_counter() - wall
    after = server.cpu_times()
    check_answer("tools/call", answer_of(last), 0)
    cpu = (after.user - before.user) + (after.system - before.system)
    return {
        "calls": calls,
        "concurrency": concurrency,
        "cpu_us_per_call": round(cpu / calls * 1e6, 1),
        "calls_per_s": round(calls / wall),
    }
