"""The ``io.modelcontextprotocol/tasks`` extension for the ``mcp`` 2.3 client, on its public extension API.

``mcp`` 2.3 ships no client for the tasks extension (nothing in ``mcp/client/`` speaks
``tasks/get``), but its ``Client`` has a public extension mechanism (SEP-2133,
``mcp.client.extension``): a ``ClientExtension`` advertises an identifier under the request's
``clientCapabilities.extensions`` and may *claim* a ``resultType`` of ``tools/call``. This one
claims ``resultType: "task"`` (the flat ``CreateTaskResult``) and resolves it as the spec
describes (``docs/extensions/tasks``): poll ``tasks/get`` — a ``Request`` subclass sent with
``ClientSession.send_request``, ``Mcp-Name`` set from ``taskId`` — at the server's
``pollIntervalMs`` until the task is terminal, then hand back the result it inlines. So
``client.call_tool(...)`` returns the tool's ``CallToolResult`` whether or not the server chose
to answer with a task, and :attr:`TasksExtension.created` / :attr:`TasksExtension.statuses` say
what happened on the wire.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import anyio
import mcp_types
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.shared.exceptions import MCPError
from pydantic import ConfigDict

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
TERMINAL = frozenset({"completed", "failed", "cancelled"})
POLL_FLOOR_S, POLL_CEILING_S = 0.05, 1.0  # the server's pollIntervalMs, kept within these


class CreateTaskResult(mcp_types.Result):
    """The flat answer of a ``tools/call`` the server turned into a task."""

    model_config = ConfigDict(extra="allow")

    result_type: Literal["task"]
    task_id: str
    status: str
    status_message: str | None = None
    created_at: str | None = None
    last_updated_at: str | None = None
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None


class DetailedTask(mcp_types.Result):
    """``tasks/get``: the task's state, and its ``result`` or ``error`` once terminal."""

    model_config = ConfigDict(extra="allow")

    result_type: str | None = None
    task_id: str
    status: str
    status_message: str | None = None
    poll_interval_ms: int | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class GetTaskRequest(mcp_types.Request[dict[str, Any], Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    params: dict[str, Any]
    name_param = "taskId"  # tasks/* carry their taskId in Mcp-Name on Streamable HTTP


class TasksExtension(ClientExtension):
    """Advertise the tasks extension and finish task answers by polling ``tasks/get``."""

    identifier = TASKS_EXTENSION

    def __init__(self) -> None:
        self.created: list[CreateTaskResult] = []
        self.statuses: list[str] = []

    def claims(self) -> Sequence[ResultClaim[Any]]:
        return (ResultClaim(result_type="task", model=CreateTaskResult, resolve=self._resolve),)

    async def _resolve(self, created: CreateTaskResult, ctx: ClaimContext) -> mcp_types.CallToolResult:
        self.created.append(created)
        task_id, status, interval = created.task_id, created.status, created.poll_interval_ms
        task: DetailedTask | None = None
        while status not in TERMINAL:
            await anyio.sleep(min(max((interval or 0) / 1000, POLL_FLOOR_S), POLL_CEILING_S))
            task = await ctx.session.send_request(
                GetTaskRequest(params={"taskId": task_id}),
                DetailedTask,
                request_read_timeout_seconds=ctx.read_timeout_seconds,
            )
            status, interval = task.status, task.poll_interval_ms or interval
            self.statuses.append(status)
        if task is None:  # created terminal: fetch it once for its result
            task = await ctx.session.send_request(GetTaskRequest(params={"taskId": task_id}), DetailedTask)
        if task.status == "failed":
            error = task.error or {}
            code, message = int(error.get("code", -32603)), str(error.get("message", "task failed"))
            raise MCPError(code, message, error.get("data"))
        if task.status == "cancelled" or task.result is None:
            text = f"task {task_id} ended {task.status} without a result"
            block = mcp_types.TextContent(type="text", text=text)
            return mcp_types.CallToolResult(content=[block], is_error=True)
        return mcp_types.CallToolResult.model_validate(task.result, by_name=False)
