"""Task records in Redis, for both task APIs: what every call leaves behind for its ttl.

A record (``contracts.names.task_key``) is written, with the caller's index entry, by the enqueue
thread right before the call's job is sent (:func:`write_record`), so a task exists before any
answer names it. Its status is never stored: it is read from the call's outcomes — the terminal
one under ``result_key``, the current input round's under ``input_key(call_id, round)`` — and,
for a round asking the client, from the answers given so far (``task_answers_key``). The last
answer of a round wins the round's marker (``task_round_key``, SET NX): exactly one gateway sends
the next round, however many ``tasks/update`` requests race.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio as aioredis

from contracts.job import Outcome
from contracts.names import (
    DONE_CHANNEL,
    input_key,
    result_key,
    task_answers_key,
    task_index_key,
    task_key,
    task_round_key,
)
from gateway.core.task_views import TaskRecord, TaskState


def write_record(pipe: redis.client.Pipeline, record: TaskRecord, index_ttl_s: int, now: float) -> None:
    """Queue the writes of ``record`` on a (synchronous) pipeline: the record for its ttl, and the
    owner's index, trimmed of ids whose ttl surely ran out."""
    index = task_index_key(record.owner)
    pipe.set(task_key(record.task_id), record.dump(), px=record.ttl_ms)
    pipe.zadd(index, {record.task_id: record.created_at})
    pipe.zremrangebyscore(index, "-inf", now - index_ttl_s)
    pipe.expire(index, index_ttl_s)


def discard_record(pipe: redis.client.Pipeline, record: TaskRecord) -> None:
    """Queue the removal of the record of a call that could not be queued."""
    pipe.delete(task_key(record.task_id))
    pipe.zrem(task_index_key(record.owner), record.task_id)


def _outcome(raw: Any) -> Outcome | None:
    return None if raw is None else Outcome.model_validate_json(raw)


class RedisTaskStore:
    """The core's TaskStore port on the gateway's Redis."""

    def __init__(
        self, client: aioredis.Redis, result_ttl_s: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.redis = client
        self.result_ttl_s = result_ttl_s
        self.clock = clock

    async def state(self, task_id: str) -> TaskState | None:
        raw = await self.redis.get(task_key(task_id))
        if raw is None:
            return None
        return (await self._states([TaskRecord.load(raw)]))[0]

    async def _states(self, records: list[TaskRecord]) -> list[TaskState]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for record in records:
                pipe.get(result_key(record.task_id))
                pipe.get(input_key(record.task_id, record.round))
                pipe.hkeys(task_answers_key(record.task_id, record.round))
            values = await pipe.execute()
        states = []
        for n, record in enumerate(records):
            outcome, interim, answered = values[3 * n : 3 * n + 3]
            keys = frozenset(k.decode() if isinstance(k, bytes) else str(k) for k in answered or ())
            states.append(TaskState(record, _outcome(outcome), _outcome(interim), keys))
        return states

    async def page(self, owner: str, offset: int, size: int) -> tuple[list[TaskState], bool]:
        ids = [
            i.decode() if isinstance(i, bytes) else str(i)
            for i in await self.redis.zrevrange(task_index_key(owner), offset, offset + size)
        ]
        page, more = ids[:size], len(ids) > size
        if not page:
            return [], more
        raws = await self.redis.mget([task_key(i) for i in page])
        records = [TaskRecord.load(raw) for raw in raws if raw is not None]  # ttl ran out: skipped
        return await self._states(records), more

    async def answer(self, state: TaskState, responses: dict[str, Any]) -> dict[str, Any] | None:
        record = state.record
        pending = (state.interim.input_requests or {}) if state.interim is not None else {}
        given = {key: json.dumps(value) for key, value in responses.items() if key in pending}
        answers_key = task_answers_key(record.task_id, record.round)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, value in given.items():
                pipe.hset(answers_key, key, value)
            if given:
                pipe.expire(answers_key, self.result_ttl_s)
            pipe.hgetall(answers_key)
            kept = (await pipe.execute())[-1]
        answers = {
            (k.decode() if isinstance(k, bytes) else str(k)): json.loads(v) for k, v in (kept or {}).items()
        }
        if not pending or not all(key in answers for key in pending):
            return None
        following = task_round_key(record.task_id, record.round + 1)
        if not await self.redis.set(following, "1", nx=True, ex=self.result_ttl_s):
            return None  # another update completed the round first and sent it
        return answers

    async def expire(self, record: TaskRecord, outcome: Outcome) -> Outcome:
        key = result_key(record.task_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(key, outcome.model_dump_json(), nx=True, ex=self.result_ttl_s)
            pipe.get(key)
            pipe.publish(DONE_CHANNEL, record.task_id)  # waiters elsewhere hear it at once
            stored = (await pipe.execute())[1]
        return _outcome(stored) or outcome
