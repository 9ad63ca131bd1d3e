"""The 2025-11-25 task API of legacy sessions: ``tasks/get``, ``/result``, ``/list``, ``/cancel``.

``tasks/result`` blocks until the task ends and answers exactly what its ``tools/call`` would have
(with ``_meta["io.modelcontextprotocol/related-task"]``), or the JSON-RPC error of a protocol
failure. It blocks without a coroutine: a :class:`ResultWait` route waits on the call id (on the
call, when this gateway sent it; else on the done channel). A task waiting for the client's input
asks for it on the ``tasks/result`` stream (server→client requests carrying ``related-task``), and
the answers start its next round.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from typing import Any

from contracts.job import Outcome
from gateway.core import server_requests
from gateway.core.codec import RELATED_TASK
from gateway.core.dispatch import DEFERRED, Method, Replies
from gateway.core.errors import InvalidParams, ProtocolError
from gateway.core.inflight import InFlight, Route
from gateway.core.methods.rounds import Rounds
from gateway.core.methods.task_access import TaskAccess
from gateway.core.outcomes import call_result, protocol_error
from gateway.core.peer import RequestContext
from gateway.core.ports import Calls
from gateway.core.task_views import TaskState, legacy_task
from gateway.limits import ClientLimits

log = logging.getLogger(__name__)
_resuming: set[asyncio.Future[None]] = set()


class LegacyTasks:
    def __init__(
        self,
        access: TaskAccess,
        calls: Calls,
        inflight: InFlight,
        limits: ClientLimits,
        replies: Replies,
        rounds: Rounds,
        page_size: int,
        poll_interval_ms: int,
    ) -> None:
        self.access = access
        self.calls = calls
        self.inflight = inflight
        self.limits = limits
        self.replies = replies
        self.rounds = rounds
        self.page_size = page_size
        self.poll_interval_ms = poll_interval_ms

    def handlers(self) -> dict[str, Method]:
        return {
            "tasks/get": Method(self.get, modern=False),
            "tasks/result": Method(self.result, modern=False),
            "tasks/list": Method(self.list, modern=False),
            "tasks/cancel": Method(self.cancel, modern=False),
        }

    async def get(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        state = await self.access.owned(params.get("taskId"), ctx.identity)
        return legacy_task(state, self.poll_interval_ms)

    async def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        offset = 0 if params.get("cursor") is None else _decode_cursor(params.get("cursor"))
        states, more = await self.access.store.page(ctx.identity, offset, self.page_size)
        answer: dict[str, Any] = {"tasks": [legacy_task(state, self.poll_interval_ms) for state in states]}
        if more:
            answer["nextCursor"] = base64.urlsafe_b64encode(
                f"tasks:{offset + self.page_size}".encode()
            ).decode()
        return answer

    async def cancel(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        state = await self.access.owned(params.get("taskId"), ctx.identity)
        if state.outcome is not None:
            status = state.status(modern=False)
            raise InvalidParams(
                f"Invalid params: task {state.record.task_id} is already {status}; it cannot be cancelled"
            )
        stored = await self.calls.cancel(state.record.task_id)
        return legacy_task(TaskState(state.record, outcome=stored), self.poll_interval_ms)

    async def result(self, ctx: RequestContext, params: dict[str, Any]) -> Any:
        """Wait until the task is terminal (admitted against the caps like any wait), then answer."""
        state = await self.access.owned(params.get("taskId"), ctx.identity)
        if state.outcome is not None:
            return self._answer(state, state.outcome)
        wait = ResultWait(ctx, state, self)
        ctx.wait(wait)  # keeps the place among the outstanding requests the dispatcher gave it
        self.inflight.attach(state.record.task_id, wait)
        # Read again now that the wait listens: an outcome that came in between is not missed.
        again = await self.access.owned(state.record.task_id, ctx.identity)
        if again.outcome is not None:
            self.inflight.detach(state.record.task_id, wait)
            wait.attached = True
            wait.outcome(state.record.task_id, again.outcome)
        elif again.pending_requests:
            wait.ask(again)
        return DEFERRED

    def _answer(self, state: TaskState, outcome: Outcome) -> dict[str, Any]:
        """What the task's tools/call would have answered, with the related-task key."""
        if outcome.kind == "protocol_error":
            raise protocol_error(outcome)
        result = call_result(outcome, state.record.correlation_id)
        result["_meta"][RELATED_TASK] = {"taskId": state.record.task_id}
        return result


class ResultWait(Route):
    """A 2025 ``tasks/result`` waiting for its task to end (or to ask the client something)."""

    __slots__ = ("asking", "ctx", "deadline", "state", "tasks")

    def __init__(self, ctx: RequestContext, state: TaskState, tasks: LegacyTasks) -> None:
        super().__init__()
        self.ctx = ctx
        self.state = state
        self.tasks = tasks
        self.deadline = state.record.deadline  # the sweep ends a watch whose call never ends
        self.asking: server_requests.Batch | None = None

    def outcome(self, call_id: str, outcome: Outcome) -> None:
        if outcome.kind == "input_required":
            self.tasks.inflight.attach(call_id, self)  # still waiting: the next round's outcome
            self.ask(TaskState(self.state.record, interim=outcome))
            return
        try:
            answer = self.tasks._answer(self.state, outcome)
        except ProtocolError as exc:
            self.tasks.replies.error(self.ctx, exc)
            return
        self.tasks.replies.result(self.ctx, answer)

    def ask(self, state: TaskState) -> None:
        """Ask the client for the task's pending input on this stream; the answers go on."""
        if self.asking is not None or self.ctx.closed:
            return
        self.state = state
        requests = state.pending_requests
        self.asking = server_requests.ask(
            self.ctx.channel, self.ctx.sink, requests, self._answered, related_task=state.record.task_id
        )

    def _answered(self, answers: dict[str, Any]) -> None:
        self.asking = None
        resuming = asyncio.ensure_future(self._resume(answers))
        _resuming.add(resuming)  # kept until done: a task nobody references may be collected
        resuming.add_done_callback(_resuming.discard)

    async def _resume(self, answers: dict[str, Any]) -> None:
        try:
            slot = self.tasks.rounds.reserve(self.ctx.identity)
        except Exception as exc:
            log.warning("task %s cannot go on now: %s", self.state.record.task_id, exc)
            return
        try:
            complete = await self.tasks.access.store.answer(self.state, answers)
        except Exception:
            slot.release()
            log.exception("could not keep the answers of task %s", self.state.record.task_id)
            return
        if complete is None:
            slot.release()
            return
        self.tasks.rounds.resume_task(self.state, complete, slot)
        # The new round's call is ours now: wait on it rather than on the done channel.
        self.tasks.inflight.detach(self.state.record.task_id, self)
        self.attached = True
        self.tasks.inflight.attach(self.state.record.task_id, self)

    def cancel(self) -> None:
        """Cancelling a wait never cancels the task."""
        self.abandon()

    def abandon(self) -> None:
        self.tasks.inflight.detach(self.state.record.task_id, self)
        if self.asking is not None:
            server_requests.forget(self.ctx.channel, self.asking)
            self.asking = None
        self.ctx.drop()


def _decode_cursor(cursor: Any) -> int:
    if not isinstance(cursor, str):
        raise InvalidParams("Invalid params: cursor must be a string")
    try:
        prefix, _, number = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidParams(f"Invalid params: invalid cursor {cursor[:64]!r}") from None
    if prefix != "tasks" or not number.isdigit() or len(number) > 9:
        raise InvalidParams(f"Invalid params: invalid cursor {cursor[:64]!r}")
    return int(number)
