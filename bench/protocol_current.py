"""This project's protocol layer in the protocol benchmark: ``gateway.session.Session`` fed frames.

The session is the very object a WebSocket connection gets (``gateway/server.py`` only passes it
frames and its ``send``); here it is fed prepared JSON-RPC text frames in-process and its outgoing
frames are counted. Calls go to :class:`bench.fake_broker.FakeBroker`, which answers each one from
the event loop as the Redis reply listener would. ``serve_http`` runs the Streamable HTTP front
(``gateway/http.py``, each HTTP session wrapping a ``Session``) on the same backend, for the HTTP
half of the benchmark.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from bench.fake_broker import FakeBroker
from bench.protocol_measure import Answers, checked_run, parked_cost
from contracts.settings import Settings
from gateway.auth import Authenticator
from gateway.calls import CallBroker
from gateway.http import HttpFront
from gateway.session import Session
from gateway.tool_catalog import ToolCatalog

IDENTITY = "bench"
CALL_ARGUMENTS = {"prompt": "Explain idempotent Celery tasks in two sentences"}
INITIALIZE = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "bench", "version": "1"},
}


def bench_settings() -> Settings:
    # One client drives every call: its per-client limits must not be what is measured.
    return Settings(
        exai_client_max_in_flight=1_000_000,
        exai_client_calls_per_minute=1_000_000_000,
        exai_session_max_pending=1_000_000,
        exai_client_max_pending=1_000_000,
    )


def frames(method: str, count: int) -> list[str]:
    """``count`` requests of ``method`` as the text frames a client sends (ids 1…count)."""
    params: dict[str, Any] = {"name": "chat", "arguments": CALL_ARGUMENTS} if method == "tools/call" else {}
    return [
        json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        for i in range(1, count + 1)
    ]


class SessionDriver:
    """One ``Session`` with its writer task, as ``Gateway._handle`` sets it up, counting what it sends."""

    def __init__(self, *, hold: bool = False) -> None:
        self.broker = FakeBroker(bench_settings(), hold=hold)
        self.answers = Answers()
        self.session = Session(cast(CallBroker, self.broker), ToolCatalog(), IDENTITY, self._send)
        self._writer: asyncio.Task[None] | None = None

    async def _send(self, frame: str) -> None:
        self.answers.hit(frame)

    async def __aenter__(self) -> SessionDriver:
        self._writer = asyncio.create_task(self.session.write_forever())
        done = self.answers.expect(1)
        self.session.handle(
            json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INITIALIZE})
        )
        self.session.handle(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        await asyncio.wait_for(done.wait(), 10)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.session.close()
        if self._writer is not None:
            self._writer.cancel()


async def measure(method: str, calls: int, concurrency: int) -> dict[str, Any]:
    """CPU per request of ``method`` through a session, ``concurrency`` in flight at a time."""
    async with SessionDriver() as driver:
        return await checked_run(
            method,
            frames(method, min(calls, 200)),
            frames(method, calls),
            concurrency,
            driver.session.handle,
            driver.answers,
            json.loads,
            len(driver.session.catalog.specs),
        )


async def parked(count: int) -> dict[str, Any]:
    async with SessionDriver(hold=True) as driver:
        prepared = frames("tools/call", count)

        def send_all() -> None:
            for frame in prepared:
                driver.session.handle(frame)

        return await parked_cost(driver.broker, count, send_all, driver.answers)


async def serve_http() -> None:
    """The Streamable HTTP front on the fake backend; prints ``PORT <n>`` and serves until killed."""
    settings = bench_settings()
    front = HttpFront(settings, cast(CallBroker, FakeBroker(settings)), ToolCatalog(), Authenticator({}))
    port = await front.start("127.0.0.1", 0)
    print(f"PORT {port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await front.close()
