"""The ``mcp`` 2.x half of the protocol benchmark; runs only in its own venv (``make bench-venv-mcp2``).

The main venv holds ``mcp`` 1.x (the tests drive its WebSocket client), so ``bench/protocol_base.py``
starts this module with ``.venv-mcp2/bin/python`` and this checkout on ``PYTHONPATH``. The
server is ``mcp.server.lowlevel.Server`` (the SDK's dual-era kernel: dispatcher, runner, middleware,
per-version validation) with handlers doing what ``gateway.session.Session`` does for a call —
catalog lookup, argument validation, job, task record, submit, await the reply future, the same
result dict — on the same :class:`bench.fake_broker.FakeBroker`. Measured:

* over its stdio transport (``mcp.server.stdio.stdio_server``) with in-memory text pipes: one
  JSON text line in, one out, exactly what a WebSocket transport over the SDK would do per frame;
* over its in-memory transport (``mcp.shared.memory``): pydantic messages in and out, no JSON text;
* ``--serve-http``: its Streamable HTTP app (Starlette) under uvicorn, driven by ``bench/http_load.py``;
* ``--probe``: what the kernel does with the shapes a Celery-backed core needs (tasks, progress
  from outside the handler, cancellation).

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
import uvicorn
from mcp.server.caching import CacheHint
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp.shared.memory import create_client_server_memory_streams
from mcp.shared.message import SessionMessage

from bench.fake_broker import FakeBroker, result_of
from bench.protocol_measure import Answers, best_of, checked_run, parked_cost
from gateway.catalog import Catalog

IDENTITY = "bench"
LEGACY, MODERN = "2025-11-25", "2026-07-28"
CALL_ARGUMENTS = {"prompt": "Explain idempotent Celery tasks in two sentences"}
MODERN_META = {
    types.PROTOCOL_VERSION_META_KEY: MODERN,
    types.CLIENT_INFO_META_KEY: {"name": "bench", "version": "1"},
    types.CLIENT_CAPABILITIES_META_KEY: {},
}
INITIALIZE = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}


def build_server(broker: FakeBroker, catalog: Catalog, *, otel: bool = True) -> Server[Any]:
    # A dict result must name its resultType itself on the 2026 wire (the typed models default it);
    # the 2025 surface drops the field again.
    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> Any:
        return {**catalog.page(params.cursor if params is not None else None), "resultType": "complete"}

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:
        spec = catalog.lookup(params.name)
        if spec is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name[:128]}")
        arguments = params.arguments or {}
        problems = catalog.argument_errors(spec.name, arguments)
        if problems:
            text = f"Invalid arguments for {spec.name}: " + "; ".join(problems)
            return {"content": [{"type": "text", "text": text}], "isError": True, "resultType": "complete"}
        job = broker.new_job(spec.name, arguments, client=IDENTITY, correlation_id=None)
        await broker.record(job, IDENTITY)
        pending = await broker.submit(job, None)
        return {**result_of(await pending.future, job), "resultType": "complete"}

    def input_schema(name: str) -> Any:
        # Without it, Mcp-Param-* header checks on the 2026 HTTP path run the tools/list handler
        # for every tools/call.
        spec = catalog.lookup(name)
        return None if spec is None else spec.input_schema

    server: Server[Any] = Server(
        "exai-mcp",
        version="0.1.0",
        get_tool_input_schema=input_schema,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        cache_hints={"tools/list": CacheHint(ttl_ms=300_000, scope="public")},
    )
    if not otel:
        server.middleware.clear()  # the documented opt-out of the default OpenTelemetry middleware
    return server


def lines(method: str, count: int, era: str) -> list[str]:
    params: dict[str, Any] = {"name": "chat", "arguments": CALL_ARGUMENTS} if method == "tools/call" else {}
    if era == MODERN:
        params["_meta"] = MODERN_META
    return [
        json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}) + "\n"
        for i in range(1, count + 1)
    ]


class Pipe:
    """The client's end of the server's stdin: lines put here are read by ``stdio_server``."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    def write(self, line: str) -> None:
        self.queue.put_nowait(line)

    def __aiter__(self) -> Pipe:
        return self

    async def __anext__(self) -> str:
        line = await self.queue.get()
        if line is None:
            raise StopAsyncIteration
        return line


class Out:
    """The server's stdout: every line written is an answer."""

    def __init__(self, answers: Answers) -> None:
        self.answers = answers

    async def write(self, text: str) -> None:
        self.answers.hit(text)

    async def flush(self) -> None:
        return None


@asynccontextmanager
async def stdio_session(server: Server[Any], era: str) -> AsyncIterator[tuple[Pipe, Answers]]:
    answers, pipe = Answers(), Pipe()
    async with anyio.create_task_group() as tg:

        async def serve() -> None:
            async with stdio_server(stdin=pipe, stdout=Out(answers)) as (read, write):  # type: ignore[arg-type]
                await server.run(read, write, server.create_initialization_options())

        tg.start_soon(serve)
        if era == LEGACY:
            done = answers.expect(1)
            pipe.write(
                json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INITIALIZE}) + "\n"
            )
            pipe.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
            await asyncio.wait_for(done.wait(), 10)
        yield pipe, answers
        pipe.queue.put_nowait(None)


