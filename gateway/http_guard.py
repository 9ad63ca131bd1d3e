"""HTTP connections of the Streamable HTTP front: counted per address, and closed when slow.

aiohttp has no deadline for a request's headers: a client sending them a byte at a time (slowloris)
kept a connection, and a handler slot, as long as it liked. :class:`ConnectionGuard` wraps each
connection's aiohttp protocol (the public ``AppRunner.server`` factory, served through our own
``loop.create_server``): the headers of a request must be complete within the handshake deadline
from the moment the connection opens, or the previous request's handler ends (the next request on
a kept-alive connection). :meth:`Guards.middleware` tells the guard when a handler starts and ends.
Connections are also counted per remote address here, for this front alone: an HTTP client never
uses up the WebSocket front's allowance, nor the reverse.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.limits import ConnectionLimits

log = logging.getLogger(__name__)

REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ConnectionGuard(asyncio.Protocol):
    """One HTTP connection: the aiohttp protocol inside, a header deadline around it."""

    def __init__(self, inner: asyncio.Protocol, guards: Guards) -> None:
        self.inner = inner
        self.guards = guards
        self.transport: asyncio.Transport | None = None
        self.ip = "?"
        self.handlers = 0  # request handlers running on this connection
        self._timer: asyncio.TimerHandle | None = None
        self._served = False  # inner saw connection_made, so it must see connection_lost

    # --- asyncio.Protocol, passed on to aiohttp ------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.ip = str(peer[0]) if peer else "?"
        refusal = self.guards.limits.refusal(self.ip)
        if refusal is not None:
            log.warning("refused an HTTP connection from %s: %s", self.ip, refusal)
            text = f"{refusal}; retry later\n".encode()
            transport.write(REFUSED % (len(text), text))
            transport.close()
            return
        self.guards.opened(self)
        self._arm()
        self._served = True
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.guards.closed(self)
        if self._served:
            self.inner.connection_lost(exc)

    # --- the deadline ----------------------------------------------------------------------
    def handler_started(self) -> None:
        self.handlers += 1
        self._disarm()

    def handler_ended(self) -> None:
        self.handlers = max(self.handlers - 1, 0)
        if self.handlers == 0:
            self._arm()  # the next request on this kept-alive connection has the same deadline

    def _arm(self) -> None:
        self._disarm()
        self._timer = asyncio.get_running_loop().call_later(self.guards.header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self.transport is not None and self.handlers == 0:
            log.info(
                "closed an HTTP connection from %s: no complete request headers within %.0f s "
                "(EXAI_HANDSHAKE_TIMEOUT_S)",
                self.ip,
                self.guards.header_timeout_s,
            )
            self.transport.abort()  # a client that sends slowly may read slowly too: no lingering


class Guards:
    """The guards of one HTTP front's open connections, and the middleware that drives them."""

    def __init__(self, limits: ConnectionLimits, header_timeout_s: float) -> None:
        self.limits = limits
        self.header_timeout_s = header_timeout_s
        self._by_transport: dict[Any, ConnectionGuard] = {}

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for ``loop.create_server``, wrapping aiohttp's ``runner.server``."""
        return lambda: ConnectionGuard(inner(), self)

    def opened(self, guard: ConnectionGuard) -> None:
        self.limits.opened(guard.ip)
        self._by_transport[guard.transport] = guard

    def closed(self, guard: ConnectionGuard) -> None:
        if self._by_transport.pop(guard.transport, None) is not None:
            self.limits.closed(guard.ip)

    def __len__(self) -> int:
        return len(self._by_transport)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        guard = self._by_transport.get(request.transport)
        if guard is not None:
            guard.handler_started()
        try:
            return await handler(request)
        finally:
            if guard is not None:
                guard.handler_ended()
