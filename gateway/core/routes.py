"""Deferred answers of MCP requests (either era): how a call's progress, logs and outcome reach a client.

* :class:`CallRoute` — a plain ``tools/call``: progress under the request's token, tool logs at or
  above the request's level (modern: only when ``_meta.logLevel`` asked for them), then the result,
  the JSON-RPC error of a protocol failure, or the next input round (``Rounds``).
* :class:`TaskWatch` — the connection that created a 2025 task: its progress token stays valid for
  the task's life, and ``notifications/tasks/status`` tells it when the task ends.

Both are :class:`~gateway.core.inflight.Route` (the reply listener drives them) and ``Pending``
(the channel cancels or abandons them); the old daemon protocol has its own route in its adapter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from contracts.answers import LOG_LEVELS
from contracts.job import Job, Outcome, ProgressEvent
from gateway.core import codec
from gateway.core.inflight import Call, InFlight, Route
from gateway.core.outcomes import call_result, log_params, progress_params, protocol_error
from gateway.core.peer import RequestContext, Sink
from gateway.core.server_requests import Batch, forget
from gateway.core.task_views import TaskRecord, TaskState, detailed_task, legacy_task

if TYPE_CHECKING:
    from gateway.core.dispatch import Replies


def allows(level: str | None, wanted: str) -> bool:
    """Whether a message at ``wanted`` passes a gate set to ``level`` (None: nothing passes)."""
    if level is None or wanted not in LOG_LEVELS or level not in LOG_LEVELS:
        return False
    return LOG_LEVELS.index(wanted) >= LOG_LEVELS.index(level)


def send_log(ctx: RequestContext, params: dict[str, Any]) -> None:
    if allows(ctx.current_log_level(), str(params.get("level"))):
        ctx.sink.post(codec.notification("notifications/message", params), droppable=True)


class CallRoute(Route):
    """The deferred answer of one plain ``tools/call``."""

    __slots__ = ("asking", "cancel_call", "ctx", "inflight", "job", "next_round", "replies")

    def __init__(
        self,
        ctx: RequestContext,
        job: Job,
        replies: Replies,
        inflight: InFlight,
        cancel_call: Callable[[str], Awaitable[Outcome | None]],
        next_round: Callable[[CallRoute, Outcome], None],
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.job = job  # the round running now
        self.replies = replies
        self.inflight = inflight
        self.cancel_call = cancel_call
        self.next_round = next_round
        self.asking: Batch | None = None  # legacy: the input requests sent to the client, unanswered

    # --- Route --------------------------------------------------------------------------------
    def progress(self, call: Call, value: float, event: ProgressEvent) -> None:
        if event.log is not None:
            params = log_params(event.log)
            if params is not None:
                send_log(self.ctx, params)
            return
        token = self.ctx.progress_token
        if token is not None:
            params = progress_params(token, value, event.total, event.message, event.text)
            self.ctx.sink.post(codec.notification("notifications/progress", params), droppable=True)

    def heartbeat(self, call: Call, value: float, message: str) -> None:
        token = self.ctx.progress_token
        if token is not None:
            params = progress_params(token, value, None, message)
            self.ctx.sink.post(codec.notification("notifications/progress", params), droppable=True)

    def outcome(self, call_id: str, outcome: Outcome) -> None:
        if outcome.kind == "input_required":
            self.next_round(self, outcome)
        elif outcome.kind == "protocol_error":
            self.replies.error(self.ctx, protocol_error(outcome))
        else:
            if outcome.is_error:
                send_log(self.ctx, {"level": "warning", "logger": "exai", "data": _failure(outcome)})
            self.replies.result(self.ctx, call_result(outcome, self.job.correlation_id))

    # --- Pending ------------------------------------------------------------------------------
    def cancel(self) -> None:
        """The client cancelled: the call is stopped on the workers and nothing is answered."""
        self.abandon()
        self.cancel_call(self.job.call_id)

    def abandon(self) -> None:
        """The client left: stop answering; the call runs on and keeps its result (and its slot)."""
        self.inflight.detach(self.job.call_id, self)
        if self.asking is not None:
            forget(self.ctx.channel, self.asking)
            self.asking = None
        self.ctx.drop()


class TaskWatch(Route):
    """A 2025 task's creating connection: progress for the task's life, a status note at its end."""

    __slots__ = ("ctx", "inflight", "poll_interval_ms", "record")

    def __init__(
        self, ctx: RequestContext, record: TaskRecord, inflight: InFlight, poll_interval_ms: int
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.record = record
        self.inflight = inflight
        self.poll_interval_ms = poll_interval_ms

    @property
    def sink(self) -> Sink:
        # The connection's own stream: on Streamable HTTP the session's GET stream, since the
        # request that created the task was answered long ago.
        return self.ctx.channel.sink or self.ctx.sink

    def progress(self, call: Call, value: float, event: ProgressEvent) -> None:
        token = self.ctx.progress_token
        if token is not None and event.log is None:
            params = progress_params(token, value, event.total, event.message, event.text)
            self.sink.post(codec.notification("notifications/progress", params), droppable=True)

    def heartbeat(self, call: Call, value: float, message: str) -> None:
        token = self.ctx.progress_token
        if token is not None:
            params = progress_params(token, value, None, message)
            self.sink.post(codec.notification("notifications/progress", params), droppable=True)

    def outcome(self, call_id: str, outcome: Outcome) -> None:
        interim = outcome.kind == "input_required"
        state = (
            TaskState(self.record, interim=outcome) if interim else TaskState(self.record, outcome=outcome)
        )
        if not interim:
            self.ctx.channel.closers.discard(self.close)  # ended: nothing to detach any more
        if self.sink.open:
            task = legacy_task(state, self.poll_interval_ms)
            self.sink.post(codec.notification("notifications/tasks/status", task), droppable=True)

    def close(self) -> None:
        """Its connection left."""
        self.inflight.detach(self.record.task_id, self)


class CreatorWatch(TaskWatch):
    """A task the stdio bridge asked for (``io.exai/preferTask``) to keep one of its client's
    plain calls alive across reconnects: the call's progress under the client's token, and the
    task's state (``notifications/tasks``, the DetailedTask) whenever it moves, on the bridge's
    connection. Only the bridge asks for it; a client that declares the extension itself polls."""

    __slots__ = ()

    def outcome(self, call_id: str, outcome: Outcome) -> None:
        interim = outcome.kind == "input_required"
        state = (
            TaskState(self.record, interim=outcome) if interim else TaskState(self.record, outcome=outcome)
        )
        if not interim:
            self.ctx.channel.closers.discard(self.close)
        if self.sink.open:
            task = detailed_task(state, self.poll_interval_ms)
            self.sink.post(codec.notification("notifications/tasks", task))


def _failure(outcome: Outcome) -> dict[str, Any]:
    return {"call": outcome.call_id, "error": outcome.error_code or "ERROR"}