@asynccontextmanager
async def memory_session(
    server: Server[Any], era: str
) -> AsyncIterator[tuple[Callable[[Any], Any], Answers]]:
    answers = Answers()
    async with (
        create_client_server_memory_streams() as ((client_read, client_write), (server_read, server_write)),
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(server.run, server_read, server_write, server.create_initialization_options())

        async def read() -> None:
            async for message in client_read:
                answers.hit(message)

        tg.start_soon(read)
        if era == LEGACY:
            done = answers.expect(1)
            await client_write.send(
                SessionMessage(
                    types.JSONRPCRequest(jsonrpc="2.0", id=0, method="initialize", params=INITIALIZE)
                )
            )
            await client_write.send(
                SessionMessage(types.JSONRPCNotification(jsonrpc="2.0", method="notifications/initialized"))
            )
            await asyncio.wait_for(done.wait(), 10)
        yield client_write.send, answers
        tg.cancel_scope.cancel()


def messages(method: str, count: int, era: str) -> list[SessionMessage]:
    return [
        SessionMessage(types.jsonrpc_message_adapter.validate_json(line))
        for line in lines(method, count, era)
    ]


def from_text(answer: Any) -> dict[str, Any]:
    return json.loads(answer)  # type: ignore[no-any-return]


def from_model(answer: Any) -> dict[str, Any]:
    return answer.message.model_dump(by_alias=True, mode="json", exclude_none=True)  # type: ignore[no-any-return]


async def measure_stdio(
    method: str, era: str, calls: int, concurrency: int, otel: bool = True
) -> dict[str, Any]:
    catalog = Catalog()
    server = build_server(FakeBroker(), catalog, otel=otel)
    async with stdio_session(server, era) as (pipe, answers):
        warm, timed = lines(method, min(calls, 200), era), lines(method, calls, era)
        return await checked_run(
            method, warm, timed, concurrency, pipe.write, answers, from_text, len(catalog.specs)
        )


async def measure_memory(method: str, era: str, calls: int, concurrency: int) -> dict[str, Any]:
    catalog = Catalog()
    server = build_server(FakeBroker(), catalog)
    async with memory_session(server, era) as (send, answers):
        warm, timed = messages(method, min(calls, 200), era), messages(method, calls, era)
        return await checked_run(
            method, warm, timed, concurrency, send, answers, from_model, len(catalog.specs)
        )


async def parked_stdio(era: str, count: int) -> dict[str, Any]:
    broker = FakeBroker(hold=True)
    server = build_server(broker, Catalog())
    async with stdio_session(server, era) as (pipe, answers):
        prepared = lines("tools/call", count, era)

        def send_all() -> None:
            for line in prepared:
                pipe.write(line)

        return await parked_cost(broker, count, send_all, answers)


async def measure_all(calls: int, concurrencies: list[int], parked: int, rounds: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for concurrency in concurrencies if rounds else []:
        for era in (LEGACY, MODERN):
            for method in ("tools/call", "tools/list"):
                runs = [await measure_stdio(method, era, calls, concurrency) for _ in range(rounds)]
                out[f"mcp2 stdio-framed {era} {method} c={concurrency}"] = best_of(runs)
            runs = [await measure_memory("tools/call", era, calls, concurrency) for _ in range(rounds)]
            out[f"mcp2 memory {era} tools/call c={concurrency}"] = best_of(runs)
        runs = [
            await measure_stdio("tools/call", LEGACY, calls, concurrency, otel=False) for _ in range(rounds)
        ]
        out[f"mcp2 stdio-framed {LEGACY} tools/call c={concurrency} (no OTel middleware)"] = best_of(runs)
    if parked:
        for era in (LEGACY, MODERN):
            out[f"mcp2 parked {era}"] = await parked_stdio(era, parked)
    return out


async def serve_http() -> None:
    """Its Streamable HTTP app under uvicorn on the fake backend; prints ``PORT <n>``, serves until killed."""
    server = build_server(FakeBroker(), Catalog())
    app = server.streamable_http_app(host="127.0.0.1")
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
    serving = asyncio.create_task(web.serve())
    while not web.started:
        await asyncio.sleep(0.05)
    print(f"PORT {web.servers[0].sockets[0].getsockname()[1]}", flush=True)
    await serving


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.protocol_mcp2")
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", default="1,100")
    parser.add_argument("--parked", type=int, default=1000, help="calls held at once to weigh (0: skip)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve-http", action="store_true")
    parser.add_argument("--probe", action="store_true")
    args = parser.parse_args()
    if args.serve_http:
        asyncio.run(serve_http())
        return
    if args.probe:
        from bench.protocol_mcp2_probe import probe

        print(json.dumps(asyncio.run(probe())))
        return
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    result = asyncio.run(measure_all(args.calls, concurrencies, args.parked, args.rounds))
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
