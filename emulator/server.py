"""The emulator's HTTP server: Kimi's API under /v1, GLM's under /api/paas/v4, controls under /_emulator."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from contracts.models import DEFAULT_MODELS
from emulator.completions import Completion
from emulator.errors import error_response
from emulator.faults import Fault, FaultQueue, parse_fault
from emulator.relay import LatencyRelay
from emulator.replies import BadDirective, plan_reply, search_results
from emulator.stats import Stats

PREFIXES = {"kimi": "/v1", "glm": "/api/paas/v4"}
OWNERS = {"kimi": "moonshot", "glm": "z-ai"}
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
SHUTDOWN_GRACE_S = 1.0
BACKLOG = 1024  # connections waiting to be accepted; bursts of thousands of calls open them at once

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class EmulatorState:
    latency_ms: float
    tokens_per_second: float
    faults: FaultQueue = field(default_factory=FaultQueue)
    stats: Stats = field(default_factory=Stats)
    # Hung calls wait on this; a reset (or shutdown) sets it and swaps in a fresh one.
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def release_hung_calls(self) -> None:
        self.release.set()
        self.release = asyncio.Event()


STATE = web.AppKey("emulator_state", EmulatorState)


def create_app(latency_ms: float = 0, tokens_per_second: float = 0) -> web.Application:
    """The emulator app; run it with ``handler_cancellation=True`` so hung calls end when clients leave."""
    if latency_ms < 0 or tokens_per_second < 0:
        raise ValueError("latency_ms and tokens_per_second must not be negative")
    app = web.Application()
    app[STATE] = EmulatorState(latency_ms, tokens_per_second)
    for provider, prefix in PREFIXES.items():
        app.router.add_get(f"{prefix}/models", _models_handler(provider))
        app.router.add_post(f"{prefix}/chat/completions", _chat_handler(provider))
    app.router.add_post(f"{PREFIXES['glm']}/web_search", _glm_web_search)
    app.router.add_post("/_emulator/faults", _add_fault)
    app.router.add_get("/_emulator/stats", _stats)
    app.router.add_get("/_emulator/stream_times", _stream_times)
    app.router.add_post("/_emulator/reset", _reset)
    app.router.add_get("/_emulator/health", _health)
    return app


@dataclass(frozen=True)
class ServeOptions:
    """How the emulator is reached: address, HTTPS, simulated distance (see emulator.relay)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    tls: bool = False
    ca_file: Path | None = None  # where the CA certificate goes with ``tls``; None: a temporary file
    rtt_ms: float = 0.0


