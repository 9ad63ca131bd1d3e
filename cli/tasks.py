"""``exai call --task`` and ``exai task get|result|cancel|list``: durable calls from the command line.

A task outlives the connection that started it, so each command opens its own connection, sends one
request and prints the answer: start a call with ``exai call --task chat prompt=…`` (prints the task
id), then ``exai task result ID`` later, from any machine that holds the same client token.
"""

from __future__ import annotations

from typing import Any

from cli.rpc import rpc

ACTIONS = ("get", "result", "cancel", "list")


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
