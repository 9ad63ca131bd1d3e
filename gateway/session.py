"""One MCP session (one WebSocket connection): lifecycle, dispatch, and its calls in flight.

Frames are handled as they arrive; a ``tools/call`` runs in its own asyncio task, so many calls
share one connection and answers go out as they finish. Everything sent goes through one outbox so
frames keep their order; progress is dropped before answers when a client reads too slowly.

Every request with an id gets exactly one answer: those answered at once inside :meth:`Session.dispatch`,
those that wait (calls, ``tasks/*``) through :class:`~gateway.inflight.InFlight`, where an unexpected
exception becomes a ``-32603`` error and each counts against the outstanding-request caps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from celery.exceptions import CeleryError
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from contracts import tracing
from contracts.errors import ExaiError
from contracts.logs import correlated
from contracts.version import SERVER_NAME, __version__
from gateway import jsonrpc
from gateway.calls import CallBroker, PendingCall, ProgressCallback, begin
from gateway.inflight import InFlight, Reply
from gateway.jsonrpc import Message, Notification, Request, RequestId, Response
from gateway.limits import LimitExceeded, Slot, shared_limits
from gateway.tasks import TaskError, TaskRecord, TaskService
from gateway.telemetry import NullTelemetry, method_label
from gateway.tool_call import META_CORRELATION, Refused, read_tool_call
from gateway.tool_catalog import InvalidCursor, ToolCatalog

log = logging.getLogger(__name__)

LATEST_PROTOCOL = "2025-11-25"
SUPPORTED_PROTOCOLS = ("2025-11-25", "2025-06-18")
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
# Progress frames are dropped (answers never are) once this many frames wait for a slow reader.
OUTBOX_SOFT_LIMIT = 1000
META_CALL = "io.exai/call_id"
META_RETRY_AFTER = "io.exai/retry_after_s"
META_TEXT = "io.exai/text"  # answer text streamed in a progress notification
LIMIT_EXCEEDED = -32000  # JSON-RPC server error: a limit was hit; data.retryAfter says when to retry
TASK_METHODS = frozenset({"tasks/get", "tasks/result", "tasks/list", "tasks/cancel"})
QUEUE_UNAVAILABLE = "the task queue is unavailable (Redis cannot be reached); retry in a few seconds"
QUEUE_ERRORS = (RedisError, KombuError, CeleryError, OSError)
Queueing = asyncio.Task[tuple[TaskRecord, PendingCall]]  # an accepted call being recorded and queued

INSTRUCTIONS = (
    "Tools backed by Kimi (Moonshot) and GLM (Zhipu) models. Long calls report progress when you "
    "send a progressToken, and can be cancelled with notifications/cancelled."
)


class Session:
    def __init__(
        self,
        broker: CallBroker,
        catalog: ToolCatalog,
        identity: str,
        send: Callable[[str], Awaitable[None]],
        tasks: TaskService | None = None,
    ) -> None:
        self.broker = broker
        self.catalog = catalog
        self.identity = identity
        self._send = send
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self.initialized = False
        self.protocol_version: str | None = None
        self.log_level = "info"
        self._background: set[asyncio.Task[None]] = set()
        self.telemetry = getattr(broker, "telemetry", None) or NullTelemetry()
        self.tasks = tasks or TaskService(broker)
        self.limits = shared_limits(broker)
        self.calls = InFlight(self.limits, identity, _internal_error)
        self._last_frame = ""  # the latest frame posted, to tell an answer's status for metrics
        self.closed = False  # the client left: nothing more is sent
        self._posted = 0  # frames posted so far, to tell whether a failed request was answered

    # --- output ---------------------------------------------------------------------------
    def post(self, frame: str, *, droppable: bool = False) -> None:
        if self.closed or (droppable and self._outbox.qsize() >= OUTBOX_SOFT_LIMIT):
            return
        self._outbox.put_nowait(frame)
        self._last_frame = frame
        self._posted += 1

    async def write_forever(self) -> None:
        while True:
            frame = await self._outbox.get()
            await self._send(frame)

    def log_to_client(self, level: str, data: Any) -> None:
        if LOG_LEVELS.index(level) >= LOG_LEVELS.index(self.log_level):
            self.post(
                jsonrpc.notification(
                    "notifications/message", {"level": level, "logger": "exai", "data": data}
                ),
                droppable=True,
            )

    # --- input ----------------------------------------------------------------------------
    def handle(self, frame: str | bytes) -> None:
        """Handle one frame. Never raises: a bad frame is answered, it does not end the session."""
        if isinstance(frame, bytes):
            self.post(
                jsonrpc.error(
                    None,
                    jsonrpc.PARSE_ERROR,
                    "Parse error: binary frames are not supported; send JSON-RPC as text",
                )
            )
            return
        try:
            message = jsonrpc.decode(frame)
        except jsonrpc.DecodeError as exc:
            self.post(jsonrpc.error(exc.id, exc.code, exc.message))
            return
        self.dispatch(message)

    def dispatch(self, message: Message) -> None:
        """Handle one decoded message (the HTTP front decodes its bodies itself). Never raises."""
        posted = self._posted
        try:
            if isinstance(message, Request):
                started = time.monotonic()
                self._request(message)
                if message.id not in self.calls:  # answered at once; a call is counted when it ends
                    status = "error" if _is_error_answer(self._last_frame, message.id) else "ok"
                    self.telemetry.request(method_label(message.method), status, time.monotonic() - started)
            elif isinstance(message, Notification):
                self._notification(message)
            elif isinstance(message, Response):
                pass  # answers to our pings; nothing waits on them
        except Exception:  # the protocol error boundary: one failure, one answer
            log.exception("error handling %s", getattr(message, "method", "a response"))
            if isinstance(message, Request) and self._posted == posted and message.id not in self.calls:
                text = f"Internal error while handling {message.method[:100]}; the gateway's log has details"
                self.post(jsonrpc.error(message.id, jsonrpc.INTERNAL_ERROR, text))

    def _request(self, req: Request) -> None:
        method = req.method
        if method == "ping":
            self.post(jsonrpc.result(req.id, {}))
        elif method == "server/discover":
            # The 2026 clients probe with this and fall back to initialize on any error.
            self.post(jsonrpc.error(req.id, jsonrpc.METHOD_NOT_FOUND, "Method not found: server/discover"))
        elif method == "initialize":
            self._initialize(req)
        elif not self.initialized:
            self.post(
                jsonrpc.error(
                    req.id,
                    jsonrpc.INVALID_REQUEST,
                    "Invalid Request: the session is not initialized; send initialize first",
                )
            )
        elif method == "tools/list":
            self._tools_list(req)
        elif method == "tools/call":
            self._tools_call(req)
        elif method == "logging/setLevel":
            self._set_level(req)
        elif method in TASK_METHODS:
            self._tasks_request(req)
        else:
            self.post(jsonrpc.error(req.id, jsonrpc.METHOD_NOT_FOUND, f"Method not found: {method[:100]}"))

    def _notification(self, note: Notification) -> None:
        if note.method == "notifications/initialized":
            self.initialized = self.protocol_version is not None
        elif note.method == "notifications/cancelled":
            request_id = note.params.get("requestId")
            if isinstance(request_id, str | int) and not isinstance(request_id, bool):
                self._cancel(request_id)

    # --- methods --------------------------------------------------------------------------
    def _initialize(self, req: Request) -> None:
        requested = req.params.get("protocolVersion")
        if not isinstance(requested, str):
            self.post(
                jsonrpc.error(
                    req.id,
                    jsonrpc.INVALID_PARAMS,
                    "Invalid params: protocolVersion must be a string",
                    {"supported": list(SUPPORTED_PROTOCOLS)},
                )
            )
            return
        # An unknown version gets our newest; the client decides whether it can speak it.
        self.protocol_version = requested if requested in SUPPORTED_PROTOCOLS else LATEST_PROTOCOL
        # Clients may send requests right after the answer, before notifications/initialized.
        self.initialized = True
        self.post(
            jsonrpc.result(
                req.id,
                {
                    "protocolVersion": self.protocol_version,
                    "capabilities": {
                        "tools": {"listChanged": False},
                        "logging": {},
                        "tasks": {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}},
                    },
                    "serverInfo": {
                        "name": SERVER_NAME,
                        "title": "EX-AI MCP (Kimi & GLM)",
                        "version": __version__,
                    },
                    "instructions": INSTRUCTIONS,
                },
            )
        )

    def _tools_list(self, req: Request) -> None:
        cursor = req.params.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            self.post(
                jsonrpc.error(req.id, jsonrpc.INVALID_PARAMS, "Invalid params: cursor must be a string")
            )
            return
        try:
            self.post(jsonrpc.result(req.id, self.catalog.page(cursor)))
        except InvalidCursor as exc:
            self.post(jsonrpc.error(req.id, jsonrpc.INVALID_PARAMS, f"Invalid params: {exc}"))

    def _set_level(self, req: Request) -> None:
        level = req.params.get("level")
        if level not in LOG_LEVELS:
            self.post(
                jsonrpc.error(
                    req.id,
                    jsonrpc.INVALID_PARAMS,
                    f"Invalid params: level must be one of {', '.join(LOG_LEVELS)}",
                )
            )
            return
        self.log_level = str(level)
        self.post(jsonrpc.result(req.id, {}))

    def _tools_call(self, req: Request) -> None:
        if req.id in self.calls:
            self.post(
                jsonrpc.error(
                    req.id,
                    jsonrpc.INVALID_REQUEST,
                    f"Invalid Request: id {req.id!r} is already used by a call in flight",
                )
            )
            return
        try:
            call = read_tool_call(req.params, self.catalog)
        except Refused as refused:
            if refused.as_result:
                self.post(jsonrpc.result(req.id, _error_result(refused.message)))
            else:
                self.post(jsonrpc.error(req.id, jsonrpc.INVALID_PARAMS, refused.message))
            return
        outstanding = self._admit(req)
        if outstanding is None:
            return
        slot = self._call_slot(req, call.task is not None)
        if slot is None:
            outstanding.release()
            return
        job = self.broker.new_job(
            call.tool, call.arguments, client=self.identity, correlation_id=call.correlation_id
        )
        ttl_ms = self.tasks.ttl_ms(None if call.task is None else call.task.get("ttl"))
        ids = {"tool": job.tool, "correlation_id": job.correlation_id, "call_id": job.call_id}
        span = tracing.start("tools/call", **ids) if call.task is None else None
        # Accepted: from here the call is recorded and queued whatever happens to this request
        # (a client that drops at once leaves no task behind that nothing runs).
        queued = begin(self._queue(job, ttl_ms, call.progress_token, slot, span))
        reply = Reply(self.post, req.method, req.id, req)
        if call.task is not None:
            self.calls.spawn(reply, lambda r: self._start_task(r, job, queued), outstanding)
            return
        waiting = self.calls.spawn(
            reply, lambda r: self._run_call(r, job, queued, span), outstanding, job.call_id
        )
        if span is not None:
            waiting.add_done_callback(lambda _: span.end())  # answered, or its client cancelled or left

    async def _queue(
        self, job: Any, ttl_ms: int, token: str | int | None, slot: Slot, span: tracing.OpenSpan | None
    ) -> tuple[TaskRecord, PendingCall]:
        """Record and queue an accepted call (run by ``begin``: it finishes even if its client leaves)."""
        with correlated(job.correlation_id), tracing.current(span):  # the task headers carry the span
            return await self.tasks.start(job, self.identity, ttl_ms, self._progress_sender(token), slot)

    def _admit(self, req: Request) -> Slot | None:
        """A place for ``req`` among the requests that wait, or None when refused (and answered)."""
        try:
            return self.calls.admit()
        except LimitExceeded as exc:
            log.warning("refused %s of %s: %s", req.method, self.identity, exc.limit)
            data = {"retryAfter": exc.retry_after_s, "limit": exc.limit}
            self.post(jsonrpc.error(req.id, LIMIT_EXCEEDED, exc.message, data))
            return None

    def _call_slot(self, req: Request, as_task: bool) -> Slot | None:
        """The client's in-flight slot for a call, or None when refused (and answered)."""
        try:
            return self.limits.acquire(self.identity)
        except LimitExceeded as exc:
            log.warning("refused a call of %s: %s", self.identity, exc.limit)
            if as_task:
                data = {"retryAfter": exc.retry_after_s, "limit": exc.limit}
                self.post(jsonrpc.error(req.id, LIMIT_EXCEEDED, exc.message, data))
            else:
                refused = _error_result(exc.message)
                refused["_meta"] = {META_RETRY_AFTER: exc.retry_after_s}
                self.post(jsonrpc.result(req.id, refused))
            return None

    # --- MCP tasks --------------------------------------------------------------------------
    async def _start_task(self, reply: Reply, job: Any, queued: Queueing) -> None:
        """Answer a task-augmented tools/call with its task at once; the call runs on.

        A progress token stays valid for the task's life (MCP): clients waiting on tasks/result
        need the heartbeats as much as those of a plain call.
        """
        with correlated(job.correlation_id):
            try:
                record, pending = await asyncio.shield(queued)
            except QUEUE_ERRORS as exc:
                log.warning("could not queue task %s: %s", job.call_id, exc)
                reply(jsonrpc.error(reply.request.id, jsonrpc.INTERNAL_ERROR, QUEUE_UNAVAILABLE))
                return
            log.info("tools/call %s as task %s", job.tool, job.call_id)
            self._meter_task(job, pending.future)
            reply(jsonrpc.result(reply.request.id, {"task": self.tasks.view(record, None)}))
            watcher = asyncio.create_task(self._watch_task(record, pending.future))
            self._background.add(watcher)  # lives on after the client leaves, until the call ends
            watcher.add_done_callback(self._background.discard)

    def _meter_task(self, job: Any, future: asyncio.Future[Any]) -> None:
        """Count a task-augmented call when it ends, as a plain call is counted."""
        started = time.monotonic()

        def done(ended: asyncio.Future[Any]) -> None:
            if ended.cancelled():
                status, error = "cancelled", "CANCELLED"
            elif (exc := ended.exception()) is not None:
                status, error = "error", str(getattr(exc, "code", "ERROR"))
            elif (outcome := ended.result()).error_code == "CANCELLED":
                status, error = "cancelled", "CANCELLED"
            else:
                status, error = ("error", outcome.error_code or "ERROR") if outcome.is_error else ("ok", "")
            self.telemetry.call(
                tool=job.tool,
                status=status,
                error=error,
                duration=time.monotonic() - started,
                correlation_id=job.correlation_id,
                call_id=job.call_id,
            )

        future.add_done_callback(done)

    def _progress_sender(self, token: str | int | None) -> ProgressCallback | None:
        if token is None:
            return None

        def send(value: float, total: float | None, message: str | None, text: str | None = None) -> None:
            params: dict[str, Any] = {"progressToken": token, "progress": value}
            if total is not None:
                params["total"] = total
            if message:
                params["message"] = message
            if text:
                params["_meta"] = {META_TEXT: text}  # the answer as it streams; clients may show it
            self.post(jsonrpc.notification("notifications/progress", params), droppable=True)

        return send

    async def _watch_task(self, record: TaskRecord, future: asyncio.Future[Any]) -> None:
        """Tell the connection that started a task when it ends (optional in MCP: best effort)."""
        try:
            await asyncio.wait([future])
            if not self.closed:
                task = await self.tasks.get(record.task_id, self.identity)
                self.post(jsonrpc.notification("notifications/tasks/status", task), droppable=True)
        except Exception as exc:
            log.warning("no status notification for task %s: %s", record.task_id, exc)

    def _tasks_request(self, req: Request) -> None:
        if req.id in self.calls:
            self.post(
                jsonrpc.error(
                    req.id, jsonrpc.INVALID_REQUEST, f"Invalid Request: id {req.id!r} is already in use"
                )
            )
            return
        outstanding = self._admit(req)
        if outstanding is not None:  # cancellable; cancelling a wait never cancels the task
            self.calls.spawn(Reply(self.post, req.method, req.id, req), self._run_tasks_request, outstanding)

    async def _run_tasks_request(self, reply: Reply) -> None:
        req = reply.request
        params = req.params
        try:
            if req.method == "tasks/get":
                answer = await self.tasks.get(params.get("taskId"), self.identity)
            elif req.method == "tasks/result":
                answer = await self.tasks.result(params.get("taskId"), self.identity)
            elif req.method == "tasks/list":
                answer = await self.tasks.list(self.identity, params.get("cursor"))
            else:
                answer = await self.tasks.cancel(params.get("taskId"), self.identity)
            reply(jsonrpc.result(req.id, answer))
        except TaskError as exc:
            reply(jsonrpc.error(req.id, jsonrpc.INVALID_PARAMS, f"Invalid params: {exc}"))
        except (RedisError, OSError) as exc:
            log.warning("%s failed: %s", req.method, exc)
            reply(
                jsonrpc.error(
                    req.id, jsonrpc.INTERNAL_ERROR, "task store unavailable (Redis cannot be reached); retry"
                )
            )

    async def _run_call(
        self, reply: Reply, job: Any, queued: Queueing, span: tracing.OpenSpan | None
    ) -> None:
        req_id = reply.request.id
        with correlated(job.correlation_id), tracing.current(span):
            log.info("tools/call %s as %s", job.tool, job.call_id)
            started = time.monotonic()
            status, error = "cancelled", "CANCELLED"  # unless an answer is sent below
            try:
                # Recorded as a task too: a client that leaves can fetch the result with tasks/result.
                _, pending = await asyncio.shield(queued)
                # Shielded: this wait may be cancelled (the client left), the call and its slot not.
                outcome = await asyncio.shield(pending.future)
                result = {
                    "content": [{"type": "text", "text": outcome.text}],
                    "isError": outcome.is_error,
                    "_meta": {META_CORRELATION: job.correlation_id, META_CALL: job.call_id},
                }
                if outcome.structured is not None:
                    result["structuredContent"] = outcome.structured
                if outcome.is_error:
                    self.log_to_client("warning", {"call": job.call_id, "error": outcome.error_code})
                reply(jsonrpc.result(req_id, result))
                status, error = ("error", outcome.error_code or "ERROR") if outcome.is_error else ("ok", "")
            except ExaiError as exc:
                status, error = "error", exc.code
                reply(jsonrpc.result(req_id, _error_result(exc.message, job.correlation_id)))
            except QUEUE_ERRORS as exc:
                log.warning("could not queue %s: %s", job.call_id, exc)
                status, error = "error", "QUEUE_UNAVAILABLE"
                self.telemetry.error("queue_unavailable")
                reply(jsonrpc.result(req_id, _error_result(QUEUE_UNAVAILABLE, job.correlation_id)))
            except Exception:
                status, error = "error", "INTERNAL"
                raise  # answered by the boundary in _answering
            finally:
                elapsed = time.monotonic() - started
                self.telemetry.request("tools/call", "error" if status == "error" else "ok", elapsed)
                self.telemetry.call(
                    tool=job.tool,
                    status=status,
                    error=error,
                    duration=elapsed,
                    correlation_id=job.correlation_id,
                    call_id=job.call_id,
                )

    def _cancel(self, req_id: RequestId) -> None:
        _, call_id = self.calls.cancel(req_id)  # unknown or already answered: nothing to do
        if call_id is not None:
            log.info("client cancelled call %s", call_id)
            self.broker.cancel_soon(call_id)

    async def close(self) -> None:
        """The client left: stop waiting, but let its calls finish and keep their results (and
        hold their slots until then: reconnecting frees nothing)."""
        self.closed = True
        for call_id in self.calls.cancel_all():
            self.broker.detach(call_id)


def _is_error_answer(frame: str, req_id: RequestId) -> bool:
    # jsonrpc.error writes "error" right after the id; a result never has it there.
    return frame.startswith(jsonrpc.error(req_id, 0, "")[: -len('{"code":0,"message":""}}')])


def _internal_error(reply: Reply) -> str:
    message = f"Internal error while handling {reply.method}; the gateway's log has details"
    return jsonrpc.error(reply.request.id, jsonrpc.INTERNAL_ERROR, message)


def _error_result(message: str, correlation_id: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"content": [{"type": "text", "text": message}], "isError": True}
    if correlation_id:
        result["_meta"] = {META_CORRELATION: correlation_id}
    return result
