"""One JSON-RPC request to the gateway from the command line, over its own MCP session."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol


async def rpc(
    url: str,
    token: str | None,
    method: str,
    params: dict[str, Any],
    *,
    timeout: float,
    client_name: str = "exai-task",
    on_notification: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Initialize a session, send one request, return its result; a JSON-RPC error raises RuntimeError.

    Notifications that arrive meanwhile (progress) go to ``on_notification``.
    """
    headers = {"Authorization": f"Bearer {token}"} if token else None
    ids = itertools.count()
    async with connect(
        url,
        subprotocols=[Subprotocol("mcp")],
        additional_headers=headers,
        max_size=None,
        open_timeout=timeout,
    ) as ws:

        async def request(name: str, body: dict[str, Any]) -> dict[str, Any]:
            msg_id = next(ids)
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": name, "params": body}))
            async for raw in ws:
                message = json.loads(raw)
                if "method" in message:
                    if on_notification is not None:
                        on_notification(message)
                elif message.get("id") == msg_id:
                    if "error" in message:
                        error = message["error"]
                        raise RuntimeError(f"{error['message']} (code {error['code']})")
                    result: dict[str, Any] = message["result"]
                    return result
            raise RuntimeError("the gateway closed the connection before answering")

        hello = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": client_name, "version": "1"},
        }
        await request("initialize", hello)
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        return await asyncio.wait_for(request(method, params), timeout)
