"""What the protocol core needs of the world, as small interfaces (the I/O lives behind them).

The gateway wires Redis- and Celery-backed implementations (``gateway.calls``, ``gateway.task_store``);
the core's unit tests wire in-memory ones (``tests/gateway/core/memory.py``). Nothing here imports
a socket, Redis or Celery module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from contracts.job import Job, Outcome
from gateway.core.task_views import TaskRecord, TaskState


class QueueUnavailable(Exception):
    """Raised (to ``Calls.submit``'s callback) when Redis or the queue could not take a call."""


class Calls(Protocol):
    """Jobs in and out of the queue (``gateway.calls.enqueue.Enqueuer``)."""

    def new_job(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        client: str,
        correlation_id: str | None,
        capabilities: Mapping[str, Any],
        progress: bool,
        log: bool,
        call_id: str | None = None,
        round: int = 0,
        input_responses: dict[str, Any] | None = None,
        continuation: dict[str, Any] | None = None,
    ) -> Job: ...

    def submit(
        self,
        job: Job,
        record: TaskRecord,
        headers: dict[str, str],
        done: Callable[[BaseException | None], None],
    ) -> None:
        """Write the call's task record, then send its job, off the event loop; ``done`` runs on
        the loop afterwards with the failure (:class:`QueueUnavailable` when Redis or the queue
        could not take it), or None once the job is on the queue."""

    def cancel(self, call_id: str) -> Awaitable[Outcome | None]:
        """Stop a call, already under way when this returns (awaiting is optional): a CANCELLED
        outcome unless it has one (first wins), the workers told; the outcome now stored."""


class TaskStore(Protocol):
    """Task records and the outcomes they are read with (``gateway.task_store.RedisTaskStore``)."""

    async def state(self, task_id: str) -> TaskState | None:
        """The record of ``task_id`` with its outcome, interim round and answers, if it exists."""

    async def page(self, owner: str, offset: int, size: int) -> tuple[list[TaskState], bool]:
        """A page of ``owner``'s tasks, newest first, and whether more follow."""

    async def answer(self, state: TaskState, responses: dict[str, Any]) -> dict[str, Any] | None:
        """Keep answers to the task's pending input requests; every answer of the round when
        this call completed it (exactly one caller gets them), else None."""

    async def expire(self, record: TaskRecord, outcome: Outcome) -> Outcome:
        """Store ``outcome`` (a timeout) unless the call has one; the one that is stored."""


class Telemetry(Protocol):
    """Metering of requests and calls (``gateway.telemetry.GatewayTelemetry``)."""

    def request(self, method: str, status: str, duration: float) -> None: ...

    def call(
        self,
        *,
        tool: str,
        status: str,
        error: str | None,
        duration: float,
        correlation_id: str,
        call_id: str,
    ) -> None: ...

    def error(self, error_type: str) -> None: ...


class NullTelemetry:
    """Stands in where nothing is metered (unit tests)."""

    def request(self, method: str, status: str, duration: float) -> None: ...

    def call(self, **_: Any) -> None: ...

    def error(self, error_type: str) -> None: ...
