"""Clients for end-to-end tests: the official MCP Python client, and a raw frame-level one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.websocket import websocket_client
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

WAIT = 30.0  # upper bound of any single wait in an end-to-end test


@asynccontextmanager
async def mcp_session(url: str) -> AsyncIterator[ClientSession]:
    """An initialized official-SDK session over WebSocket."""
    async with websocket_client(url) as (read, write), ClientSession(read, write) as session:
        with anyio.fail_after(WAIT):
            await session.initialize()
        yield session


def initialize_params(name: str) -> dict[str, Any]:
    """The params of an ``initialize`` request at the latest protocol version."""
    return {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": name, "version": "1"}}


class RawClient:
    """Frame-level JSON-RPC: send what we like, read exactly what comes back."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.backlog: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(message if isinstance(message, str | bytes) else json.dumps(message))

    async def receive(self, timeout: float = WAIT) -> dict[str, Any]:
        if self.backlog:
            return self.backlog.pop(0)
        with anyio.fail_after(timeout):
            message: dict[str, Any] = json.loads(await self.ws.recv())
            return message

    async def response(self, msg_id: Any, timeout: float = WAIT) -> dict[str, Any]:
        """The answer to ``msg_id``; anything else read meanwhile is kept in ``backlog``."""
        for i, message in enumerate(self.backlog):
            if message.get("id") == msg_id and "method" not in message:
                return self.backlog.pop(i)
        with anyio.fail_after(timeout):
            while True:
                message = json.loads(await self.ws.recv())
                if message.get("id") == msg_id and "method" not in message:
                    return dict(message)
                self.backlog.append(message)

    async def request(self, msg_id: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params or {}})
        return await self.response(msg_id)

    async def initialize(self) -> dict[str, Any]:
        answer = await self.request("init", "initialize", initialize_params("raw"))
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return answer


@asynccontextmanager
async def raw_client(url: str, **kwargs: Any) -> AsyncIterator[RawClient]:
    async with connect(url, subprotocols=[Subprotocol("mcp")], **kwargs) as ws:
        yield RawClient(ws)
