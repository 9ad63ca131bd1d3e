"""``exai call``: call one tool on a running gateway and print its result, with progress on stderr."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from typing import Any

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol


async def call_tool(
    url: str, token: str | None, tool: str, arguments: dict[str, Any], *, timeout: float, quiet: bool = False
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    ids = itertools.count()
    async with connect(
        url,
        subprotocols=[Subprotocol("mcp")],
        additional_headers=headers,
        max_size=None,
        open_timeout=timeout,
    ) as ws:

        async def request(method: str, params: dict[str, Any]) -> dict[str, Any]:
            msg_id = next(ids)
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))
            async for raw in ws:
                message = json.loads(raw)
                if message.get("method") == "notifications/progress" and not quiet:
                    params = message["params"]
                    sys.stderr.write(f"\r\x1b[K… {params.get('message') or params.get('progress')}")
                    sys.stderr.flush()
                elif message.get("id") == msg_id:
                    if "error" in message:
                        raise RuntimeError(f"{message['error']['message']} (code {message['error']['code']})")
                    result: dict[str, Any] = message["result"]
                    return result
            raise RuntimeError("the gateway closed the connection before answering")

        await request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "exai-call", "version": "1"},
            },
        )
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        result = await asyncio.wait_for(
            request("tools/call", {"name": tool, "arguments": arguments, "_meta": {"progressToken": "cli"}}),
            timeout,
        )
        if not quiet:
            sys.stderr.write("\r\x1b[K")
        return result


def parse_arguments(pairs: list[str], raw_json: str | None) -> dict[str, Any]:
    """``key=value`` pairs (values parsed as JSON when they are JSON) merged over ``--json``."""
    arguments: dict[str, Any] = json.loads(raw_json) if raw_json else {}
    if not isinstance(arguments, dict):
        raise ValueError("--json must be a JSON object")
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"argument {pair!r} is not key=value")
        try:
            arguments[key] = json.loads(value)
        except json.JSONDecodeError:
            arguments[key] = value
    return arguments


def render(result: dict[str, Any]) -> str:
    structured = result.get("structuredContent")
    if isinstance(structured, dict) and isinstance(structured.get("content"), str):
        return str(structured["content"])
    return "\n".join(
        block.get("text", "") for block in result.get("content", []) if block.get("type") == "text"
    )
