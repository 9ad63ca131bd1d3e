"""What ``mcp`` 2.x's low-level server does with the shapes a Celery-backed core needs.

``python -m bench.protocol_mcp2 --probe`` (bench venv only) runs each probe against
``mcp.server.lowlevel.Server`` over its in-memory transport with raw JSON-RPC, and reports what
came back, so the claims in ``docs/architecture.md`` can be checked against the installed version:

* a 2025-era task-augmented ``tools/call`` answered with ``{task}`` (CreateTaskResult);
* the same through a middleware that answers without calling the rest of the chain;
* a 2026-era ``tools/call`` answered with a flat ``resultType: "task"`` result (tasks extension);
* ``tasks/get`` as a custom method, on both eras;
* progress sent from another task (the reply listener) while the handler waits;
* ``notifications/cancelled`` for a call whose handler waits on its reply;
* ``logging/setLevel`` on a legacy session without the deprecated handler;
* the dispatcher's public methods (is there a way to answer a request from outside its handler?).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp.shared.memory import create_client_server_memory_streams
from mcp.shared.message import SessionMessage

LEGACY, MODERN = "2025-11-25", "2026-07-28"
INITIALIZE = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}}
MODERN_META = {
    types.PROTOCOL_VERSION_META_KEY: MODERN,
    types.CLIENT_INFO_META_KEY: {"name": "probe", "version": "1"},
    types.CLIENT_CAPABILITIES_META_KEY: {"extensions": {"io.modelcontextprotocol/tasks": {}}},
}
WAIT_S = 5.0


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


class TaskParams(types.RequestParams):
    taskId: str


class Peer:
    """A raw JSON-RPC client on the server's in-memory streams: frames out, every frame in recorded."""

    def __init__(self, send: Callable[[SessionMessage], Awaitable[None]]) -> None:
        self._send = send
        self.frames: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()

    async def record(self, message: SessionMessage) -> None:
        async with self._arrived:
            self.frames.append(message.message.model_dump(by_alias=True, mode="json", exclude_none=True))
            self._arrived.notify_all()

    async def request(self, msg_id: int, method: str, params: dict[str, Any]) -> None:
        await self._send(
            SessionMessage(types.JSONRPCRequest(jsonrpc="2.0", id=msg_id, method=method, params=params))
        )

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        await self._send(
            SessionMessage(types.JSONRPCNotification(jsonrpc="2.0", method=method, params=params))
        )

    async def answer(self, msg_id: int) -> dict[str, Any]:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: self._find(msg_id) is not None), WAIT_S)
            found = self._find(msg_id)
            assert found is not None
            return found

    def _find(self, msg_id: int) -> dict[str, Any] | None:
        return next((f for f in self.frames if f.get("id") == msg_id and "method" not in f), None)


