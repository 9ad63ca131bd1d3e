"""One Streamable HTTP session: the MCP :class:`~gateway.session.Session` a WebSocket connection
gets, plus the routing of its outgoing frames: a response (and the progress of its request) to the
POST that asked, everything else to the session's GET stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from gateway.calls import CallBroker
from gateway.session import Session
from gateway.tool_catalog import ToolCatalog


def route_key(msg_id: Any) -> str:
    """A request id as a routing key."""
    return json.dumps(msg_id)  # keeps 1 and "1" apart, as JSON-RPC does


class HttpSession:
    """One Streamable HTTP session: an MCP Session plus the streams its frames are routed to."""

    def __init__(
        self,
        session_id: str,
        identity: str,
        ip: str,
        broker: CallBroker,
        catalog: ToolCatalog,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id = session_id
        self.identity = identity
        self.ip = ip
        self.mcp = Session(broker, catalog, identity, self._route)
        self.waiters: dict[str, asyncio.Queue[str]] = {}
        self.progress_tokens: dict[str, str] = {}  # progress token -> request key
        self.stream: asyncio.Queue[str | None] | None = None
        self.clock = clock
        self.last_used = clock()
        self.used = False  # any request after its initialize (else it ends after EXAI_HTTP_SESSION_UNUSED_S)
        self._writer = asyncio.create_task(self.mcp.write_forever(), name=f"http-session-{session_id[:8]}")

    async def _route(self, frame: str) -> None:
        message = json.loads(frame)
        target: asyncio.Queue[str] | None = None
        if "method" not in message:
            target = self.waiters.get(route_key(message.get("id")))
        elif message["method"] == "notifications/progress":
            request = self.progress_tokens.get(route_key(message.get("params", {}).get("progressToken")))
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
