"""``exai call --task`` and ``exai task get|result|cancel|list``: durable calls from the command line.

A task outlives the connection that started it, so each command opens its own connection, sends one
request and prints the answer: start a call with ``exai call --task chat prompt=…`` (prints the task
id), then ``exai task result ID`` later, from any machine that holds the same client token.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

ACTIONS = ("get", "result", "cancel", "list")


async def rpc(
    url: str, token: str | None, method: str, params: dict[str, Any], *, timeout: float
) -> dict[str, Any]:
    """Initialize a session, send one request, return its result; a JSON-RPC error raises RuntimeError."""
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
                if message.get("id") == msg_id and "method" not in message:
                    if "error" in message:
                        error = message["error"]
                        raise RuntimeError(f"{error['message']} (code {error['code']})")
                    result: dict[str, Any] = message["result"]
                    return result
            raise RuntimeError("the gateway closed the connection before answering")

        hello = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "exai-task", "version": "1"},
        }
        await request("initialize", hello)
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        return await asyncio.wait_for(request(method, params), timeout)


async def start_task(
    url: str, token: str | None, tool: str, arguments: dict[str, Any], *, ttl_s: float | None, timeout: float
) -> dict[str, Any]:
    """Start ``tool`` as a task; returns the Task the gateway created."""
    task = {} if ttl_s is None else {"ttl": int(ttl_s * 1000)}
    created = await rpc(
        url, token, "tools/call", {"name": tool, "arguments": arguments, "task": task}, timeout=timeout
    )
    result: dict[str, Any] = created["task"]
    return result


async def task_action(
    url: str, token: str | None, action: str, task_id: str | None, *, timeout: float
) -> dict[str, Any]:
    if action == "list":
        return await rpc(url, token, "tasks/list", {}, timeout=timeout)
    if not task_id:
        raise ValueError(f"`exai task {action}` needs a task id")
    return await rpc(url, token, f"tasks/{action}", {"taskId": task_id}, timeout=timeout)


def render_task(task: dict[str, Any]) -> str:
    line = f"{task['taskId']}  {task['status']:<9}  created {task['createdAt']}"
    if task.get("statusMessage"):
        line += f"  {task['statusMessage']}"
    return line
