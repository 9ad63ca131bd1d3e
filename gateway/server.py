"""The WebSocket front door: handshake, authentication, frames in and out of a session."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions import permessage_deflate
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from contracts.origins import shown
from contracts.queue import make_celery
from contracts.settings import Settings
from gateway import legacy, packs
from gateway.auth import Authenticator
from gateway.calls import CallBroker
from gateway.http import HttpFront
from gateway.limits import ConnectionLimits
from gateway.session import Session

log = logging.getLogger(__name__)
MCP_SUBPROTOCOL = Subprotocol("mcp")


def select_subprotocol(_: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    # Echo "mcp" when offered (the TypeScript client insists); accept clients that offer nothing.
    return MCP_SUBPROTOCOL if MCP_SUBPROTOCOL in offered else None


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=settings.exai_gateway_redis_max_connections,
            timeout=settings.exai_redis_pool_timeout_s,
            health_check_interval=30,
        )
        self.redis = aioredis.Redis(connection_pool=pool)
        self.broker = CallBroker(settings, make_celery(settings), self.redis)
        self.catalog = packs.catalog(settings)  # the built-in tools and those of EXAI_TOOL_PACKS
        self.auth = Authenticator(settings.gateway_tokens())
        self.origins = settings.origin_policy()
        self.connections = ConnectionLimits(
            max_total=settings.exai_max_connections, max_per_ip=settings.exai_max_connections_per_ip
        )
        self.sessions: set[Session] = set()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        # Browsers let any page open a WebSocket anywhere: a foreign Origin is refused before anything
        # else, and without authentication a Host that is not this machine too (DNS rebinding).
        origins, hosts = request.headers.get_all("Origin"), request.headers.get_all("Host")
        refusal = self.origins.refusal(origins, hosts, check_host=not self.auth.required)
        if refusal is not None:
            log.warning(
                "refused a connection from %s: %s (Origin %s, Host %s)",
                _remote_ip(connection),
                refusal,
                shown(origins[0] if origins else None),
                shown(hosts[0] if hosts else None),
            )
            return connection.respond(HTTPStatus.FORBIDDEN, f"{refusal}\n")
        refusal = self.connections.refusal(_remote_ip(connection))
        if refusal is not None:
            log.warning("refused a connection from %s: %s", _remote_ip(connection), refusal)
            response = connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, f"{refusal}; retry later\n")
            response.headers["Retry-After"] = "5"
            return response
        identity = self.auth.identify(request)
        if identity is None and legacy.may_say_hello(request):
            connection.provisional = True  # type: ignore[attr-defined]  # must authenticate by hello
            return None
        if identity is None:
            log.warning(
                "refused a connection from %s: missing or invalid token", connection.remote_address[0]
            )
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized: missing or invalid token\n")
            response.headers["WWW-Authenticate"] = 'Bearer realm="exai"'
            return response
        connection.identity = identity  # type: ignore[attr-defined]
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        identity: str = getattr(connection, "identity", "anonymous")
        ip = _remote_ip(connection)
        self.connections.opened(ip)
        log.info("client %s connected from %s", identity, ip)
        session = Session(self.broker, self.catalog, identity, connection.send)
        self.sessions.add(session)
        self.broker.telemetry.connection_opened()
        writer = asyncio.create_task(session.write_forever())
        try:
            # The old daemon's clients open with {"op": "hello"}; everyone else speaks MCP.
            provisional: bool = getattr(connection, "provisional", False)
            first = await legacy.opening_frame(
                connection, provisional, self.settings.exai_legacy_hello_timeout_s
            )
            if first is not None and legacy.is_hello(first):
                await legacy.serve_legacy(
                    connection,
                    first,
                    self.broker,
                    self.catalog,
                    self.auth.identify_token,
                    None if provisional else identity,
                )
            elif first is not None:
                session.handle(first)
                async for frame in connection:
                    session.handle(frame)
        except ConnectionClosed:
            pass
        finally:
            self.sessions.discard(session)
            self.connections.closed(ip)
            self.broker.telemetry.connection_closed()
            writer.cancel()
            await session.close()

    async def run(
        self, *, stop: asyncio.Event | None = None, on_ready: Callable[[int], None] | None = None
    ) -> None:
        stop = stop or asyncio.Event()
        await self.broker.start()
        s = self.settings
        # HTTP keeps its own connection counts: its sessions are not sockets (see gateway/http.py).
        http = HttpFront(s, self.broker, self.catalog, self.auth)
        try:
            async with serve(
                self._handle,
                s.exai_ws_host,
                s.exai_ws_port,
                subprotocols=[MCP_SUBPROTOCOL],
                select_subprotocol=select_subprotocol,
                process_request=self._process_request,
                max_size=s.exai_ws_max_frame_bytes,
                open_timeout=s.exai_handshake_timeout_s,
                ping_interval=s.exai_ws_ping_interval_s,
                ping_timeout=s.exai_ws_ping_timeout_s,
                server_header=None,
                **compression(s),
            ) as server:
                port = next(iter(server.sockets)).getsockname()[1]
                http_port = await http.start(s.exai_ws_host, s.exai_http_port)
                print(
                    f"MCP Streamable HTTP on http://{s.exai_ws_host}:{http_port}/mcp",
                    file=sys.stderr,
                    flush=True,
                )
                # A start-up banner, printed whatever LOG_LEVEL is: supervisors and tests wait for it.
                print(
                    f"gateway listening on ws://{s.exai_ws_host}:{port}/ (auth "
                    f"{'required' if self.auth.required else 'off'})",
                    file=sys.stderr,
                    flush=True,
                )
                if not self.auth.required:
                    log.warning(
                        "EXAI_AUTH=none: no client token is required, so any process that can reach "
                        "%s:%d may call every tool (browsers are still held to EXAI_ALLOWED_ORIGINS)",
                        s.exai_ws_host,
                        port,
                    )
                elif s.uses_token_file():
                    log.info("client token: the one in %s (exai call and exai stdio read it)", s.token_file())
                if on_ready:
                    on_ready(port)
                await stop.wait()
                log.info("gateway stopping; calls in flight keep running and keep their results")
        finally:
            await http.close()
            await self.broker.close()
            await self.redis.aclose()


def compression(settings: Settings) -> dict[str, Any]:
    """permessage-deflate as configured: websockets' defaults cost ~50 KB per idle connection."""
    bits = settings.exai_ws_deflate_window_bits
    if bits == 0:
        return {"compression": None}
    factory = permessage_deflate.ServerPerMessageDeflateFactory(
        server_max_window_bits=bits,
        client_max_window_bits=bits,
        compress_settings={"memLevel": settings.exai_ws_deflate_mem_level},
    )
    return {"extensions": [factory], "compression": None}


def _remote_ip(connection: ServerConnection) -> str:
    address = connection.remote_address
    return str(address[0]) if address else "?"


def run_gateway(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Gateway(settings).run(stop=stop)

    asyncio.run(main())
