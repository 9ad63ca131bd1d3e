"""Input rounds: a call (or a prompt) that stops to ask the client something, and how it goes on.

A tool asks by ending its round with ``NeedInput`` (an ``input_required`` outcome: requests by key,
and a continuation it wants back). What the client sees depends on where the call is:

* a modern plain call is answered ``input_required`` with the requests and a sealed
  ``requestState`` (:mod:`gateway.core.input_state`); the client's retry starts the next round
  with the same call id, from any gateway process;
* a legacy session gets the requests as server→client requests on its connection
  (:mod:`gateway.core.server_requests`); their answers start the next round here, and the client's
  original request finally gets the plain result;
* a task (either API) waits in ``input_required``: ``tasks/update`` (modern) or the answers to the
  requests asked on a ``tasks/result`` stream (legacy) start the next round (:meth:`Rounds.resume_task`).

Each round is a job of its own on the queue (``Job.round``), never a waiting coroutine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from contracts.answers import NeedInput
from contracts.job import Outcome
from gateway.core import server_requests
from gateway.core.dispatch import Replies
from gateway.core.errors import LimitReached
from gateway.core.input_state import RequestStates, input_responses
from gateway.core.methods.prompts import Prompts
from gateway.core.methods.tools import Tools
from gateway.core.outcomes import error_result
from gateway.core.peer import RequestContext
from gateway.core.routes import CallRoute
from gateway.core.task_views import TaskState
from gateway.limits import LimitExceeded

log = logging.getLogger(__name__)


class Rounds:
    def __init__(
        self,
        replies: Replies,
        states: RequestStates,
        max_rounds: int,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.replies = replies
        self.states = states
        self.max_rounds = max_rounds
        self.wall = wall
        self.tools: Tools | None = None  # wired after both exist (they refer to each other)

    def _tools(self) -> Tools:
        assert self.tools is not None, "Rounds.tools is wired by the gateway's core assembly"
        return self.tools

    # --- plain calls --------------------------------------------------------------------------
    def next_round(self, route: CallRoute, interim: Outcome) -> None:
        """A plain call's round asked for input: ask the client, in the way of its era."""
        ctx, job = route.ctx, route.job
        requests = interim.input_requests or {}
        if not requests or job.round + 1 > self.max_rounds:
            why = (
                "asked for nothing" if not requests else f"asked for input more than {self.max_rounds} times"
            )
            self.replies.result(
                ctx, error_result(f"{job.tool} {why} (EXAI_INPUT_MAX_ROUNDS)", job.correlation_id)
            )
            return
        if ctx.modern:
            try:
                state = self.states.seal(
                    identity=ctx.identity,
                    method="tools/call",
                    name=job.tool,
                    arguments=job.arguments,
                    call_id=job.call_id,
                    round=job.round,
                    continuation=interim.continuation,
                )
            except ValueError as exc:
                self.replies.result(ctx, error_result(str(exc), job.correlation_id))
                return
            self.replies.result(
                ctx, {"resultType": "input_required", "inputRequests": requests, "requestState": state}
            )
            return
        route.asking = server_requests.ask(
            ctx.channel, ctx.sink, requests, lambda answers: self._legacy_answers(route, interim, answers)
        )

    def _legacy_answers(self, route: CallRoute, interim: Outcome, answers: dict[str, Any]) -> None:
        route.asking = None
        ctx, previous = route.ctx, route.job
        if ctx.closed:
            return
        tools = self._tools()
        try:
            slot = tools.limits.acquire(ctx.identity)
        except LimitExceeded as exc:
            self.replies.result(ctx, error_result(exc.message, previous.correlation_id))
            return
        job = tools.calls.new_job(
            previous.tool,
            previous.arguments,
            client=previous.client,
            correlation_id=previous.correlation_id,
            capabilities=previous.client_capabilities,
            progress=previous.progress,
            log=previous.log,
            call_id=previous.call_id,
            round=previous.round + 1,
            input_responses=answers,
            continuation=interim.continuation,
        )
        route.job = job
        record = tools.record(job, ctx.identity, tools.ttl_ms(None), "legacy", keep_arguments=True)

        def queued(failure: BaseException | None) -> None:
            if failure is not None:
                tools.inflight.complete(job.call_id, tools.unqueued(job, failure))

        tools.start(job, record, slot, route, ctx.trace, queued)

    # --- tasks --------------------------------------------------------------------------------
    def reserve(self, identity: str) -> Any:
        """The in-flight slot a task's next round will run under (LimitReached when full)."""
        try:
            return self._tools().limits.acquire(identity)
        except LimitExceeded as exc:
            raise LimitReached(exc.message, exc.retry_after_s, exc.limit) from None

    def resume_task(self, state: TaskState, answers: dict[str, Any], slot: Any) -> None:
        """Every answer of a task's round is in: send its next round (same call id)."""
        tools = self._tools()
        record, interim = state.record, state.interim
        job = tools.calls.new_job(
            record.tool,
            record.arguments or {},
            client=record.owner,
            correlation_id=record.correlation_id,
            capabilities=record.capabilities,
            progress=False,  # a task's creator polls; nobody listens to its progress
            log=False,
            call_id=record.task_id,
            round=record.round + 1,
            input_responses=answers,
            continuation=interim.continuation if interim is not None else None,
        )
        following = dataclasses.replace(
            record, round=job.round, deadline=job.deadline, last_updated=self.wall()
        )

        def queued(failure: BaseException | None) -> None:
            if failure is not None:  # its deadline ends it with a timeout; say why now
                log.warning("could not queue round %d of task %s: %s", job.round, job.call_id, failure)
                tools.inflight.forget(job.call_id)

        tools.start(job, following, slot, None, None, queued)

    # --- prompts ------------------------------------------------------------------------------
    async def prompt(self, prompts: Prompts, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """``prompts/get``, which a pack's prompt may answer by asking the client first."""
        name = params.get("name")
        arguments = params.get("arguments") if isinstance(params.get("arguments"), dict) else {}
        assert isinstance(arguments, dict)
        continuation = None
        if ctx.modern and params.get("requestState") is not None:
            state = self.states.open(
                params["requestState"],
                identity=ctx.identity,
                method="prompts/get",
                name=str(name),
                arguments=arguments,
            )
            continuation = state.get("k")
        for _ in range(self.max_rounds + 1):
            input_responses(params)  # a malformed one is -32602 before the prompt sees it
            try:
                return await prompts.get(
                    ctx.identity, params, client_capabilities=ctx.capabilities, continuation=continuation
                )
            except NeedInput as need:
                if ctx.modern:
                    sealed = self.states.seal(
                        identity=ctx.identity,
                        method="prompts/get",
                        name=str(name),
                        arguments=arguments,
                        call_id=None,
                        round=0,
                        continuation=need.continuation,
                    )
                    return {
                        "resultType": "input_required",
                        "inputRequests": need.requests,
                        "requestState": sealed,
                    }
                answers: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
                server_requests.ask(ctx.channel, ctx.sink, need.requests, answers.set_result)
                params = {**params, "inputResponses": await answers}
                continuation = need.continuation
        raise LimitReached(
            f"prompt {name!r} asked for input more than {self.max_rounds} times", 0.0, "input_rounds"
        )
