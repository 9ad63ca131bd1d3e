"""What the stdio bridge forwards, with no I/O: messages in, messages out, and what survives a reconnect.

The MCP client on stdin sees one long session; behind it the WebSocket to the gateway may drop and
come back. Client request ids are mapped to the bridge's own, so requests the bridge makes for itself
after a reconnect (``initialize`` again, ``tasks/result`` for calls in flight) can never collide with
the client's. Both eras pass through: a legacy client's ``initialize`` (replayed after a reconnect)
and a modern client's self-contained requests, ``server/discover`` probe included, which the gateway
answers. When the gateway can, a ``tools/call`` runs as a task so that a dropped connection does not
lose it: a legacy client's as a 2025 task when the gateway offers tasks (the bridge then awaits
``tasks/result``), a modern client's as a task of the ``io.modelcontextprotocol/tasks`` extension
(``bridge.modern``). Either way the client gets the plain result under its own id.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from bridge import modern

Message = dict[str, Any]
RELATED_TASK = "io.modelcontextprotocol/related-task"
CANCELLED = "notifications/cancelled"

LOST_CALL = (
    "the connection to the gateway was lost while this call ran and the gateway does not offer "
    "tasks, so its outcome cannot be fetched; call the tool again"
)
LOST_BEFORE_TASK = "the connection to the gateway was lost before the call was accepted; call the tool again"


@dataclass
class Pending:
    """A client request the gateway has not answered yet."""

    client_id: str | int
    method: str
    params: dict[str, Any]
    sent: bool = False
    as_task: bool = False  # sent as a task-augmented tools/call by the bridge
    task_id: str | None = None  # known once the gateway created the task
    cancelled: bool = False
    modern: bool = False  # its request carries the 2026-07-28 envelope
    last_progress: float = 0.0  # the last progress value the client saw for this request
    last_heard: float = field(default_factory=time.monotonic)  # when it last saw any

    @property
    def progress_token(self) -> str | int | None:
        meta = self.params.get("_meta")
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        return token if isinstance(token, str | int) and not isinstance(token, bool) else None


@dataclass
class Output:
    """Frames to write: to the MCP client (stdout) and to the gateway (WebSocket)."""

    to_client: list[Message] = field(default_factory=list)
    to_gateway: list[Message] = field(default_factory=list)


class Relay:
    def __init__(self, task_ttl_ms: int | None = None) -> None:
        self.task_ttl_ms = task_ttl_ms
        self.connected = False
        self.pending: dict[str, Pending] = {}  # keyed by the id the gateway sees
        self._internal: dict[str, tuple[str, str | None]] = {}  # bridge's own requests: id -> method, task
        self._waiting: dict[str, Pending] = {}  # modern calls run as the bridge's tasks, by task id
        self._listens: set[Any] = set()  # the bridge's own listen streams (their subscription ids)
        self._ids = itertools.count(1)
        self._init_params: dict[str, Any] | None = None
        self._log_level: dict[str, Any] | None = None
        self._capabilities: dict[str, Any] = {}
        self._task_support: dict[str, str] = {}  # tool name -> execution.taskSupport
        self._notes: list[Message] = []  # client notifications held while disconnected
        self._own_tasks: set[str] = set()  # tasks the bridge made; the client never heard of them

    # --- state ----------------------------------------------------------------------------
    @property
    def tasks_offered(self) -> bool:
        tasks = self._capabilities.get("tasks")
        if not isinstance(tasks, dict):
            return False
        requests = tasks.get("requests")
        return isinstance(requests, dict) and isinstance(requests.get("tools"), dict)

    def _gateway_id(self) -> str:
        return f"exai-bridge-{next(self._ids)}"

    def _find(self, client_id: Any) -> str | None:
        for gid, pending in self.pending.items():
            if pending.client_id == client_id and type(pending.client_id) is type(client_id):
                return gid
        return None

    def _find_task(self, client_id: Any) -> str | None:
        for task_id, pending in self._waiting.items():
            if pending.client_id == client_id and type(pending.client_id) is type(client_id):
                return task_id
        return None

    # --- from the MCP client --------------------------------------------------------------
    def from_client(self, message: Message) -> Output:
        out = Output()
        method = message.get("method")
        if not isinstance(method, str):
            out.to_gateway.append(message)  # an answer to a request of the gateway's
            return self._gated(out)
        if "id" not in message:
            if method == CANCELLED:
                return self._cancel(message.get("params") or {})
            if not self.connected:
                self._notes.append(message)
                return out
            out.to_gateway.append(message)
            return out
        params = message.get("params") if isinstance(message.get("params"), dict) else {}
        assert isinstance(params, dict)
        if method == "initialize":
            self._init_params = params
        elif method == "logging/setLevel":
            self._log_level = params
        pending = Pending(
            client_id=message["id"], method=method, params=params, modern=modern.is_modern(params)
        )
        gid = self._gateway_id()
        self.pending[gid] = pending
        if self.connected:
            out.to_gateway.append(self._request_frame(gid, pending))
        return out

    def _gated(self, out: Output) -> Output:
        if not self.connected:
            self._notes.extend(out.to_gateway)
            out.to_gateway = []
        return out

    def _request_frame(self, gid: str, pending: Pending) -> Message:
        pending.sent = True
        params = pending.params
        if pending.method == "tools/call" and pending.modern:
            if modern.may_run_as_task(params):
                pending.as_task = True
                params = modern.as_task(params)
        elif pending.method == "tools/call" and self._may_run_as_task(params):
            pending.as_task = True
            task: dict[str, Any] = {} if self.task_ttl_ms is None else {"ttl": self.task_ttl_ms}
            params = {**params, "task": task}
        return {"jsonrpc": "2.0", "id": gid, "method": pending.method, "params": params}

    def _may_run_as_task(self, params: dict[str, Any]) -> bool:
        if not self.tasks_offered or "task" in params:
            return False  # a client asking for a task itself polls for it itself
        name = params.get("name")
        return self._task_support.get(name if isinstance(name, str) else "", "optional") != "forbidden"

    def _cancel(self, params: dict[str, Any]) -> Output:
        out = Output()
        task_id = self._find_task(params.get("requestId"))
        if task_id is not None:  # a modern call the bridge runs as a task: cancel the task
            waiting = self._waiting.pop(task_id)
            if self.connected:
                cancel = {"taskId": task_id, "_meta": modern.envelope(waiting.params)}
                out.to_gateway.append(self._internal_request("tasks/cancel", cancel))
            return out
        gid = self._find(params.get("requestId"))
        if gid is None:
            return out  # unknown or finished: nothing to cancel
        pending = self.pending[gid]
        if pending.as_task and pending.task_id is None:
            pending.cancelled = True  # cancel the task as soon as the gateway names it
            return out
        del self.pending[gid]
        if not self.connected or not pending.sent:
            return out
        if pending.as_task and pending.task_id is not None and not pending.modern:
            out.to_gateway.append(self._internal_request("tasks/cancel", {"taskId": pending.task_id}))
        out.to_gateway.append({"jsonrpc": "2.0", "method": CANCELLED, "params": {**params, "requestId": gid}})
        return out

    def _internal_request(self, method: str, params: dict[str, Any], task_id: str | None = None) -> Message:
        gid = f"exai-bridge-own-{next(self._ids)}"
        self._internal[gid] = (method, task_id)
        return {"jsonrpc": "2.0", "id": gid, "method": method, "params": params}

    # --- from the gateway -----------------------------------------------------------------
    def from_gateway(self, message: Message) -> Output:
        out = Output()
        if "method" in message:
            params = message.get("params")
            if isinstance(params, dict) and self._own_notification(message["method"], params, out):
                return out
            if message["method"] == "notifications/progress" and isinstance(params, dict):
                message = self._progress_seen(message, params)
            elif isinstance(params, dict):
                message = self._client_ids(message, params)
            if (
                message["method"] == "notifications/tasks/status"
                and isinstance(params, dict)
                and params.get("taskId") in self._own_tasks
            ):
                return out  # about a task the bridge made for a plain call: not the client's business
            out.to_client.append(message)  # notifications (progress, logging) and its requests
            return out
        gid = message.get("id")
        if not isinstance(gid, str):
            return out
        own = self._internal.pop(gid, None)
        if own is not None:
            method, task_id = own
            if method == "initialize" and isinstance(message.get("result"), dict):
                self._remember_server(message["result"])
            elif method == "tasks/get" and task_id is not None and isinstance(message.get("result"), dict):
                self._task_moved(task_id, message["result"], out)
            return out
        pending = self.pending.pop(gid, None)
        if pending is None:
            return out
        result = message.get("result")
        if pending.method == "initialize" and isinstance(result, dict):
            self._remember_server(result)
        elif pending.method == "tools/list" and isinstance(result, dict):
            self._remember_tools(result)
        elif pending.as_task and pending.task_id is None and isinstance(result, dict):
            if pending.modern:
                task_id = modern.created_task(result)
                if task_id is not None:
                    return self._modern_task_created(pending, task_id)
            task = result.get("task")
            if not pending.modern and isinstance(task, dict) and isinstance(task.get("taskId"), str):
                return self._task_created(pending, task["taskId"])
        if pending.as_task and isinstance(result, dict) and pending.task_id is not None:
            meta = result.get("_meta")
            if isinstance(meta, dict):
                # The client asked for a plain call; the task the bridge made is its own business.
                result = {**result, "_meta": {k: v for k, v in meta.items() if k != RELATED_TASK}}
        answer: Message = {"jsonrpc": "2.0", "id": pending.client_id}
        if "error" in message:
            answer["error"] = message["error"]
        else:
            answer["result"] = result if result is not None else {}
        out.to_client.append(answer)
        return out

    def _progress_seen(self, message: Message, params: dict[str, Any]) -> Message:
        """Note progress on its request; keep the values growing across bridge heartbeats (MCP
        requires it, and a call resumed after a reconnect restarts its count)."""
        token = params.get("progressToken")
        for pending in self.pending.values():
            if pending.progress_token == token and type(pending.progress_token) is type(token):
                value = params.get("progress")
                if not isinstance(value, int | float) or value <= pending.last_progress:
                    value = pending.last_progress + 1
                    message = {**message, "params": {**params, "progress": value}}
                pending.last_progress = float(value)
                pending.last_heard = time.monotonic()
        return message

    def heartbeats(self, quiet_s: float, now: float | None = None) -> list[Message]:
        """Progress for calls the client has heard nothing about for ``quiet_s``.

        While the gateway is unreachable, and while a call resumed after a reconnect is awaited
        with tasks/result (which carries no progress), only the bridge can keep clients from
        giving up on an idle request.
        """
        now = time.monotonic() if now is None else now
        out: list[Message] = []
        state = "waiting for the call's result" if self.connected else "reconnecting to the gateway"
        seen: set[int] = set()
        for pending in [*self.pending.values(), *self._waiting.values()]:
            token = pending.progress_token
            if pending.method != "tools/call" or token is None or id(pending) in seen:
                continue
            seen.add(id(pending))  # a call may be listed twice while its task is being awaited
            if now - pending.last_heard >= quiet_s:
                pending.last_progress += 1
                pending.last_heard = now
                params = {"progressToken": token, "progress": pending.last_progress, "message": state}
                out.append({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})
        return out

    def _client_ids(self, message: Message, params: dict[str, Any]) -> Message:
        """A notification naming one of the client's requests by the bridge's id (a listen stream's
        subscription id, the request a server cancellation ends) names it by the client's own."""
        meta = params.get("_meta")
        subscription = meta.get(modern.SUBSCRIPTION_ID) if isinstance(meta, dict) else None
        if isinstance(meta, dict) and isinstance(subscription, str) and subscription in self.pending:
            meta = {**meta, modern.SUBSCRIPTION_ID: self.pending[subscription].client_id}
            params = {**params, "_meta": meta}
        cancelled = params.get("requestId")
        if message.get("method") == CANCELLED and isinstance(cancelled, str) and cancelled in self.pending:
            params = {**params, "requestId": self.pending.pop(cancelled).client_id}
        return {**message, "params": params}

    def _own_notification(self, method: str, params: dict[str, Any], out: Output) -> bool:
        """Handle what the gateway says about the bridge's own tasks and listens (True: handled)."""
        meta = params.get("_meta")
        if isinstance(meta, dict) and meta.get(modern.SUBSCRIPTION_ID) in self._listens:
            if method == "notifications/tasks" and isinstance(params.get("taskId"), str):
                self._task_moved(params["taskId"], params, out)
            return True  # acknowledgements and task notes of the bridge's own listen streams
        if method == "notifications/tasks" and params.get("taskId") in self._waiting:
            self._task_moved(str(params["taskId"]), params, out)
            return True
        return False

    def _modern_task_created(self, pending: Pending, task_id: str) -> Output:
        out = Output()
        pending.task_id = task_id
        if pending.cancelled:
            cancel = {"taskId": task_id, "_meta": modern.envelope(pending.params)}
            out.to_gateway.append(self._internal_request("tasks/cancel", cancel))
            return out
        self._waiting[task_id] = pending
        return out

    def _task_moved(self, task_id: str, task: dict[str, Any], out: Output) -> None:
        pending = self._waiting.get(task_id)
        answer = modern.answer_of(task) if pending is not None else None
        if pending is None or answer is None:
            return
        del self._waiting[task_id]
        out.to_client.append({"jsonrpc": "2.0", "id": pending.client_id, **answer})

    def _task_created(self, pending: Pending, task_id: str) -> Output:
        out = Output()
        pending.task_id = task_id
        self._own_tasks.add(task_id)
        if pending.cancelled:
            out.to_gateway.append(self._internal_request("tasks/cancel", {"taskId": task_id}))
            return out
        out.to_gateway.append(self._await_task(pending))
        return out

    def _await_task(self, pending: Pending) -> Message:
        gid = self._gateway_id()
        self.pending[gid] = pending
        return {"jsonrpc": "2.0", "id": gid, "method": "tasks/result", "params": {"taskId": pending.task_id}}

    def _remember_server(self, result: dict[str, Any]) -> None:
        capabilities = result.get("capabilities")
        self._capabilities = capabilities if isinstance(capabilities, dict) else {}

    def _remember_tools(self, result: dict[str, Any]) -> None:
        for tool in result.get("tools") or []:
            if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                execution = tool.get("execution")
                support = execution.get("taskSupport") if isinstance(execution, dict) else None
                self._task_support[tool["name"]] = support if isinstance(support, str) else "optional"

    # --- connection changes ---------------------------------------------------------------
    def disconnected(self) -> None:
        self.connected = False
        self._internal.clear()  # answers to the bridge's own requests will never come
        self._listens.clear()  # and its listen streams ended with the connection

    def reconnected(self) -> Output:
        """What to send on a fresh connection so the client's session carries on where it was."""
        self.connected = True
        out = Output()
        resending_initialize = any(p.method == "initialize" for p in self.pending.values())
        if self._init_params is not None and not resending_initialize:
            out.to_gateway.append(self._internal_request("initialize", self._init_params))
            out.to_gateway.append({"jsonrpc": "2.0", "method": "notifications/initialized"})
            if self._log_level is not None:
                out.to_gateway.append(self._internal_request("logging/setLevel", self._log_level))
        for gid, pending in list(self.pending.items()):
            del self.pending[gid]
            if pending.cancelled and pending.task_id is None:
                continue
            if not pending.sent:
                new_gid = self._gateway_id()
                self.pending[new_gid] = pending
                out.to_gateway.append(self._request_frame(new_gid, pending))
            elif pending.method != "tools/call":
                new_gid = self._gateway_id()
                self.pending[new_gid] = pending  # lists, pings, task queries: safe to ask again
                out.to_gateway.append(self._request_frame(new_gid, pending))
            elif pending.task_id is not None and not pending.modern:
                out.to_gateway.append(self._await_task(pending))
            else:
                text = LOST_BEFORE_TASK if pending.as_task else LOST_CALL
                out.to_client.append(
                    {
                        "jsonrpc": "2.0",
                        "id": pending.client_id,
                        "result": {"content": [{"type": "text", "text": text}], "isError": True},
                    }
                )
        out.to_gateway.extend(self._watch_again())
        out.to_gateway.extend(self._notes)
        self._notes = []
        return out

    def _watch_again(self) -> list[Message]:
        """A new connection knows nothing of the bridge's modern tasks: listen for them again,
        then ask each once (one that ended meanwhile sends no notification any more)."""
        if not self._waiting:
            return []
        first = next(iter(self._waiting.values()))
        envelope = modern.envelope(first.params)
        ids = list(self._waiting)
        listen = self._internal_request(
            "subscriptions/listen", {"notifications": {"taskIds": ids}, "_meta": envelope}
        )
        self._listens.add(listen["id"])
        asks = [self._internal_request("tasks/get", {"taskId": i, "_meta": envelope}, task_id=i) for i in ids]
        return [listen, *asks]
