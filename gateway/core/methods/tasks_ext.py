"""The ``io.modelcontextprotocol/tasks`` extension: ``tasks/get``, ``tasks/update``, ``tasks/cancel``.

Served only to a request that declares the extension in its client capabilities (else ``-32021``
naming it). ``tasks/get`` inlines the result, the error or the pending ``inputRequests``;
``tasks/update`` keeps answers to pending input requests (a partial set is fine, unknown or already
answered keys are ignored) and, once the round's every request is answered, sends the task's next
round; ``tasks/cancel`` is an empty acknowledgement, idempotent on a terminal task. Acks and views
carry ``resultType: "complete"`` (added by the encoder) and never a ``requestState``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from gateway.core.codec import TASKS_EXTENSION
from gateway.core.dispatch import Method
from gateway.core.eras import declares_extension
from gateway.core.errors import InvalidParams, MissingCapability
from gateway.core.input_state import input_responses
from gateway.core.methods.rounds import Rounds
from gateway.core.methods.task_access import TaskAccess
from gateway.core.peer import RequestContext
from gateway.core.ports import Calls
from gateway.core.task_views import TaskState, detailed_task

# Told when a task moved (its round was answered): the listen streams watching it hear of it.
TaskMoved = Callable[[TaskState], None]


def require_extension(ctx: RequestContext, what: str) -> None:
    if not declares_extension(ctx.capabilities, TASKS_EXTENSION):
        raise MissingCapability(
            f"{what} is part of the {TASKS_EXTENSION} extension: declare it in "
            "io.modelcontextprotocol/clientCapabilities.extensions",
            {"extensions": {TASKS_EXTENSION: {}}},
        )


class ExtensionTasks:
    def __init__(
        self,
        access: TaskAccess,
        calls: Calls,
        rounds: Rounds,
        poll_interval_ms: int,
        moved: TaskMoved | None = None,
    ) -> None:
        self.access = access
        self.calls = calls
        self.rounds = rounds
        self.poll_interval_ms = poll_interval_ms
        self.moved = moved

    def handlers(self) -> dict[str, Method]:
        return {
            "tasks/get": Method(self.get, legacy=False),
            "tasks/update": Method(self.update, legacy=False),
            "tasks/cancel": Method(self.cancel, legacy=False),
        }

    def route(self, legacy: Method, modern: Method) -> Method:
        """One entry for a method both task APIs have, by the request's era."""

        def either(ctx: RequestContext, params: dict[str, Any]) -> Any:
            return (modern if ctx.modern else legacy).handler(ctx, params)

        return Method(either)

    async def get(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        require_extension(ctx, "tasks/get")
        state = await self.access.owned(params.get("taskId"), ctx.identity)
        return detailed_task(state, self.poll_interval_ms)

    async def update(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        require_extension(ctx, "tasks/update")
        responses = input_responses(params)
        if responses is None:
            raise InvalidParams(
                "Invalid params: tasks/update needs inputResponses, the answers by input request key"
            )
        state = await self.access.owned(params.get("taskId"), ctx.identity)
        pending = state.pending_requests
        relevant = {key: value for key, value in responses.items() if key in pending}
        if not relevant:
            return {}  # nothing outstanding matches: ignored, as the extension says
        slot = self.rounds.reserve(ctx.identity)
        try:
            answers = await self.access.store.answer(state, relevant)
        except BaseException:
            slot.release()
            raise
        if answers is None:
            slot.release()  # more answers are awaited (or another update completed the round)
            return {}
        self.rounds.resume_task(state, answers, slot)
        if self.moved is not None:
            self.moved(TaskState(dataclasses.replace(state.record, round=state.record.round + 1)))
        return {}

    async def cancel(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        require_extension(ctx, "tasks/cancel")
        state = await self.access.owned(params.get("taskId"), ctx.identity)
        if state.outcome is None:
            await self.calls.cancel(state.record.task_id)
        return {}
