"""This project's protocol layer in the protocol benchmark: the protocol core (``gateway.core``) fed frames.

A WebSocket connection is one :class:`~gateway.core.peer.Channel` whose frames go through
``Core.receive`` and whose answers a writer task drains from a
:class:`~gateway.transports.websocket.SocketSink` (exactly what ``gateway/transports/websocket.py``
sets up); here the frames are prepared JSON-RPC text fed in-process and the written frames are
counted. Calls go to :class:`bench.fake_broker.FakeCalls`, the core's ``Calls`` port on the same
fake backend as the ``mcp`` 2.x half, answered from the event loop as the reply listener does.
``serve_http`` runs the Streamable HTTP front (``gateway/transports/http.py``) on the same backend.
Both eras can be driven: ``era="modern"`` sends every request with the 2026-07-28 ``_meta``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bench.fake_broker import FakeCalls
from bench.protocol_measure import Answers, checked_run, parked_cost
from contracts.settings import Settings
from gateway.auth import Authenticator
from gateway.catalog import Catalog
from gateway.core.assembly import Ports, Protocol, assemble
from gateway.core.peer import Channel, Peer
from gateway.limits import ClientLimits
from gateway.transports.http import HttpFront
from gateway.transports.websocket import SocketSink

IDENTITY = "bench"
CALL_ARGUMENTS = {"prompt": "Explain idempotent Celery tasks in two sentences"}
INITIALIZE = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "bench", "version": "1"},
}
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
}
STATE_KEY = b"bench-request-state-key-0123456789"


def bench_settings() -> Settings:
    # One client drives every call: its per-client limits must not be what is measured.
    return Settings(
        exai_client_max_in_flight=1_000_000,
        exai_client_calls_per_minute=1_000_000_000,
        exai_session_max_pending=1_000_000,
        exai_client_max_pending=1_000_000,
    )


class NoThreads:
    """No conversation threads (the benchmark reads none)."""

    async def get(self, owner: str, thread_id: str) -> None:
        return None

    async def recent(self, owner: str, limit: int) -> list[Any]:
        return []


class NoTasks:
    """No task store reads (the benchmark's calls are plain)."""

    async def state(self, task_id: str) -> None:
        return None


def protocol(calls: FakeCalls, settings: Settings | None = None) -> Protocol:
    settings = settings or bench_settings()
    built = assemble(
        Ports(
            settings=settings,
            catalog=Catalog(),
            calls=calls,
            store=NoTasks(),  # type: ignore[arg-type]
            threads=NoThreads(),  # type: ignore[arg-type]
            state_keys=(STATE_KEY,),
            limits=ClientLimits.from_settings(settings),
        )
    )
    calls.inflight = built.inflight
    return built


def frames(method: str, count: int, era: str = "legacy") -> list[str]:
    """``count`` requests of ``method`` as the text frames a client sends (ids 1…count)."""
    params: dict[str, Any] = {"name": "chat", "arguments": CALL_ARGUMENTS} if method == "tools/call" else {}
    if era == "modern":
        params["_meta"] = MODERN_META
    return [
        json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        for i in range(1, count + 1)
    ]


class CoreDriver:
    """One connection's channel, sink and writer task, counting what it writes."""

    def __init__(self, *, hold: bool = False, era: str = "legacy") -> None:
        self.calls = FakeCalls(hold=hold)
        self.protocol = protocol(self.calls)
        self.answers = Answers()
        self.era = era
        self.sink = SocketSink()
        self.channel = Channel(Peer(identity=IDENTITY), self.sink)
        self._writer: asyncio.Task[None] | None = None

    async def _send(self, frame: str) -> None:
        self.answers.hit(frame)

    def handle(self, frame: str) -> None:
        self.protocol.core.receive(frame, self.channel, self.sink)

    async def __aenter__(self) -> CoreDriver:
        self._writer = asyncio.create_task(self.sink.write_forever(self._send))
        if self.era == "legacy":
            done = self.answers.expect(1)
            self.handle(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INITIALIZE}))
            self.handle(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            await asyncio.wait_for(done.wait(), 10)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.channel.close(cancel=False)
        if self._writer is not None:
            self._writer.cancel()


async def measure(method: str, calls: int, concurrency: int, era: str = "legacy") -> dict[str, Any]:
    """CPU per request of ``method`` through the core, ``concurrency`` in flight at a time."""
    async with CoreDriver(era=era) as driver:
        return await checked_run(
            method,
            frames(method, min(calls, 200), era),
            frames(method, calls, era),
            concurrency,
            driver.handle,
            driver.answers,
            json.loads,
            len(driver.protocol.tools.catalog.specs),
        )


async def parked(count: int, era: str = "legacy") -> dict[str, Any]:
    async with CoreDriver(hold=True, era=era) as driver:
        prepared = frames("tools/call", count, era)

        def send_all() -> None:
            for frame in prepared:
                driver.handle(frame)

        return await parked_cost(driver.calls, count, send_all, driver.answers)


async def serve_http() -> None:
    """The Streamable HTTP front on the fake backend; prints ``PORT <n>`` and serves until killed."""
    settings = bench_settings()

    async def ping() -> bool:
        return True

    front = HttpFront(settings, protocol(FakeCalls(), settings), Authenticator({}), ping)
    port = await front.start("127.0.0.1", 0)
    print(f"PORT {port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await front.close()
