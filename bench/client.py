"""A lean MCP client for load: one reader task, one future per request, many calls in flight."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.support.clients import initialize_params

INITIALIZED = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})


class LeanClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            future = self._waiting.pop(message.get("id"), None) if "method" not in message else None
            if future is not None and not future.done():
                future.set_result(message)

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        msg_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = future
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))
        return await asyncio.wait_for(future, 120)

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        answer = await self.request("tools/call", {"name": tool, "arguments": arguments})
        if answer.get("result", {}).get("isError") is not False:
            raise RuntimeError(f"call failed: {answer}")
        result: dict[str, Any] = answer["result"]
        return result


@asynccontextmanager
async def lean_client(url: str) -> AsyncIterator[LeanClient]:
    async with connect(url, subprotocols=[Subprotocol("mcp")], max_size=None) as ws:
        client = LeanClient(ws)
        await client.request("initialize", initialize_params("bench"))
        await ws.send(INITIALIZED)
        try:
            yield client
        finally:
            client._reader.cancel()
