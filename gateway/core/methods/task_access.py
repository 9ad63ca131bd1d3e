"""Reading a caller's task, for both task APIs: ownership, id checks, and the deadline backstop.

Someone else's task is reported exactly like one that does not exist (``-32602``), so task ids
tell nothing across identities. A task whose call is past its deadline with no outcome (its job
was lost, or every worker is down) is ended with a ``TIMEOUT`` outcome here — first outcome wins,
as everywhere — unless it is waiting for the client's input, which is not the workers' time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from contracts.job import Outcome
from gateway.core.errors import InvalidParams
from gateway.core.ports import TaskStore
from gateway.core.task_views import TaskState

TASK_ID_MAX = 128


class TaskAccess:
    def __init__(
        self,
        store: TaskStore,
        call_timeout_s: float,
        grace_s: float,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.call_timeout_s = call_timeout_s
        self.grace_s = grace_s
        self.wall = wall

    async def owned(self, task_id: Any, owner: str) -> TaskState:
        """The state of ``owner``'s task ``task_id``, past its deadline ended; InvalidParams else."""
        if not isinstance(task_id, str) or not task_id:
            raise InvalidParams("Invalid params: taskId must be a non-empty string")
        state = await self.store.state(task_id[:TASK_ID_MAX]) if len(task_id) <= TASK_ID_MAX else None
        if state is None or state.record.owner != owner:
            raise InvalidParams(
                f"Invalid params: unknown task {task_id[:64]!r} (never created, expired, or not yours)"
            )
        return await self.expired(state)

    async def expired(self, state: TaskState) -> TaskState:
        """``state``, with a TIMEOUT outcome stored if its call is overdue and nobody owes it input."""
        if state.outcome is not None or state.pending_requests:
            return state
        if self.wall() <= state.record.deadline + self.grace_s:
            return state
        timeout = Outcome(
            call_id=state.record.task_id,
            text=(
                f"no result within the call's {self.call_timeout_s:.0f} s deadline (EXAI_CALL_TIMEOUT_S); "
                "the workers may be down or saturated"
            ),
            is_error=True,
            error_code="TIMEOUT",
        )
        stored = await self.store.expire(state.record, timeout)
        return TaskState(state.record, outcome=stored)
