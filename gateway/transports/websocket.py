"""The WebSocket front: handshake checks, then frames in and out of the protocol core.

The handshake (websockets 15 hooks): a foreign ``Origin`` — and, without authentication, a
``Host`` that is not this machine (DNS rebinding) — is refused with 403 before anything else;
connection limits with 503; a missing or wrong token with 401, except for a handshake that may
still authenticate by the old daemon's hello. The ``mcp`` subprotocol is echoed when offered (the
TypeScript client insists). A connection whose first frame is ``{"op": "hello"}`` is handed to the
old protocol's adapter; every other connection is one :class:`~gateway.core.peer.Channel` of the
core, legacy or modern as its first request decides. Modern requests on a socket are cancelled by
``notifications/cancelled``; the socket closing cancels nothing (calls run on and keep their
results). One writer per connection drains an outbox, dropping progress first for a slow reader.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from contracts.origins import OriginPolicy, shown
from gateway.auth import Authenticator
from gateway.core import codec
from gateway.core.assembly import Protocol
from gateway.core.peer import Channel, Peer
from gateway.limits import ConnectionLimits
from gateway.transports import daemon

log = logging.getLogger(__name__)
MCP_SUBPROTOCOL = Subprotocol("mcp")
# Progress frames are dropped (answers never are) once this many frames wait for a slow reader.
OUTBOX_SOFT_LIMIT = 1000
BINARY = "Parse error: binary frames are not supported; send JSON-RPC as text"


def select_subprotocol(_: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    # Echo "mcp" when offered (the TypeScript client insists); accept clients that offer nothing.
    return MCP_SUBPROTOCOL if MCP_SUBPROTOCOL in offered else None


class SocketSink:
    """One connection's outbox, written in order by its writer task."""

    def __init__(self) -> None:
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self.open = True

    def post(self, frame: str, droppable: bool = False, final: bool = False) -> None:
        if not self.open or (droppable and self._outbox.qsize() >= OUTBOX_SOFT_LIMIT):
            return
        self._outbox.put_nowait(frame)

    def reject(self, http_status: int) -> None:
        """A socket carries no status: the error frame says it all."""

    def end(self) -> None:
        """A listen stream ending on a socket leaves the socket open (other requests share it)."""

    @property
    def backlog(self) -> int:
        return self._outbox.qsize()

    async def write_forever(self, send: Callable[[str], Awaitable[None]]) -> None:
        while True:
            await send(await self._outbox.get())


class WebSocketFront:
    def __init__(
        self,
        protocol: Protocol,
        auth: Authenticator,
        origins: OriginPolicy,
        connections: ConnectionLimits,
        hello_timeout_s: float,
        on_open: Callable[[], None] = lambda: None,
        on_close: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.protocol = protocol
        self.auth = auth
        self.origins = origins
        self.connections = connections
        self.hello_timeout_s = hello_timeout_s
        self.on_open = on_open
        self.on_close = on_close
        self.clock = clock

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        # Browsers let any page open a WebSocket anywhere: a foreign Origin is refused before anything
        # else, and without authentication a Host that is not this machine too (DNS rebinding).
        origins, hosts = request.headers.get_all("Origin"), request.headers.get_all("Host")
        refusal = self.origins.refusal(origins, hosts, check_host=not self.auth.required)
        if refusal is not None:
            log.warning(
                "refused a connection from %s: %s (Origin %s, Host %s)",
                remote_ip(connection),
                refusal,
                shown(origins[0] if origins else None),
                shown(hosts[0] if hosts else None),
            )
            return connection.respond(HTTPStatus.FORBIDDEN, f"{refusal}\n")
        refusal = self.connections.refusal(remote_ip(connection))
        if refusal is not None:
            log.warning("refused a connection from %s: %s", remote_ip(connection), refusal)
            response = connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, f"{refusal}; retry later\n")
            response.headers["Retry-After"] = "5"
            return response
        identity = self.auth.identify(request)
        if identity is None and daemon.may_say_hello(request):
            connection.provisional = True  # type: ignore[attr-defined]  # must authenticate by hello
            return None
        if identity is None:
            log.warning("refused a connection from %s: missing or invalid token", remote_ip(connection))
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized: missing or invalid token\n")
            response.headers["WWW-Authenticate"] = 'Bearer realm="exai"'
            return response
        connection.identity = identity  # type: ignore[attr-defined]
        return None

    async def handle(self, connection: ServerConnection) -> None:
        identity: str = getattr(connection, "identity", "anonymous")
        ip = remote_ip(connection)
        self.connections.opened(ip)
        self.on_open()
        log.info("client %s connected from %s", identity, ip)
        try:
            # The old daemon's clients open with {"op": "hello"}; everyone else speaks MCP.
            provisional: bool = getattr(connection, "provisional", False)
            first = await daemon.opening_frame(connection, provisional, self.hello_timeout_s)
            if first is not None and daemon.is_hello(first):
                handshake_identity = None if provisional else identity
                await daemon.serve(
                    connection, first, self.protocol, self.auth.identify_token, handshake_identity
                )
            elif first is not None:
                await self._mcp(connection, identity, first)
        except ConnectionClosed:
            pass
        finally:
            self.connections.closed(ip)
            self.on_close()

    async def _mcp(self, connection: ServerConnection, identity: str, first: str | bytes) -> None:
        sink = SocketSink()
        now = self.clock()
        channel = Channel(Peer(identity=identity, created_at=now, last_used=now), sink)
        writer = asyncio.create_task(sink.write_forever(connection.send))
        try:
            self._frame(first, channel, sink)
            async for frame in connection:
                self._frame(frame, channel, sink)
        except ConnectionClosed:
            pass
        finally:
            sink.open = False
            writer.cancel()
            channel.close(cancel=False)  # calls run on and keep their results (and their slots)

    def _frame(self, frame: str | bytes, channel: Channel, sink: SocketSink) -> None:
        if isinstance(frame, bytes):
            sink.post(codec.error(None, codec.PARSE_ERROR, BINARY))
            return
        self.protocol.core.receive(frame, channel, sink)


def remote_ip(connection: ServerConnection) -> str:
    address = connection.remote_address
    return str(address[0]) if address else "?"
