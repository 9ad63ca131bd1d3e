"""A call that continues in sub-tasks instead of waiting for them in a worker slot.

A consensus call asks several models, each as its own Celery task on the same queue. Waiting for
them in the parent's slot starves the pool: with every slot held by a waiting parent no sub-task
can run (at concurrency 2, three concurrent consensus calls completed none in 30 s). So the
parent sends its sub-tasks and raises :class:`Deferred`; the runner gives the call's claim up and
marks it as waiting in one script, and holds no slot. Each sub-task, once its answer is stored,
adds itself to the call's done set; the one that completes the set while the call is waiting sends
the parent's task again (a continuation), which finds every answer stored and composes the result
like any call. Should the set complete before the parent deferred, the runner sends the
continuation itself. A continuation sent twice is answered once: the second finds the claim of
the first, or its stored outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery

from contracts.job import Job
from contracts.logs import task_summary
from contracts.names import TOOL_QUEUE, claim_key, consult_done_key, consult_waiting_key, task_name

# Give the parent's claim up (if still ours), mark the call as waiting, and say whether every
# sub-task already finished. KEYS: claim, waiting, done set. ARGV: owner, total, ttl.
_DEFER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[2]) then return 1 end
return 0
"""
# A sub-task finished: record it; returns {finished so far, 1 when it completed a waiting call}.
# KEYS: done set, waiting. ARGV: sub id, ttl, total.
_FINISHED = """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
local count = redis.call('SCARD', KEYS[1])
if count >= tonumber(ARGV[3]) and redis.call('EXISTS', KEYS[2]) == 1 then return {count, 1} end
return {count, 0}
"""


@dataclass
class Deferred(Exception):  # a control-flow signal, not an error
    """Raised by a tool whose call goes on in ``total`` sub-tasks; the runner stores no outcome."""

    total: int


def defer(client: redis.Redis, job: Job, owner: str, total: int, ttl: int) -> bool:
    """Give the call's claim up and mark it waiting; True when its sub-tasks are all done already."""
    keys = [claim_key(job.call_id), consult_waiting_key(job.call_id), consult_done_key(job.call_id)]
    return bool(client.eval(_DEFER, len(keys), *keys, owner, total, ttl))


def sub_task_finished(
    client: redis.Redis, parent: str, sub_id: str, total: int, ttl: int
) -> tuple[int, bool]:
    """Record a finished sub-task; (finished so far, whether the parent must be continued now)."""
    keys = [consult_done_key(parent), consult_waiting_key(parent)]
    reply: Any = client.eval(_FINISHED, len(keys), *keys, sub_id, ttl, total)
    count, resume = reply
    return int(count), bool(resume)


def continue_call(app: Celery, job: Job | dict[str, Any]) -> None:
    """Send the parent's task again, under its own call id, to compose its result."""
    payload = job.model_dump(mode="json") if isinstance(job, Job) else job
    app.send_task(
        task_name(payload["tool"]),
        kwargs={"job": payload},
        task_id=payload["call_id"],
        queue=TOOL_QUEUE,
        ignore_result=True,
        kwargsrepr=task_summary(payload["tool"], payload["call_id"], payload.get("correlation_id") or ""),
    )
