"""One JSON-RPC request to the gateway from the command line, over its own MCP session."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
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
    try:
        async with connect(
            url,
            subprotocols=[Subprotocol("mcp")],
            additional_headers=headers,
            max_size=None,
            open_timeout=timeout,
        ) as ws:
            return await _session(ws, method, params, timeout, client_name, on_notification)
    except InvalidStatus as exc:
        raise RuntimeError(_refused(exc.response.status_code)) from None


def _refused(status: int) -> str:
    if status == 401:
        return (
            "the gateway refused the token (HTTP 401): set EXAI_WS_TOKEN, or run where `exai up` "
            "wrote the token file (EXAI_WS_TOKEN_FILE)"
        )
    return f"the gateway refused the connection (HTTP {status})"


async def _session(
    ws: ClientConnection,
    method: str,
    params: dict[str, Any],
    timeout: float,
    client_name: str,
    on_notification: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Any]:
    ids = itertools.count()

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
