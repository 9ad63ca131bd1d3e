"""MCP Streamable HTTP at ``/mcp``: the same sessions, tools, auth and limits as the WebSocket front.

websockets' handshake hook cannot read a POST body, so this front is an aiohttp server on its own
port (``EXAI_HTTP_PORT``) inside the gateway process, sharing its CallBroker, ToolCatalog,
Authenticator and connection limits. Each HTTP session (``Mcp-Session-Id``) wraps one
:class:`~gateway.session.Session`, the very object a WebSocket connection gets; this module only
routes that session's outgoing frames: a response (and the progress of its request) to the POST that
asked, everything else to the session's GET stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from contracts.settings import Settings
from gateway.auth import Authenticator
from gateway.calls import CallBroker
from gateway.session import SUPPORTED_PROTOCOLS, Session
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

# (ip) -> refusal message or None; opened(ip) / closed(ip): the gateway's connection limits.
Refusal = Callable[[str], str | None]


def _key(msg_id: Any) -> str:
    return json.dumps(msg_id)  # keeps 1 and "1" apart, as JSON-RPC does


def _sse(frame: str) -> bytes:
    return f"event: message\ndata: {frame}\n\n".encode()


def _error_body(status: int, code: int, message: str, msg_id: Any = None) -> web.Response:
    body = {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}
    return web.json_response(body, status=status)


class HttpSession:
    """One Streamable HTTP session: an MCP Session plus the streams its frames are routed to."""

    def __init__(
        self, session_id: str, identity: str, ip: str, broker: CallBroker, catalog: ToolCatalog
    ) -> None:
        self.id = session_id
        self.identity = identity
        self.ip = ip
        self.mcp = Session(broker, catalog, identity, self._route)
        self.waiters: dict[str, asyncio.Queue[str]] = {}
        self.progress_tokens: dict[str, str] = {}  # progress token -> request key
        self.stream: asyncio.Queue[str | None] | None = None
        self.last_used = time.monotonic()
        self._writer = asyncio.create_task(self.mcp.write_forever(), name=f"http-session-{session_id[:8]}")

    async def _route(self, frame: str) -> None:
        message = json.loads(frame)
        target: asyncio.Queue[str] | None = None
        if "method" not in message:
            target = self.waiters.get(_key(message.get("id")))
        elif message["method"] == "notifications/progress":
            request = self.progress_tokens.get(_key(message.get("params", {}).get("progressToken")))
            target = self.waiters.get(request) if request else None
        if target is not None:
            target.put_nowait(frame)
        elif self.stream is not None:
            self.stream.put_nowait(frame)
        # else: nobody listens (no GET stream open); notifications are dropped, as MCP allows

    def busy(self) -> bool:
        return bool(self.waiters) or self.stream is not None or bool(self.mcp.calls)

    async def close(self) -> None:
        if self.stream is not None:
            self.stream.put_nowait(None)
        self._writer.cancel()
        await self.mcp.close()


class HttpFront:
    def __init__(
        self,
        settings: Settings,
        broker: CallBroker,
        catalog: ToolCatalog,
        auth: Authenticator,
        *,
        refusal: Refusal | None = None,
        opened: Callable[[str], None] | None = None,
        closed: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.catalog = catalog
        self.auth = auth
        self.sessions: dict[str, HttpSession] = {}
        self._refusal = refusal or (lambda _ip: None)
        self._opened = opened or (lambda _ip: None)
        self._closed = closed or (lambda _ip: None)
        self.origins = settings.origin_policy()
        self._runner: web.AppRunner | None = None
        self._sweeper: asyncio.Task[None] | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.settings.exai_ws_max_frame_bytes)
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
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._sweeper = asyncio.create_task(self._expire_forever(), name="http-session-expiry")
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for session in list(self.sessions.values()):
            await self._end(session)
        if self._runner is not None:
            await self._runner.cleanup()

    async def _end(self, session: HttpSession) -> None:
        if self.sessions.pop(session.id, None) is not None:
            self._closed(session.ip)
            await session.close()

    async def _expire_forever(self) -> None:
        idle = self.settings.exai_http_session_idle_s
        while True:
            await asyncio.sleep(min(idle / 4, 60.0))
            now = time.monotonic()
            for session in list(self.sessions.values()):
                if not session.busy() and now - session.last_used > idle:
                    log.info("HTTP session %s… idle for %.0f s; ended", session.id[:8], idle)
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
        session.last_used = time.monotonic()
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
        raw = await request.text()
        try:
            message = json.loads(raw)
        except ValueError:
            return _error_body(400, -32700, "Parse error: the body is not JSON")
        if not isinstance(message, dict):
            return _error_body(400, -32600, "Invalid Request: one JSON-RPC message per POST (no batches)")
        method = message.get("method")
        has_id = "id" in message and message.get("id") is not None
        if method == "initialize" and has_id:
            return await self._initialize(request, identity, raw, message)
        found = self._session(request, identity)
        if isinstance(found, web.Response):
            return found
        if not has_id or method is None:
            found.mcp.handle(raw)  # notifications and answers: nothing to wait for
            return web.Response(status=202)
        streamed = method in STREAMED_METHODS and "text/event-stream" in accept
        return await self._exchange(request, found, raw, message, streamed)

    async def _initialize(
        self, request: web.Request, identity: str, raw: str, message: dict[str, Any]
    ) -> web.StreamResponse:
        ip = request.remote or "?"
        refusal = self._refusal(ip)
        if refusal is not None:
            response = _error_body(503, -32000, f"{refusal}; retry later", message.get("id"))
            response.headers["Retry-After"] = "5"
            return response
        session = HttpSession(secrets.token_hex(16), identity, ip, self.broker, self.catalog)
        self.sessions[session.id] = session
        self._opened(ip)
        log.info("HTTP session %s… opened by %s from %s", session.id[:8], identity, ip)
        answer = await self._exchange(request, session, raw, message, streamed=False)
        answer.headers[SESSION_HEADER] = session.id
        return answer

    async def _exchange(
        self, request: web.Request, session: HttpSession, raw: str, message: dict[str, Any], streamed: bool
    ) -> web.StreamResponse:
        key = _key(message.get("id"))
        if key in session.waiters:
            return _error_body(400, -32600, "Invalid Request: this id is already in use", message.get("id"))
        queue: asyncio.Queue[str] = asyncio.Queue()
        session.waiters[key] = queue
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        if token is not None:
            session.progress_tokens[_key(token)] = key
        try:
            session.mcp.handle(raw)
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
                session.progress_tokens.pop(_key(token), None)
            session.last_used = time.monotonic()

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