async def _with_server(server: Server[Any], era: str, script: Callable[[Peer], Awaitable[Any]]) -> Any:
    async with (
        create_client_server_memory_streams() as ((client_read, client_write), (server_read, server_write)),
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(server.run, server_read, server_write, server.create_initialization_options())
        peer = Peer(client_write.send)

        async def read() -> None:
            async for message in client_read:
                await peer.record(message)

        tg.start_soon(read)
        if era == LEGACY:
            await peer.request(0, "initialize", INITIALIZE)
            await peer.answer(0)
            await peer.notify("notifications/initialized")
        try:
            return await script(peer)
        finally:
            tg.cancel_scope.cancel()


def _legacy_task(params: types.CallToolRequestParams) -> dict[str, Any]:
    now = _now()
    task = {"taskId": "t1", "status": "working", "createdAt": now, "lastUpdatedAt": now, "ttl": 60000}
    return {"task": task}


async def legacy_task_augmented_call() -> dict[str, Any]:
    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:
        return _legacy_task(params)

    async def script(peer: Peer) -> Any:
        await peer.request(1, "tools/call", {"name": "chat", "arguments": {}, "task": {"ttl": 60000}})
        return await peer.answer(1)

    return await _with_server(Server("probe", on_call_tool=call_tool), LEGACY, script)


async def legacy_task_through_middleware() -> dict[str, Any]:
    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:
        return {"content": [], "resultType": "complete"}

    async def answer_tasks_first(ctx: Any, call_next: Any) -> Any:
        params = ctx.params or {}
        if ctx.method == "tools/call" and isinstance(params.get("task"), dict):
            return _legacy_task(types.CallToolRequestParams.model_validate(params))
        return await call_next(ctx)

    server: Server[Any] = Server("probe", on_call_tool=call_tool)
    server.middleware.append(answer_tasks_first)

    async def script(peer: Peer) -> Any:
        await peer.request(1, "tools/call", {"name": "chat", "arguments": {}, "task": {"ttl": 60000}})
        return await peer.answer(1)

    return await _with_server(server, LEGACY, script)


async def modern_task_result() -> dict[str, Any]:
    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:
        now = _now()
        return {
            "resultType": "task",
            "taskId": "t1",
            "status": "working",
            "createdAt": now,
            "lastUpdatedAt": now,
            "ttlMs": 60000,
            "pollIntervalMs": 1000,
        }

    async def script(peer: Peer) -> Any:
        await peer.request(1, "tools/call", {"name": "chat", "arguments": {}, "_meta": MODERN_META})
        return await peer.answer(1)

    return await _with_server(Server("probe", on_call_tool=call_tool), MODERN, script)


async def custom_tasks_get(era: str) -> dict[str, Any]:
    async def tasks_get(ctx: Any, params: TaskParams) -> Any:
        return {"taskId": params.taskId, "status": "working", "resultType": "complete"}

    server: Server[Any] = Server("probe")
    server.add_request_handler("tasks/get", TaskParams, tasks_get)

    async def script(peer: Peer) -> Any:
        params: dict[str, Any] = {"taskId": "t1"}
        if era == MODERN:
            params["_meta"] = MODERN_META
        # The modern loop opens on the first request's envelope; a discover opens it.
        opener = {"_meta": MODERN_META} if era == MODERN else {}
        await peer.request(9, "server/discover" if era == MODERN else "ping", opener)
        await peer.answer(9)
        await peer.request(1, "tasks/get", params)
        return await peer.answer(1)

    return await _with_server(server, era, script)


async def progress_from_listener() -> dict[str, Any]:
    waiting: dict[str, tuple[Any, asyncio.Future[None]]] = {}

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting["c1"] = (ctx, future)
        await future
        return {"content": [{"type": "text", "text": "done"}], "resultType": "complete"}

    async def script(peer: Peer) -> Any:
        await peer.request(
            1, "tools/call", {"name": "chat", "arguments": {}, "_meta": {"progressToken": "p1"}}
        )
        for _ in range(200):
            if "c1" in waiting:
                break
            await asyncio.sleep(0.01)
        ctx, future = waiting["c1"]
        # What the reply listener would have to do for each progress message: await a write
        # through the parked handler's context, from its own task.
        await ctx.session.report_progress(50, 100, "half way")
        future.set_result(None)
        await peer.answer(1)
        return [f.get("method") or "response" for f in peer.frames if f.get("id") != 0]

    return {"frames": await _with_server(Server("probe", on_call_tool=call_tool), LEGACY, script)}


async def cancel_parked_call() -> dict[str, Any]:
    seen: list[str] = []

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:
        try:
            await asyncio.get_running_loop().create_future()  # a reply that never comes
        except asyncio.CancelledError:
            seen.append("handler cancelled: the place to revoke the Celery task")
            raise
        return {"content": [], "resultType": "complete"}

    async def script(peer: Peer) -> Any:
        await peer.request(1, "tools/call", {"name": "chat", "arguments": {}})
        await peer.request(2, "ping", {})
        await peer.answer(2)
        await peer.notify("notifications/cancelled", {"requestId": 1, "reason": "probe"})
        await peer.request(3, "ping", {})
        await peer.answer(3)  # handled after the cancellation: whatever it caused has happened
        return {"handler": seen, "answered_cancelled_call": peer._find(1) is not None}

    return await _with_server(Server("probe", on_call_tool=call_tool), LEGACY, script)


async def legacy_set_level() -> dict[str, Any]:
    async def script(peer: Peer) -> Any:
        await peer.request(1, "logging/setLevel", {"level": "info"})
        return await peer.answer(1)

    return await _with_server(Server("probe"), LEGACY, script)


async def probe() -> dict[str, Any]:
    return {
        "legacy tools/call answered with {task}": await legacy_task_augmented_call(),
        "legacy {task} answered by a middleware": await legacy_task_through_middleware(),
        "modern tools/call answered with resultType task": await modern_task_result(),
        "tasks/get as a custom method, legacy": await custom_tasks_get(LEGACY),
        "tasks/get as a custom method, modern": await custom_tasks_get(MODERN),
        "progress from another task": await progress_from_listener(),
        "notifications/cancelled of a parked call": await cancel_parked_call(),
        "logging/setLevel on a legacy session without the deprecated handler": await legacy_set_level(),
        "public methods of the JSON-RPC dispatcher": sorted(
            m for m in vars(JSONRPCDispatcher) if not m.startswith("_")
        ),
    }
