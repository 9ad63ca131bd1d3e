"""Streamable HTTP in the 2026-07-28 era over httpx: one request's envelope, headers and answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.support.clients import WAIT
from tests.support.stack import TOKEN

VERSION = "2026-07-28"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json, text/event-stream"}


def body(
    msg_id: Any, method: str, params: dict[str, Any] | None = None, **capabilities: Any
) -> dict[str, Any]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": VERSION,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": {"name": "httpx", "version": "1"},
    }
    params = dict(params or {})
    params["_meta"] = {**meta, **params.get("_meta", {})}
    return {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}


def headers(message: dict[str, Any], **extra: str) -> dict[str, str]:
    out = {**AUTH, "MCP-Protocol-Version": VERSION, "Mcp-Method": message["method"]}
    params = message["params"]
    name = params.get("name") or params.get("uri") or params.get("taskId")
    if name is not None:
        out["Mcp-Name"] = str(name)
    return {**out, **extra}


async def post(url: str, message: dict[str, Any], **extra: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=WAIT) as client:
        return await client.post(url, json=message, headers=headers(message, **extra))


@asynccontextmanager
async def stream(
    url: str, message: dict[str, Any]
) -> AsyncIterator[tuple[httpx.Response, AsyncIterator[dict[str, Any]]]]:
    async with (
        httpx.AsyncClient(timeout=WAIT) as client,
        client.stream("POST", url, json=message, headers=headers(message)) as response,
    ):

        async def events() -> AsyncIterator[dict[str, Any]]:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    yield json.loads(line[6:])

        yield response, events()


async def answer_of(url: str, message: dict[str, Any]) -> dict[str, Any]:
    """The answer to one request, whether it comes as JSON or at the end of an SSE stream."""
    async with stream(url, message) as (response, events):
        if response.headers["Content-Type"].startswith("application/json"):
            return dict(json.loads(await response.aread()))
        async for event in events:
            if "method" not in event:
                return event
    raise AssertionError("the stream ended without an answer")
