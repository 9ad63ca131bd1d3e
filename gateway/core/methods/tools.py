"""``tools/list`` and ``tools/call``: validation, limits, the task decision, input rounds — then a route.

A call is checked with no I/O (name, arguments against the tool's schema, the ``task`` param, the
capabilities the tool needs), admitted against the client's outstanding-request and in-flight
caps, turned into a job and handed to :meth:`Tools.start`: the call is registered in the process's
in-flight registry (so no reply can arrive before we listen) and its record and job go to the
enqueue pool. What the client sees depends on the era and the decision:

* plain call (either era): a :class:`~gateway.core.routes.CallRoute` answers when the outcome comes;
  an ``input_required`` outcome starts the next round (:mod:`gateway.core.methods.rounds`);
* 2025 task (``params.task``): ``{task}`` once queued; a :class:`~gateway.core.routes.TaskWatch` keeps
  the progress token and says when it ends;
* 2026 task (the client declared ``io.modelcontextprotocol/tasks`` and the tool is long or requires
  it): the flat ``CreateTaskResult`` once the record is written and the job queued (durable create).

Refusals follow MCP: a malformed request is a JSON-RPC error (``-32602``, ``-32021``, ``-32601`` for
a 2025 task mismatch); bad arguments and limits on a plain call are ``isError`` results.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from contracts import tracing
from contracts.job import Job, Outcome
from contracts.logs import correlated
from contracts.settings import Settings
from contracts.tools import ToolSpec
from gateway.catalog import Catalog, InvalidCursor
from gateway.core import codec
from gateway.core.codec import TASKS_EXTENSION
from gateway.core.dispatch import DEFERRED, Encoded, Method, Replies
from gateway.core.eras import declares, declares_extension
from gateway.core.errors import Internal, InvalidParams, LimitReached, MethodNotFound, MissingCapability
from gateway.core.inflight import Call, InFlight, Route
from gateway.core.input_state import RequestStates, input_responses
from gateway.core.outcomes import META_RETRY_AFTER, QUEUE_UNAVAILABLE, call_status, error_result
from gateway.core.peer import RequestContext
from gateway.core.ports import Calls, QueueUnavailable, Telemetry
from gateway.core.routes import CallRoute, CreatorWatch, TaskWatch
from gateway.core.task_views import TaskRecord, TaskState, created_task, legacy_task
from gateway.limits import ClientLimits, LimitExceeded, Slot

log = logging.getLogger(__name__)

Mode = Literal["plain", "legacy-task", "task"]
MAY_ASK = ("elicitation", "sampling", "roots")  # capabilities a tool may ask through
PAGE_CACHE = 64  # pre-encoded tools/list pages kept (per catalog version, era and cursor)


@dataclass(frozen=True)
class Plan:
    """A call that passed every check, before any limit is taken."""

    spec: ToolSpec
    arguments: dict[str, Any]
    mode: Mode
    ttl_ms: int
    call_id: str | None = None  # set for a later input round (the call goes on)
    round: int = 0
    continuation: dict[str, Any] | None = None
    responses: dict[str, Any] | None = None


class Tools:
    def __init__(
        self,
        catalog: Catalog,
        calls: Calls,
        inflight: InFlight,
        limits: ClientLimits,
        replies: Replies,
        states: RequestStates,
        settings: Settings,
        telemetry: Telemetry,
        next_round: Callable[[CallRoute, Outcome], None],
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.catalog = catalog
        self.calls = calls
        self.inflight = inflight
        self.limits = limits
        self.replies = replies
        self.states = states
        self.settings = settings
        self.telemetry = telemetry
        self.next_round = next_round
        self.clock = clock
        self.wall = wall
        self.poll_interval_ms = int(settings.exai_task_poll_interval_s * 1000)
        self._pages: dict[tuple[int, bool, str | None], Encoded] = {}

    def handlers(self) -> dict[str, Method]:
        return {"tools/list": Method(self.list), "tools/call": Method(self.call)}

    # --- tools/list -----------------------------------------------------------------------------
    def list(self, ctx: RequestContext, params: dict[str, Any]) -> Encoded:
        """A page of tools, encoded once per catalog version, era and cursor."""
        cursor = params.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise InvalidParams("Invalid params: cursor must be a string from an earlier tools/list")
        key = (self.catalog.version, ctx.modern, cursor)
        page = self._pages.get(key)
        if page is None:
            try:
                result = self.catalog.page(cursor)
            except InvalidCursor as exc:
                raise InvalidParams(f"Invalid params: {exc}") from None
            if len(self._pages) >= PAGE_CACHE or any(k[0] != key[0] for k in self._pages):
                self._pages.clear()  # a list change, or more cursors than pages: start again
            page = self._pages[key] = Encoded(codec.dumps(self.replies.stamp(ctx, result)))
        return page

    # --- tools/call -----------------------------------------------------------------------------
    def call(self, ctx: RequestContext, params: dict[str, Any]) -> Any:
        plan = self.plan(ctx, params)
        if isinstance(plan, dict):
            return plan  # refused with an isError result, at once
        return self.launch(ctx, plan)

    def plan(self, ctx: RequestContext, params: dict[str, Any]) -> Plan | dict[str, Any]:
        """Check a call without I/O: a Plan, an isError result, or a ProtocolError raised."""
        name = params.get("name")
        if not isinstance(name, str):
            raise InvalidParams("Invalid params: name must be a string")
        spec = self.catalog.lookup(name)
        if spec is None:
            raise InvalidParams(f"Unknown tool: {name[:128]}", {"name": name[:128]})
        task = None if ctx.modern else params.get("task")  # a modern client's task hint is tolerated
        if task is not None:
            if not isinstance(task, dict):
                raise InvalidParams("Invalid params: task must be an object")
            ttl = task.get("ttl")
            if isinstance(ttl, float) and not math.isfinite(ttl):
                raise InvalidParams(
                    "Invalid params: task.ttl must be a finite number (JSON has no NaN or Infinity)"
                )
        arguments = params.get("arguments")
        arguments = {} if arguments is None else arguments
        problems = (
            ["arguments must be an object"]
            if not isinstance(arguments, dict)
            else self.catalog.argument_errors(spec.name, arguments)
        )
        if problems:
            message = f"Invalid arguments for {spec.name}: " + "; ".join(problems)
            if task is not None:
                raise InvalidParams(message)  # a task request expects a task back, not a result
            return error_result(message, ctx.correlation_id)
        assert isinstance(arguments, dict)
        if not ctx.modern:
            if task is not None and spec.task_support == "forbidden":
                raise MethodNotFound(f"Method not found: tool {spec.name} does not run as a task")
            if task is None and spec.task_support == "required":
                raise MethodNotFound(
                    f"Method not found: tool {spec.name} runs only as a task (send params.task)"
                )
        responses = input_responses(params)
        call_id, round_, continuation = None, 0, None
        if ctx.modern and params.get("requestState") is not None:
            state = self.states.open(
                params["requestState"],
                identity=ctx.identity,
                method="tools/call",
                name=spec.name,
                arguments=arguments,
            )
            call_id, round_, continuation = state.get("c"), state["r"] + 1, state.get("k")
        needed = spec.client_capabilities
        lacking: dict[str, Any] = {cap: {} for cap in needed if not declares(ctx.capabilities, cap)}
        if lacking:
            raise MissingCapability(
                f"tool {spec.name!r} needs the client capability {', '.join(sorted(lacking))}, which this "
                "request did not declare",
                lacking,
            )
        if round_ > self.settings.exai_input_max_rounds:
            return error_result(
                f"{spec.name} asked for input more than {self.settings.exai_input_max_rounds} times "
                "(EXAI_INPUT_MAX_ROUNDS); call it again from the start",
                ctx.correlation_id,
            )
        mode = "legacy-task" if task is not None else self._mode(ctx, spec, arguments, round_)
        ttl_ms = self.ttl_ms(task.get("ttl") if task is not None else None)
        return Plan(
            spec,
            arguments,
            mode,
            ttl_ms,
            call_id if isinstance(call_id, str) else None,
            round_,
            continuation,
            responses,
        )

    def _mode(self, ctx: RequestContext, spec: ToolSpec, arguments: dict[str, Any], round_: int) -> Mode:
        if not ctx.modern:
            return "plain"
        extension = declares_extension(ctx.capabilities, TASKS_EXTENSION)
        if spec.task_support == "required" and not extension:
            raise MissingCapability(
                f"tool {spec.name!r} runs only as a task: declare the {TASKS_EXTENSION} extension in "
                "io.modelcontextprotocol/clientCapabilities",
                {"extensions": {TASKS_EXTENSION: {}}},
            )
        if not extension or spec.task_support == "forbidden" or (spec.input_before_task and round_ == 0):
            return "plain"
        long = spec.expected_duration(arguments) >= self.settings.exai_task_threshold_s
        return "task" if spec.task_support == "required" or ctx.prefer_task or long else "plain"

    def ttl_ms(self, requested: Any) -> int:
        """The ttl granted (ms): what was asked for, capped by how long outcomes are kept."""
        ceiling = self.settings.exai_result_ttl_s * 1000
        if isinstance(requested, int) and not isinstance(requested, bool) and requested > 0:
            return min(requested, ceiling)
        return ceiling

    def launch(self, ctx: RequestContext, plan: Plan) -> Any:
        """Admit, build the job, register the route and queue it: the request is answered later."""
        try:
            outstanding = self.limits.admit(ctx.identity, len(ctx.channel.pending))
        except LimitExceeded as exc:
            log.warning("refused tools/call of %s: %s", ctx.identity, exc.limit)
            raise LimitReached(exc.message, exc.retry_after_s, exc.limit) from None
        try:
            slot = self.limits.acquire(ctx.identity)
        except LimitExceeded as exc:
            outstanding.release()
            log.warning("refused a call of %s: %s", ctx.identity, exc.limit)
            if plan.mode == "plain":
                return error_result(exc.message, ctx.correlation_id, **{META_RETRY_AFTER: exc.retry_after_s})
            raise LimitReached(exc.message, exc.retry_after_s, exc.limit) from None
        may_ask = any(declares(ctx.capabilities, cap) for cap in MAY_ASK)
        job = self.calls.new_job(
            plan.spec.name,
            plan.arguments,
            client=ctx.identity,
            correlation_id=ctx.correlation_id,
            capabilities=ctx.capabilities if may_ask or plan.spec.client_capabilities else {},
            progress=ctx.progress_token is not None,
            log=ctx.current_log_level() is not None,
            call_id=plan.call_id,
            round=plan.round,
            input_responses=plan.responses,
            continuation=plan.continuation,
        )
        era = "modern" if ctx.modern else "legacy"
        record = self.record(job, ctx.identity, plan.ttl_ms, era, keep_arguments=may_ask)
        route: CallRoute | None = None
        if plan.mode == "plain":
            route = CallRoute(ctx, job, self.replies, self.inflight, self.calls.cancel, self.next_round)
            ctx.wait(route, outstanding)
        else:
            ctx.wait(_Creating(ctx), outstanding)
        self.start(
            job, record, slot, route, ctx.trace, lambda failure: self._queued(ctx, plan, job, record, failure)
        )
        return DEFERRED

    def record(self, job: Job, owner: str, ttl_ms: int, era: str, *, keep_arguments: bool) -> TaskRecord:
        return TaskRecord(
            task_id=job.call_id,
            owner=owner,
            tool=job.tool,
            correlation_id=job.correlation_id,
            created_at=job.created_at,
            ttl_ms=ttl_ms,
            deadline=job.deadline,
            era=era,
            round=job.round,
            last_updated=self.wall(),
            arguments=job.arguments if keep_arguments else None,
            capabilities=dict(job.client_capabilities) if keep_arguments else {},
            log=job.log,
        )

    def start(
        self,
        job: Job,
        record: TaskRecord,
        slot: Slot,
        route: Route | None,
        trace: dict[str, str] | None,
        queued: Callable[[BaseException | None], None],
    ) -> Call:
        """Register ``job`` as in flight (with ``route`` waiting on it) and queue it: its record,
        then its message, on the enqueue pool; ``queued`` hears how that went."""
        span = tracing.start(
            "tools/call", parent=trace, tool=job.tool, correlation_id=job.correlation_id, call_id=job.call_id
        )
        with tracing.current(span):  # the task headers carry the span, so the worker joins the trace
            headers = {"exai_correlation_id": job.correlation_id, **tracing.inject()}
        call = self.inflight.start(job, slot, self._ended(span))
        if route is not None:
            call.routes.append(route)
        if route is not None:
            with correlated(job.correlation_id):
                log.info("tools/call %s as %s (round %d)", job.tool, job.call_id, job.round)
        self.calls.submit(job, record, headers, queued)
        return call

    def unqueued(self, job: Job, failure: BaseException) -> Outcome:
        """The outcome of a call that could not be queued: a tool error saying the queue is down
        (retry later), or an internal error (logged) for anything unexpected."""
        if isinstance(failure, QueueUnavailable):
            log.warning("could not queue %s: %s", job.call_id, failure)
            self.telemetry.error("queue_unavailable")
            return Outcome(
                call_id=job.call_id, text=QUEUE_UNAVAILABLE, is_error=True, error_code="QUEUE_UNAVAILABLE"
            )
        log.error("queueing %s failed unexpectedly", job.call_id, exc_info=failure)
        message = f"Internal error while queueing {job.tool}; the gateway's log has details"
        error = {"code": -32603, "message": message}
        return Outcome(
            call_id=job.call_id,
            text=message,
            is_error=True,
            error_code="INTERNAL",
            kind="protocol_error",
            error=error,
        )

    def _queued(
        self, ctx: RequestContext, plan: Plan, job: Job, record: TaskRecord, failure: BaseException | None
    ) -> None:
        if failure is not None:
            outcome = self.unqueued(job, failure)
            self.inflight.complete(job.call_id, outcome)  # a plain call's route answers it
            if plan.mode != "plain":
                self.replies.error(ctx, Internal(outcome.text))  # no task exists to name
            return
        if plan.mode == "plain":
            return
        watch: TaskWatch | None = None
        if plan.mode == "task":
            self.replies.result(ctx, created_task(TaskState(record), self.poll_interval_ms))
            if ctx.prefer_task and ctx.channel.sink is not None:  # the stdio bridge, on its socket
                watch = CreatorWatch(ctx, record, self.inflight, self.poll_interval_ms)
        else:
            self.replies.result(ctx, {"task": legacy_task(TaskState(record), self.poll_interval_ms)})
            watch = TaskWatch(ctx, record, self.inflight, self.poll_interval_ms)
        if watch is not None and not ctx.channel.closed:
            self.inflight.attach(job.call_id, watch)
            ctx.channel.closers.add(watch.close)
        with correlated(job.correlation_id):  # logged once the task exists and its answer is out
            log.info("tools/call %s as task %s (round %d)", job.tool, job.call_id, job.round)

    def _ended(self, span: tracing.OpenSpan | None) -> Callable[[Call, Outcome], None]:
        def ended(call: Call, outcome: Outcome) -> None:
            if span is not None:
                span.end()
            if outcome.kind == "input_required":
                return  # a round ended, not the call
            status, error = call_status(outcome)
            job = call.job
            self.telemetry.call(
                tool=job.tool,
                status=status,
                error=error,
                duration=self.clock() - call.started,
                correlation_id=job.correlation_id,
                call_id=job.call_id,
            )

        return ended


class _Creating:
    """A task-creating tools/call waiting for its record and job to be queued."""

    __slots__ = ("ctx",)

    def __init__(self, ctx: RequestContext) -> None:
        self.ctx = ctx

    def cancel(self) -> None:
        self.ctx.drop()  # the task is created anyway; its answer is not sent

    abandon = cancel
