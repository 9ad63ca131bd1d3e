"""MCP Streamable HTTP at ``/mcp``, both eras on one endpoint, around the same protocol core.

websockets' handshake hook cannot read a POST body, so this front is an aiohttp server on its own
port (``EXAI_HTTP_PORT``) in the gateway process. Every request is checked for Origin (and Host,
without authentication) and a token first. Then, per POST:

* **modern** (an ``MCP-Protocol-Version`` that is not a legacy revision, or a body with the 2026
  envelope): no session is minted or read; the request is its own channel; its headers are checked
  against the body (``http_headers``); the answer is JSON when it comes at once (with the HTTP
  status of the error: 400, 404 …) and SSE for calls and listen streams. **Closing the SSE stream
  cancels the request** (the call is cancelled on the workers). Any gateway process can serve any
  modern request. GET and DELETE are 405.
* **legacy** (2025-11-25, 2025-06-18): ``initialize`` opens a session (``Mcp-Session-Id``, its Peer
  in a :class:`~gateway.sessions.SessionStore`); POSTs are answered JSON or SSE; the GET stream
  carries the session's notifications; DELETE ends it; a dropped POST stream is not a cancellation.

Against hostile clients: at most ``EXAI_HTTP_MAX_SESSIONS_PER_CLIENT`` sessions per identity (a new
one ends its least recently used idle one), unused sessions end after ``EXAI_HTTP_SESSION_UNUSED_S``,
headers must arrive within ``EXAI_HANDSHAKE_TIMEOUT_S`` and bodies within ``EXAI_HTTP_BODY_TIMEOUT_S``
(``gateway.http_guard``), open connections count against the per-address limit.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from contracts.settings import Settings
from gateway.auth import Authenticator
from gateway.core import codec, eras
from gateway.core.assembly import Protocol
from gateway.core.codec import Message, Notification, Request
from gateway.core.errors import LIMIT_EXCEEDED
from gateway.core.peer import LEGACY, MODERN, Channel, Peer
from gateway.http_guard import Guards
from gateway.limits import ConnectionLimits, LimitExceeded, SessionLimits
from gateway.sessions import LiveSession, LocalSessions, SessionStore
from gateway.transports import http_headers
from gateway.transports.http_streams import StreamSink, respond, stream

log = logging.getLogger(__name__)

PATH = "/mcp"
SESSION_HEADER = "Mcp-Session-Id"
# Methods whose answer may take long: an SSE stream at once, so progress and keep-alives flow.
STREAMED = {"tools/call", "tasks/result", "subscriptions/listen"}


def _error_body(status: int, code: int, message: str, msg_id: Any = None, data: Any = None) -> web.Response:
    return web.Response(
        text=codec.error(msg_id, code, message, data), status=status, content_type="application/json"
    )


class HttpFront:
    def __init__(
        self,
        settings: Settings,
        protocol: Protocol,
        auth: Authenticator,
        ping: Callable[[], Awaitable[Any]],
        *,
        sessions: SessionStore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.protocol = protocol
        self.auth = auth
        self.ping = ping
        self.store: SessionStore = sessions if sessions is not None else LocalSessions()
        self.live: dict[str, LiveSession] = {}
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
        self.keepalive_s = settings.exai_sse_keepalive_s
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
            await asyncio.wait_for(self.ping(), self.settings.exai_health_timeout_s)
        except Exception:
            return web.json_response({"status": "unavailable"}, status=503)
        return web.json_response({"status": "ok"})

    async def start(self, host: str, port: int) -> int:
        # A client closing its connection cancels its handler: that is how a closed SSE stream
        # reaches the core as a cancellation at once, not at the next write.
        self._runner = web.AppRunner(
            self.app(), access_log=None, handle_signals=False, handler_cancellation=True
        )
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
        for session in list(self.live.values()):
            self._end(session)
        if self._runner is not None:
            await self._runner.cleanup()  # closes the open connections
        if self._server is not None:
            await self._server.wait_closed()

    def _end(self, session: LiveSession) -> None:
        if self.live.pop(session.id, None) is not None:
            self.store.delete(session.id)
            if session.stream is not None:
                session.stream.end()
            session.channel.close(cancel=False)  # its calls run on and keep their results

    async def _expire_forever(self) -> None:
        limits = self.session_limits
        while True:
            await asyncio.sleep(min(limits.unused_s / 4, limits.idle_s / 4, 60.0))
            self.expire()

    def expire(self) -> None:
        """End the sessions that have been idle (or unused since initialize) past their allowance."""
        for session in list(self.live.values()):
            if self.session_limits.expired(session):
                how = "idle" if session.used else "unused after initialize"
                log.info("HTTP session %s… of %s %s; ended", session.id[:8], session.identity, how)
                self._end(session)

    # --- checks shared by every method ----------------------------------------------------
    def _gate(self, request: web.Request) -> web.Response | str:
        """The caller's identity, or the response refusing it."""
        # The MCP spec's Origin rule (a MUST), and without authentication the Host rule too.
        origins, hosts = request.headers.getall("Origin", []), request.headers.getall("Host", [])
        refusal = self.origins.refusal(origins, hosts, check_host=not self.auth.required)
        if refusal is not None:
            return _error_body(403, -32600, refusal)
        offered: str | None = None
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            offered = value.strip()
        elif "token" in request.query:
            offered = request.query["token"]
        identity = self.auth.identify_token(offered)
        if identity is None:
            response = _error_body(401, -32600, "Unauthorized: missing or invalid token")
            response.headers["WWW-Authenticate"] = 'Bearer realm="exai"'
            return response
        return identity

    def _session(self, request: web.Request, identity: str) -> LiveSession | web.Response:
        session_id = request.headers.get(SESSION_HEADER)
        if not session_id:
            return _error_body(400, -32600, f"Bad Request: {SESSION_HEADER} header is required")
        session = self.live.get(session_id)
        if session is None or session.identity != identity:
            return _error_body(404, -32001, "Session not found; initialize a new one")
        peer = session.channel.peer
        peer.last_used, peer.used = self.clock(), True
        self.store.put(session.id, peer)
        return session

    @staticmethod
    def _modern_version(request: web.Request) -> bool:
        return not eras.is_legacy_header(request.headers.get(http_headers.VERSION_HEADER))

    # --- POST: one JSON-RPC message -------------------------------------------------------
    async def post(self, request: web.Request) -> web.StreamResponse:
        gate = self._gate(request)
        if isinstance(gate, web.Response):
            return gate
        accept = request.headers.get("Accept", "*/*")
        if not any(t in accept for t in ("application/json", "text/event-stream", "*/*")):
            return _error_body(406, -32600, "Not Acceptable: accept application/json or text/event-stream")
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        try:
            message = codec.decode(body)
        except codec.DecodeError as exc:
            # With a sound id this is that request's one answer; without one nobody can match it.
            return _error_body(200 if exc.id is not None else 400, exc.code, exc.message, exc.id)
        sse_ok = "text/event-stream" in accept or "*/*" in accept
        modern = self._modern_version(request) or (
            isinstance(message, Request) and codec.envelope(message.params).modern
        )
        try:
            if modern:
                return await self._modern(request, gate, message, sse_ok)
            return await self._legacy(request, gate, message, sse_ok)
        except Exception:  # the error boundary of a request whose id is known: answer it
            if not isinstance(message, Request):
                raise
            log.exception("HTTP %s %r failed", message.method, message.id)
            text = f"Internal error while handling {message.method[:100]}; the gateway's log has details"
            return _error_body(200, codec.INTERNAL_ERROR, text, message.id)

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

    async def _modern(
        self, request: web.Request, identity: str, message: Message, sse_ok: bool
    ) -> web.StreamResponse:
        if isinstance(message, Notification):
            return web.Response(status=202)  # none is defined for this transport in 2026-07-28
        if not isinstance(message, Request):
            return _error_body(400, -32600, "Invalid Request: clients send no responses on Streamable HTTP")
        channel = Channel(Peer(identity=identity, era=MODERN), None)
        sink = StreamSink()
        self.protocol.core.dispatch(message, channel, sink, http_headers.checker(request.headers))
        try:
            return await respond(
                request,
                sink,
                streamed=message.method in STREAMED,
                sse_ok=sse_ok,
                keepalive_s=self.keepalive_s,
            )
        finally:
            sink.open = False
            channel.close(cancel=True)  # a stream closed before its answer cancels the request

    async def _legacy(
        self, request: web.Request, identity: str, message: Message, sse_ok: bool
    ) -> web.StreamResponse:
        if isinstance(message, Request) and message.method == "initialize":
            return await self._initialize(request, identity, message)
        found = self._session(request, identity)
        if isinstance(found, web.Response):
            return found
        if not isinstance(message, Request):
            self.protocol.core.dispatch(message, found.channel, StreamSink(statuses=False))
            return web.Response(status=202)  # notifications and answers: nothing to wait for
        return await self._exchange(request, found, message, message.method in STREAMED and sse_ok, sse_ok)

    async def _initialize(self, request: web.Request, identity: str, message: Request) -> web.StreamResponse:
        mine = [s for s in self.live.values() if s.identity == identity]
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
            self._end(evicted)
        ip = request.remote or "?"
        now = self.clock()
        session = LiveSession(
            secrets.token_hex(16), Peer(identity=identity, era=LEGACY, created_at=now, last_used=now), ip
        )
        self.live[session.id] = session
        self.store.put(session.id, session.channel.peer)
        log.info("HTTP session %s… opened by %s from %s", session.id[:8], identity, ip)
        answer = await self._exchange(request, session, message, streamed=False, sse_ok=False)
        answer.headers[SESSION_HEADER] = session.id
        return answer

    async def _exchange(
        self, request: web.Request, session: LiveSession, message: Request, streamed: bool, sse_ok: bool
    ) -> web.StreamResponse:
        sink = StreamSink(statuses=False)
        session.posts += 1
        try:
            self.protocol.core.dispatch(message, session.channel, sink)
            return await respond(
                request, sink, streamed=streamed, sse_ok=sse_ok, keepalive_s=self.keepalive_s
            )
        finally:
            # A dropped stream is not a cancellation (2025): the call goes on and keeps its result.
            sink.open = False
            session.posts -= 1
            session.channel.peer.last_used = self.clock()
            self.store.put(session.id, session.channel.peer)

    # --- GET: a legacy session's stream of server messages -----------------------------------
    async def get(self, request: web.Request) -> web.StreamResponse:
        gate = self._gate(request)
        if isinstance(gate, web.Response):
            return gate
        if self._modern_version(request):
            return _error_body(
                405, -32600, "Method Not Allowed: 2026-07-28 has no GET stream; use subscriptions/listen"
            )
        if "text/event-stream" not in request.headers.get("Accept", ""):
            return _error_body(406, -32600, "Not Acceptable: GET needs Accept: text/event-stream")
        found = self._session(request, gate)
        if isinstance(found, web.Response):
            return found
        if found.stream is not None:
            found.stream.end()  # one stream per session: the newer one wins
        sink = StreamSink(statuses=False)
        found.stream = found.channel.sink = sink
        try:
            return await stream(request, sink, self.keepalive_s)
        finally:
            sink.open = False
            if found.stream is sink:
                found.stream = found.channel.sink = None

    # --- DELETE: end a legacy session -----------------------------------------------------
    async def delete(self, request: web.Request) -> web.StreamResponse:
        gate = self._gate(request)
        if isinstance(gate, web.Response):
            return gate
        if self._modern_version(request):
            return _error_body(405, -32600, "Method Not Allowed: 2026-07-28 has no sessions to end")
        found = self._session(request, gate)
        if isinstance(found, web.Response):
            return found
        self._end(found)
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
        return _error_body(500, codec.INTERNAL_ERROR, "Internal error; the gateway's log has details")
