"""MCP Streamable HTTP at ``/mcp``: the same sessions, tools, auth and limits as the WebSocket front.

websockets' handshake hook cannot read a POST body, so this front is an aiohttp server on its own
port (``EXAI_HTTP_PORT``) inside the gateway process, sharing its CallBroker, ToolCatalog,
Authenticator and per-client limits. Each HTTP session (``Mcp-Session-Id``) wraps one
:class:`~gateway.session.Session`, the very object a WebSocket connection gets
(:mod:`gateway.http_session` routes its outgoing frames); this module handles the requests.

Against hostile clients: each client identity holds at most ``EXAI_HTTP_MAX_SESSIONS_PER_CLIENT``
sessions (a new one ends its least recently used idle one), a session never used after its
``initialize`` ends after ``EXAI_HTTP_SESSION_UNUSED_S``, request headers must arrive within
``EXAI_HANDSHAKE_TIMEOUT_S`` and bodies within ``EXAI_HTTP_BODY_TIMEOUT_S``
(:mod:`gateway.http_guard`), and open HTTP connections, not sessions, count against the per-address
limit. Every POST with a readable id gets a JSON-RPC answer, never a bare 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from contracts.settings import Settings
from gateway import jsonrpc
from gateway.auth import Authenticator
from gateway.calls import CallBroker
from gateway.http_guard import Guards
from gateway.http_session import HttpSession, route_key
from gateway.jsonrpc import Message, Request
from gateway.limits import ConnectionLimits, LimitExceeded, SessionLimits
from gateway.session import LIMIT_EXCEEDED, SUPPORTED_PROTOCOLS
from gateway.tool_catalog import ToolCatalog

log = logging.getLogger(__name__)

PATH = "/mcp"
SESSION_HEADER = "Mcp-Session-Id"
VERSION_HEADER = "MCP-Protocol-Version"
# Every released MCP revision may appear in the header (2025-03-26 is what a client that never
# negotiated assumes); only an unknown value is refused.
HEADER_VERSIONS = ("2024-11-05", "2025-03-26", *SUPPORTED_PROTOCOLS)
# Calls whose answer may take long get an SSE stream, so progress reaches the client as it happens.
STREAMED_METHODS = ("tools/call", "tasks/result")


def _sse(frame: str) -> bytes:
    return f"event: message\ndata: {frame}\n\n".encode()


def _error_body(status: int, code: int, message: str, msg_id: Any = None, data: Any = None) -> web.Response:
    return web.Response(
        text=jsonrpc.error(msg_id, code, message, data), status=status, content_type="application/json"
    )


class HttpFront:
    def __init__(
        self,
        settings: Settings,
        broker: CallBroker,
        catalog: ToolCatalog,
        auth: Authenticator,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.catalog = catalog
        self.auth = auth
        self.sessions: dict[str, HttpSession] = {}
        self.clock = clock
        self.session_limits = SessionLimits(
            max_per_client=settings.exai_http_max_sessions_per_client,
            idle_s=settings.exai_http_session_idle_s,
            unused_s=settings.exai_http_session_unused_s,
            clock=clock,
        )
        # Open HTTP connections per address, this front's own count (sessions are not connections).
        self.connections = ConnectionLimits(
            max_total=settings.exai_max_connections, max_per_ip=settings.exai_max_connections_per_ip
        )
        self.guards = Guards(self.connections, settings.exai_handshake_timeout_s)
        self.origins = settings.origin_policy()
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=self.settings.exai_ws_max_frame_bytes,
            middlewares=[self.guards.middleware, _answer_failures],
        )
        app.router.add_post(PATH, self.post)
        app.router.add_get(PATH, self.get)
        app.router.add_delete(PATH, self.delete)
        # Probes for orchestrators (Kubernetes, compose): no auth, no details.
        app.router.add_get("/livez", self.livez)
        app.router.add_get("/readyz", self.readyz)
        return app

    async def livez(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, _: web.Request) -> web.Response:
        """Ready when Redis answers: without it no call can be queued."""
        try:
            await asyncio.wait_for(self.broker.redis.ping(), self.settings.exai_health_timeout_s)
        except Exception:
            return web.json_response({"status": "unavailable"}, status=503)
        return web.json_response({"status": "ok"})

    async def start(self, host: str, port: int) -> int:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        assert self._runner.server is not None
        # aiohttp's own protocol for each connection, wrapped in a guard with a header deadline.
        self._server = await asyncio.get_running_loop().create_server(
            self.guards.factory(self._runner.server), host, port
        )
        self._sweeper = asyncio.create_task(self._expire_forever(), name="http-session-expiry")
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()  # no new connections
        for session in list(self.sessions.values()):
            await self._end(session)
        if self._runner is not None:
            await self._runner.cleanup()  # closes the open connections
        if self._server is not None:
            await self._server.wait_closed()

    async def _end(self, session: HttpSession) -> None:
        if self.sessions.pop(session.id, None) is not None:
            await session.close()

    async def _expire_forever(self) -> None:
        limits = self.session_limits
        while True:
            await asyncio.sleep(min(limits.unused_s / 4, limits.idle_s / 4, 60.0))
            await self.expire()

    async def expire(self) -> None:
        """End the sessions that have been idle (or unused since initialize) past their allowance."""
        for session in list(self.sessions.values()):
            if self.session_limits.expired(session):
                how = "idle" if session.used else "unused after initialize"
                log.info("HTTP session %s… of %s %s; ended", session.id[:8], session.identity, how)
                await self._end(session)

    # --- checks shared by every method ----------------------------------------------------
    def _identify(self, request: web.Request) -> str | None:
        offered: str | None = None
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            offered = value.strip()
        elif "token" in request.query:
            offered = request.query["token"]
        return self.auth.identify_token(offered)

    def _gate(self, request: web.Request) -> web.Response | str:
        """The caller's identity, or the response refusing it."""
        # The MCP spec's Origin rule (a MUST), and without authentication the Host rule too.
        origins, hosts = request.headers.getall("Origin", []), request.headers.getall("Host", [])
        refusal = self.origins.refusal(origins, hosts, check_host=not self.auth.required)
        if refusal is not None:
            return _error_body(403, -32600, refusal)
        identity = self._identify(request)
        if identity is None:
            response = _error_body(401, -32600, "Unauthorized: missing or invalid token")
            response.headers["WWW-Authenticate"] = 'Bearer realm="exai"'
            return response
        version = request.headers.get(VERSION_HEADER)
        if version is not None and version not in HEADER_VERSIONS:
            return _error_body(400, -32600, f"Bad Request: unsupported {VERSION_HEADER} {version[:32]!r}")
        return identity

    def _session(self, request: web.Request, identity: str) -> HttpSession | web.Response:
        session_id = request.headers.get(SESSION_HEADER)
        if not session_id:
            return _error_body(400, -32600, f"Bad Request: {SESSION_HEADER} header is required")
        session = self.sessions.get(session_id)
        if session is None or session.identity != identity:
            return _error_body(404, -32001, "Session not found; initialize a new one")
        session.last_used = self.clock()
        session.used = True
        return session

    # --- POST: one JSON-RPC message ---------------------------------------------------------
    async def post(self, request: web.Request) -> web.StreamResponse:
        gate = self._gate(request)
        if isinstance(gate, web.Response):
            return gate
        identity = gate
        accept = request.headers.get("Accept", "*/*")
        if not any(t in accept for t in ("application/json", "text/event-stream", "*/*")):
            return _error_body(406, -32600, "Not Acceptable: accept application/json or text/event-stream")
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        try:
            message = jsonrpc.decode(body)
        except jsonrpc.DecodeError as exc:
            # With a sound id this is that request's one answer; without one nobody can match it.
            return _error_body(200 if exc.id is not None else 400, exc.code, exc.message, exc.id)
        try:
            return await self._message(request, identity, accept, message)
        except Exception:  # the error boundary of a request whose id is known: answer it
            if not isinstance(message, Request):
                raise
            log.exception("HTTP %s %r failed", message.method, message.id)
            text = f"Internal error while handling {message.method[:100]}; the gateway's log has details"
            return _error_body(200, jsonrpc.INTERNAL_ERROR, text, message.id)

    async def _body(self, request: web.Request) -> bytes | web.Response:
        """The request body, read within EXAI_HTTP_BODY_TIMEOUT_S and EXAI_WS_MAX_FRAME_BYTES."""
        limit = self.settings.exai_http_body_timeout_s
        try:
            return await asyncio.wait_for(request.read(), limit)
        except TimeoutError:
            log.info("HTTP body from %s not received within %.0f s; closed", request.remote, limit)
            text = f"Request Timeout: the body did not arrive within {limit:.0f} s (EXAI_HTTP_BODY_TIMEOUT_S)"
            refused = _error_body(408, -32600, text)
        except web.HTTPRequestEntityTooLarge:
            size = self.settings.exai_ws_max_frame_bytes
            refused = _error_body(413, -32600, f"Payload Too Large: bodies are limited to {size} bytes")
        refused.force_close()  # the rest of the body is not worth reading
        return refused

    async def _message(
        self, request: web.Request, identity: str, accept: str, message: Message
    ) -> web.StreamResponse:
        if isinstance(message, Request) and message.method == "initialize":
            return await self._initialize(request, identity, message)
        found = self._session(request, identity)
        if isinstance(found, web.Response):
            return found
        if not isinstance(message, Request):
            found.mcp.dispatch(message)  # notifications and answers: nothing to wait for
            return web.Response(status=202)
        streamed = message.method in STREAMED_METHODS and "text/event-stream" in accept
        return await self._exchange(request, found, message, streamed)

    async def _initialize(self, request: web.Request, identity: str, message: Request) -> web.StreamResponse:
        mine = [s for s in self.sessions.values() if s.identity == identity]
        try:
            evicted = self.session_limits.make_room(mine)
        except LimitExceeded as exc:
            log.warning("refused an HTTP session of %s: %s", identity, exc.limit)
            data = {"retryAfter": exc.retry_after_s, "limit": exc.limit}
            response = _error_body(503, LIMIT_EXCEEDED, exc.message, message.id, data)
            response.headers["Retry-After"] = str(int(exc.retry_after_s))
            return response
        if evicted is not None:
            log.info(
                "HTTP session %s… of %s ended to make room (EXAI_HTTP_MAX_SESSIONS_PER_CLIENT=%d)",
                evicted.id[:8],
                identity,
                self.session_limits.max_per_client,
            )
            await self._end(evicted)
        ip = request.remote or "?"
        session = HttpSession(secrets.token_hex(16), identity, ip, self.broker, self.catalog, self.clock)
        self.sessions[session.id] = session
        log.info("HTTP session %s… opened by %s from %s", session.id[:8], identity, ip)
        answer = await self._exchange(request, session, message, streamed=False)
        answer.headers[SESSION_HEADER] = session.id
        return answer

    async def _exchange(
        self, request: web.Request, session: HttpSession, message: Request, streamed: bool
    ) -> web.StreamResponse:
        key = route_key(message.id)
        if key in session.waiters:
            return _error_body(200, -32600, "Invalid Request: this id is already in use", message.id)
        queue: asyncio.Queue[str] = asyncio.Queue()
        session.waiters[key] = queue
        meta = message.params.get("_meta")
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        if token is not None:
            session.progress_tokens[route_key(token)] = key
        try:
            session.mcp.dispatch(message)
            if not streamed:
                while True:
                    frame = await queue.get()
                    if "method" not in json.loads(frame):  # progress has no stream to go to here
                        return web.Response(text=frame, content_type="application/json")
            response = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await response.prepare(request)
            try:
                while True:
                    frame = await queue.get()
                    await response.write(_sse(frame))
                    if "method" not in json.loads(frame):
                        await response.write_eof()
                        return response
            except ConnectionResetError:
                # A dropped stream is not a cancellation (MCP): the call goes on and keeps its result.
                return response
        finally:
            session.waiters.pop(key, None)
            if token is not None:
                session.progress_tokens.pop(route_key(token), None)
            session.last_used = self.clock()

    # --- GET: the session's stream of server messages ------------------------------------------
    async def get(self, request: web.Request) -> web.StreamResponse:
        gate = self._gate(request)
        if isinstance(gate, web.Response):
            return gate
        if "text/event-stream" not in request.headers.get("Accept", ""):
            return _error_body(406, -32600, "Not Acceptable: GET needs Accept: text/event-stream")
        found = self._session(request, gate)
        if isinstance(found, web.Response):
            return found
        if found.stream is not None:
            found.stream.put_nowait(None)  # one stream per session: the newer one wins
        stream: asyncio.Queue[str | None] = asyncio.Queue()
        found.stream = stream
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        keepalive = self.settings.exai_ws_ping_interval_s
        try:
            while True:
                try:
                    frame = await asyncio.wait_for(stream.get(), keepalive)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")  # proxies close silent streams
                    continue
                if frame is None:
                    break
                await response.write(_sse(frame))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            if found.stream is stream:
                found.stream = None
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    # --- DELETE: end the session ------------------------------------------------------------
    async def delete(self, request: web.Request) -> web.StreamResponse:
        gate = self._gate(request)
        if isinstance(gate, web.Response):
            return gate
        found = self._session(request, gate)
        if isinstance(found, web.Response):
            return found
        await self._end(found)
        return web.Response(status=204)


@web.middleware
async def _answer_failures(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The last error boundary: a JSON-RPC error instead of aiohttp's bare 500."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("HTTP %s %s failed", request.method, request.path)
        message = "Internal error; the gateway's log has details"
        return _error_body(500, jsonrpc.INTERNAL_ERROR, message)