def run(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    latency_ms: float = 0,
    tokens_per_second: float = 0,
    options: ServeOptions | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT; announces the bound address (port 0 picks one) on stderr."""
    options = options or ServeOptions(host, port)
    asyncio.run(_serve(create_app(latency_ms, tokens_per_second), options))


async def _serve(app: web.Application, options: ServeOptions) -> None:
    state = app[STATE]
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S)
    await runner.setup()
    loop = asyncio.get_running_loop()
    servers: list[asyncio.Server] = []
    relay: LatencyRelay | None = None
    try:
        ssl_context = None
        if options.tls:
            # Imported here: cryptography comes with the test and bench extras, not with the service.
            from emulator.tls import make_identity, write_ca

            identity = make_identity()
            ssl_context = identity.server_context()
            ca_path = write_ca(identity, options.ca_file)
            print(f"emulator CA certificate in {ca_path}", file=sys.stderr, flush=True)
        http = runner.server
        assert http is not None  # set up above

        def connection() -> asyncio.Protocol:  # called once per accepted TCP connection
            state.stats.connection_opened()
            return http()

        # Behind a relay, the emulator itself listens on a private port and the relay on the given one.
        behind = options.rtt_ms > 0
        server = await loop.create_server(
            connection,
            "127.0.0.1" if behind else options.host,
            0 if behind else options.port,
            ssl=ssl_context,
            backlog=BACKLOG,
        )
        servers.append(server)
        bound_port = server.sockets[0].getsockname()[1]
        if behind:
            relay = LatencyRelay("127.0.0.1", bound_port, options.rtt_ms / 1000)
            front = await relay.start(options.host, options.port)
            servers.append(front)
            bound_port = front.sockets[0].getsockname()[1]
        scheme = "https" if options.tls else "http"
        print(f"emulator listening on {scheme}://{options.host}:{bound_port}", file=sys.stderr, flush=True)
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        state.release_hung_calls()
    finally:
        for listening in servers:
            listening.close()
        if relay is not None:
            await relay.close()
        await runner.cleanup()


# --- provider endpoints -----------------------------------------------------------------------


def _authorized(request: web.Request) -> bool:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(key.strip())


def _models_handler(provider: str) -> Handler:
    async def models(request: web.Request) -> web.StreamResponse:
        if not _authorized(request):
            return error_response(provider, "auth")
        data = [
            {"id": m.name, "object": "model", "created": 0, "owned_by": OWNERS[provider]}
            for m in DEFAULT_MODELS[provider]
        ]
        return web.json_response({"object": "list", "data": data})

    return models


def _chat_handler(provider: str) -> Handler:
    async def chat(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        request_id = _request_id(request, provider, body)
        state.stats.record_call(provider, request_id, body)
        if not _authorized(request):
            return error_response(provider, "auth")
        with state.stats.active(provider):
            fault = state.faults.take(provider)
            if fault is not None:
                return await _answer_with_fault(request, state, provider, fault)
            return await _complete(request, state, provider, body, request_id)

    return chat


def _request_id(request: web.Request, provider: str, body: Any) -> str | None:
    header = request.headers.get("X-Request-ID")
    if header:
        return header
    if provider == "glm" and isinstance(body, dict) and isinstance(body.get("request_id"), str):
        return str(body["request_id"])
    return None


def _invalid_body(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model is required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return "messages must be a non-empty list of message objects"
    return None


async def _complete(
    request: web.Request, state: EmulatorState, provider: str, body: Any, request_id: str | None
) -> web.StreamResponse:
    problem = _invalid_body(body)
    if problem is not None:
        return error_response(provider, "bad_request", message=problem)
    try:
        reply = plan_reply(provider, body)
    except BadDirective as exc:
        return error_response(provider, "bad_request", message=str(exc))
    completion = Completion(
        provider, body["model"], f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), request_id, reply
    )
    directives = reply.directives
    latency_ms = state.latency_ms if directives.latency_ms is None else directives.latency_ms
    rate = state.tokens_per_second if directives.tokens_per_second is None else directives.tokens_per_second
    await asyncio.sleep(latency_ms / 1000)
    if body.get("stream"):
        return await _stream(request, state, completion, rate)
    if rate:
        # A plain call takes as long to generate as a streamed one; it just answers all at once.
        await asyncio.sleep(reply.completion_tokens / rate)
    return web.json_response(completion.body())


def _sse(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


async def _stream(
    request: web.Request, state: EmulatorState, completion: Completion, rate: float
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    stall_after = completion.reply.directives.stall_after
    try:
        for sent, chunk in enumerate(completion.token_chunks()):
            if sent == stall_after:
                await state.release.wait()
                return _drop_connection(request, response)
            if rate:
                await asyncio.sleep(1 / rate)
            await response.write(_sse(chunk))
            state.stats.chunk_sent(completion.request_id)
        await response.write(_sse(completion.final_chunk()))
        await response.write(_sse("[DONE]"))
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away mid-stream (cancelled or timed out): nobody is left to answer
    return response


async def _answer_with_fault(
    request: web.Request, state: EmulatorState, provider: str, fault: Fault
) -> web.StreamResponse:
    if fault.kind == "hang":
        await state.release.wait()
        return _drop_connection(request)
    if fault.kind == "disconnect":
        return _drop_connection(request)
    return error_response(provider, fault.kind, retry_after=fault.retry_after)


def _drop_connection(request: web.Request, response: web.StreamResponse | None = None) -> web.StreamResponse:
    if request.transport is not None:
        request.transport.close()
    # Never reaches the client: aiohttp finds the transport closed and discards the rest quietly.
    return web.Response() if response is None else response


async def _glm_web_search(request: web.Request) -> web.StreamResponse:
    """GLM's search API: ``search_result`` for ``search_query``, ``count`` results (default 10)."""
    try:
        body: Any = await request.json()
    except ValueError:
        body = None
    request.app[STATE].stats.record_call("glm", _request_id(request, "glm", body), body)
    if not _authorized(request):
        return error_response("glm", "auth")
    query = body.get("search_query") if isinstance(body, dict) else None
    if not isinstance(query, str) or not query.strip():
        return error_response("glm", "bad_request", message="search_query is required")
    count = body.get("count", 10)
    if not isinstance(count, int) or not 1 <= count <= 50:
        return error_response("glm", "bad_request", message="count must be an integer from 1 to 50")
    return web.json_response(
        {
            "id": f"search-{uuid.uuid4().hex}",
            "created": int(time.time()),
            "request_id": _request_id(request, "glm", body),
            "search_intent": [{"query": query, "intent": "SEARCH_ALWAYS", "keywords": query}],
            "search_result": search_results(query, count),
        }
    )


# --- control endpoints ------------------------------------------------------------------------


async def _add_fault(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        fault = parse_fault(await request.json())
    except ValueError as exc:  # also invalid JSON
        return web.json_response({"error": str(exc)}, status=400)
    state.faults.add(fault)
    return web.json_response({"queued": fault.as_dict(), "faults_pending": state.faults.pending()})


async def _stream_times(request: web.Request) -> web.StreamResponse:
    """When each chunk of the stream for ``?request_id=`` left the emulator (Unix times)."""
    times = request.app[STATE].stats.stream_times.get(request.query.get("request_id", ""), [])
    return web.json_response({"times": times})


async def _stats(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    return web.json_response(state.stats.snapshot(state.faults.pending()))


async def _reset(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    state.faults.clear()
    state.stats.clear()
    state.release_hung_calls()
    return web.json_response({"reset": True})


async def _health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})
