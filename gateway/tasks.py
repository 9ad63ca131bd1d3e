"""Durable calls: MCP tasks (2025-11-25) on top of the call ids the queue already uses.

A task is a call: its ``taskId`` is the call id (an unguessable uuid4 hex, also the Celery task
id). A small record in Redis (owner, tool, creation time, ttl, deadline) makes it listable and
bound to the client identity that created it; its status is read from the stored outcome, so it is
the same on every gateway and survives a gateway restart. Every ``tools/call`` is recorded, so a
plain call whose client went away can still be fetched with ``tasks/result`` for the ttl.

Nothing here knows about WebSockets: a session of any transport calls :class:`TaskService`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from contracts.job import Job, Outcome
from contracts.names import result_key, task_index_key, task_key
from contracts.settings import Settings
from gateway.calls import CallBroker, PendingCall, ProgressCallback
from gateway.limits import Slot

log = logging.getLogger(__name__)

WORKING = "working"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED})
RELATED_TASK = "io.modelcontextprotocol/related-task"
META_CORRELATION = "io.exai/correlation_id"
META_CALL = "io.exai/call_id"


class TaskError(ValueError):
    """Raised when a tasks/* request names no task of the caller's, or one in the wrong state."""


@dataclass(frozen=True)
class TaskRecord:
    task_id: str
    owner: str
    tool: str
    correlation_id: str
    created_at: float
    ttl_ms: int
    deadline: float

    def dump(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def load(cls, raw: bytes | str) -> TaskRecord:
        return cls(**json.loads(raw))


def status_of(outcome: Outcome | None) -> str:
    if outcome is None:
        return WORKING
    if outcome.error_code == "CANCELLED":
        return CANCELLED
    return FAILED if outcome.is_error else COMPLETED


def call_result(outcome: Outcome, correlation_id: str) -> dict[str, Any]:
    """What a plain ``tools/call`` answers for this outcome."""
    result: dict[str, Any] = {
        "content": [{"type": "text", "text": outcome.text}],
        "isError": outcome.is_error,
        "_meta": {META_CORRELATION: correlation_id, META_CALL: outcome.call_id},
    }
    if outcome.structured is not None:
        result["structuredContent"] = outcome.structured
    return result


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")


class TaskService:
    def __init__(self, broker: CallBroker) -> None:
        self.broker = broker

    @property
    def redis(self) -> aioredis.Redis:
        return self.broker.redis

    @property
    def settings(self) -> Settings:
        return self.broker.settings

    # --- records ----------------------------------------------------------------------------
    def ttl_ms(self, requested: Any) -> int:
        """The ttl granted: what was asked for (ms), capped by how long outcomes are kept."""
        ceiling = self.settings.exai_result_ttl_s * 1000
        if isinstance(requested, int) and not isinstance(requested, bool) and requested > 0:
            return min(requested, ceiling)
        return ceiling

    async def record(self, job: Job, owner: str, ttl_ms: int) -> TaskRecord:
        record = TaskRecord(
            task_id=job.call_id,
            owner=owner,
            tool=job.tool,
            correlation_id=job.correlation_id,
            created_at=job.created_at,
            ttl_ms=ttl_ms,
            deadline=job.deadline,
        )
        index = task_index_key(owner)
        oldest = time.time() - self.settings.exai_result_ttl_s
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(task_key(job.call_id), record.dump(), px=ttl_ms)
            pipe.zadd(index, {job.call_id: record.created_at})
            pipe.zremrangebyscore(index, "-inf", oldest)  # ids whose ttl surely ran out
            pipe.expire(index, self.settings.exai_result_ttl_s)
            await pipe.execute()
        return record

    async def start(
        self, job: Job, owner: str, ttl_ms: int, on_progress: ProgressCallback | None, slot: Slot
    ) -> tuple[TaskRecord, PendingCall]:
        """Record the call as a task and queue it: both or neither. Run it with
        :func:`~gateway.calls.begin`, so a client that drops half-way cannot leave a task
        ``working`` with no call behind it.

        ``slot`` is held until the call ends (see :meth:`CallBroker.submit`) and released at once
        if either step fails.
        """
        try:
            record = await self.record(job, owner, ttl_ms)
        except BaseException:
            slot.release()
            raise
        try:
            pending = await self.broker.submit(job, on_progress, slot)
        except BaseException:
            await self._discard(record)
            raise
        return record, pending

    async def _discard(self, record: TaskRecord) -> None:
        """Remove the record of a call that could not be queued (best effort: Redis may be down, and
        then a tasks/result past the call's deadline still ends it with a timeout)."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.delete(task_key(record.task_id))
                pipe.zrem(task_index_key(record.owner), record.task_id)
                await pipe.execute()
        except Exception as exc:
            log.warning("could not remove the task record of unqueued call %s: %s", record.task_id, exc)

    async def _own(self, task_id: Any, owner: str) -> TaskRecord:
        if not isinstance(task_id, str) or not task_id:
            raise TaskError("taskId must be a non-empty string")
        raw = await self.redis.get(task_key(task_id[:128]))
        record = None if raw is None else TaskRecord.load(raw)
        if record is None or record.owner != owner:
            # Someone else's task is reported exactly like a task that does not exist.
            raise TaskError(f"unknown task {task_id[:64]!r} (never created, expired, or not yours)")
        return record

    async def _outcome(self, call_id: str) -> Outcome | None:
        raw = await self.redis.get(result_key(call_id))
        return None if raw is None else Outcome.model_validate_json(raw)

    def view(self, record: TaskRecord, outcome: Outcome | None) -> dict[str, Any]:
        """The MCP ``Task`` object."""
        status = status_of(outcome)
        task: dict[str, Any] = {
            "taskId": record.task_id,
            "status": status,
            "createdAt": _iso(record.created_at),
            "lastUpdatedAt": _iso(outcome.finished_at if outcome else record.created_at),
            "ttl": record.ttl_ms,
            "pollInterval": int(self.settings.exai_task_poll_interval_s * 1000),
        }
        if outcome is None:
            task["statusMessage"] = f"{record.tool}: waiting for a worker or running"
        elif status != COMPLETED:
            task["statusMessage"] = outcome.text[:500]
        return task

    # --- the tasks/* methods ----------------------------------------------------------------
    async def get(self, task_id: Any, owner: str) -> dict[str, Any]:
        record = await self._own(task_id, owner)
        return self.view(record, await self._outcome(record.task_id))

    async def result(self, task_id: Any, owner: str) -> dict[str, Any]:
        """Wait until the task is terminal, then answer what its ``tools/call`` would have."""
        record = await self._own(task_id, owner)
        grace = 2 * self.settings.exai_result_sweep_s + 5.0
        try:
            outcome = await asyncio.wait_for(
                self.broker.outcome(record.task_id), timeout=max(record.deadline + grace - time.time(), 0.1)
            )
        except TimeoutError:
            outcome = await self._expire(record)
        result = call_result(outcome, record.correlation_id)
        result["_meta"][RELATED_TASK] = {"taskId": record.task_id}
        return result

    async def _expire(self, record: TaskRecord) -> Outcome:
        # Past its deadline with no outcome (its job was lost, or every worker is down): record a
        # timeout, first outcome wins as everywhere, so the task ends and its waiters are answered.
        timeout = Outcome(
            call_id=record.task_id,
            text=(
                f"no result within the call's {self.settings.exai_call_timeout_s:.0f} s deadline "
                "(EXAI_CALL_TIMEOUT_S); the workers may be down or saturated"
            ),
            is_error=True,
            error_code="TIMEOUT",
        )
        await self.redis.set(
            result_key(record.task_id), timeout.model_dump_json(), nx=True, ex=self.settings.exai_result_ttl_s
        )
        return await self._outcome(record.task_id) or timeout

    async def list(self, owner: str, cursor: Any) -> dict[str, Any]:
        offset = 0 if cursor is None else _decode_cursor(cursor)
        size = self.settings.exai_tasks_page_size
        ids = [
            i.decode() if isinstance(i, bytes) else str(i)
            for i in await self.redis.zrevrange(task_index_key(owner), offset, offset + size)
        ]
        page, more = ids[:size], len(ids) > size
        tasks: list[dict[str, Any]] = []
        if page:
            records = await self.redis.mget([task_key(i) for i in page])
            outcomes = await self.redis.mget([result_key(i) for i in page])
            for raw, raw_outcome in zip(records, outcomes, strict=True):
                if raw is None:
                    continue  # its ttl ran out
                outcome = None if raw_outcome is None else Outcome.model_validate_json(raw_outcome)
                tasks.append(self.view(TaskRecord.load(raw), outcome))
        answer: dict[str, Any] = {"tasks": tasks}
        if more:
            answer["nextCursor"] = base64.urlsafe_b64encode(f"tasks:{offset + size}".encode()).decode()
        return answer

    async def cancel(self, task_id: Any, owner: str) -> dict[str, Any]:
        record = await self._own(task_id, owner)
        outcome = await self._outcome(record.task_id)
        if outcome is not None:
            raise TaskError(f"task {record.task_id} is already {status_of(outcome)}; it cannot be cancelled")
        await self.broker.cancel(record.task_id)
        return self.view(record, await self._outcome(record.task_id))


def _decode_cursor(cursor: Any) -> int:
    if not isinstance(cursor, str):
        raise TaskError("cursor must be a string")
    try:
        prefix, _, number = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise TaskError(f"invalid cursor {cursor[:64]!r}") from None
    if prefix != "tasks" or not number.isdigit() or len(number) > 9:
        raise TaskError(f"invalid cursor {cursor[:64]!r}")
    return int(number)
