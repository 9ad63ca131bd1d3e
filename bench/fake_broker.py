"""A call backend without Redis or Celery, for the protocol benchmark only (``bench/protocol_base.py``).

Both halves of that benchmark (this project's protocol layer, and ``mcp`` 2.x in its own virtual
environment) drive the same backend, so they differ only in the protocol layer: a call gets a job
and a future, its task record is "written" through a Redis pipeline that sends nothing, and its
result arrives the way the real reply does — a worker's ``ResultEvent`` (JSON text) is decoded with
``contracts.job.decode_event`` and resolves the future from the event loop, as ``CallBroker``'s
reply listener does. In ``hold`` mode replies wait for :meth:`FakeBroker.release_all`, so a
benchmark can count what a parked call costs.

Imports nothing but the standard library, pydantic and ``contracts.job``, so it runs in both
environments.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contracts.job import Job, Outcome, ResultEvent, decode_event

# What a chat tool answers, in miniature: the text, and the JSON envelope as structuredContent.
ENVELOPE = {
    "status": "success",
    "content": "ok",
    "content_type": "text",
    "metadata": {
        "provider": "kimi",
        "model": "kimi-k2.6",
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    },
}
CALL_TIMEOUT_S = 600.0
RESULT_TTL_S = 3600


def reply_template() -> str:
    """A worker's result message with ``{call_id}`` holes, encoded once (the worker's cost, not ours)."""
    outcome = Outcome(call_id="CALL", text=json.dumps(ENVELOPE), structured=ENVELOPE)
    raw = ResultEvent(call_id="CALL", outcome=outcome).model_dump_json()
    return raw.replace("{", "{{").replace("}", "}}").replace('"CALL"', '"{call_id}"')


@dataclass(slots=True)
class Pending:
    """A call waiting for its reply: what a session reads off ``CallBroker.submit``."""

    job: Job
    future: asyncio.Future[Outcome]


class NullPipeline:
    """Takes the commands of a task record's pipeline and sends none of them."""

    async def __aenter__(self) -> NullPipeline:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def set(self, *_: Any, **__: Any) -> None: ...
    def zadd(self, *_: Any, **__: Any) -> None: ...
    def zremrangebyscore(self, *_: Any, **__: Any) -> None: ...
    def expire(self, *_: Any, **__: Any) -> None: ...

    async def execute(self) -> list[Any]:
        return []


class NullRedis:
    def pipeline(self, transaction: bool = False) -> NullPipeline:
        return NullPipeline()


class FakeBroker:
    """The parts of ``gateway.calls.CallBroker`` a session uses, answering every call at once."""

    def __init__(self, settings: Any = None, *, hold: bool = False) -> None:
        self.settings = settings
        self.redis = NullRedis()
        self.hold = hold
        self.pending: dict[str, Pending] = {}
        self.submitted = 0
        self._template = reply_template()
        self._watch: tuple[int, asyncio.Event] | None = None

    def new_job(
        self, tool: str, arguments: dict[str, object], *, client: str, correlation_id: str | None
    ) -> Job:
        call_id = uuid.uuid4().hex
        return Job(
            call_id=call_id,
            tool=tool,
            arguments=dict(arguments),
            reply_to="exai:replies:bench",
            deadline=time.time() + CALL_TIMEOUT_S,
            client=client,
            correlation_id=correlation_id or call_id,
        )

    async def record(self, job: Job, owner: str) -> None:
        """The task record every call gets (``TaskService.record``), through a pipeline that sends nothing."""
        record = {
            "task_id": job.call_id,
            "owner": owner,
            "tool": job.tool,
            "correlation_id": job.correlation_id,
            "created_at": job.created_at,
            "ttl_ms": RESULT_TTL_S * 1000,
            "deadline": job.deadline,
        }
        async with self.redis.pipeline() as pipe:
            pipe.set(f"exai:task:{job.call_id}", json.dumps(record), px=RESULT_TTL_S * 1000)
            pipe.zadd(f"exai:tasks:{owner}", {job.call_id: job.created_at})
            pipe.zremrangebyscore(f"exai:tasks:{owner}", "-inf", time.time() - RESULT_TTL_S)
            pipe.expire(f"exai:tasks:{owner}", RESULT_TTL_S)
            await pipe.execute()

    async def submit(self, job: Job, on_progress: Callable[..., None] | None, slot: Any = None) -> Pending:
        loop = asyncio.get_running_loop()
        pending = Pending(job, loop.create_future())
        if slot is not None:  # held until the call ends, as CallBroker.submit does
            pending.future.add_done_callback(lambda _: slot.release())
        self.pending[job.call_id] = pending
        self.submitted += 1
        if not self.hold:
            loop.call_soon(self.reply, job.call_id)  # the reply arrives on a later turn of the loop
        elif self._watch is not None and len(self.pending) >= self._watch[0]:
            self._watch[1].set()
        return pending

    def reply(self, call_id: str) -> None:
        """What the reply listener does with one message from the gateway's channel."""
        event = decode_event(self._template.format(call_id=call_id))
        pending = self.pending.pop(event.call_id, None)
        if pending is not None and not pending.future.done() and isinstance(event, ResultEvent):
            pending.future.set_result(event.outcome)

    def parked(self, count: int) -> asyncio.Event:
        """An event set once ``count`` calls wait for their reply (``hold`` mode)."""
        event = asyncio.Event()
        self._watch = (count, event)
        if len(self.pending) >= count:
            event.set()
        return event

    def release_all(self) -> None:
        for call_id in list(self.pending):
            self.reply(call_id)

    def detach(self, call_id: str) -> None:
        return None  # the call stays pending until its reply, as with CallBroker.detach

    def cancel_soon(self, call_id: str) -> None:
        pending = self.pending.pop(call_id, None)
        if pending is not None and not pending.future.done():
            outcome = Outcome(call_id=call_id, text="cancelled", is_error=True, error_code="CANCELLED")
            pending.future.set_result(outcome)


def result_of(outcome: Outcome, job: Job) -> dict[str, Any]:
    """The ``tools/call`` result the gateway answers for an outcome (as ``Session._run_call`` builds it)."""
    result: dict[str, Any] = {
        "content": [{"type": "text", "text": outcome.text}],
        "isError": outcome.is_error,
        "_meta": {"io.exai/correlation_id": job.correlation_id, "io.exai/call_id": job.call_id},
    }
    if outcome.structured is not None:
        result["structuredContent"] = outcome.structured
    return result


def backend_parked_bytes(count: int) -> tuple[float, list[Pending]]:
    """Traced bytes per parked call of the backend alone (job, future, pending entry), for reference.

    Call with ``tracemalloc`` tracing, inside a running loop; returns the pendings so the caller
    keeps them alive until it has measured.
    """
    import tracemalloc

    broker = FakeBroker(hold=True)
    loop = asyncio.get_running_loop()
    before = tracemalloc.get_traced_memory()[0]
    kept = []
    for _ in range(count):
        job = broker.new_job("chat", {"prompt": "parked"}, client="bench", correlation_id=None)
        pending = Pending(job, loop.create_future())
        broker.pending[job.call_id] = pending
        kept.append(pending)
    return (tracemalloc.get_traced_memory()[0] - before) / count, kept


class FakeCalls:
    """The protocol core's ``Calls`` port on the same backend, for this project's half of the benchmark.

    What ``gateway.calls.enqueue.Enqueuer`` does on its enqueue thread — the task record through a
    pipeline that sends nothing — is done inline, and the job is "sent"; the reply arrives on a
    later turn of the loop and is decoded and handed to the in-flight registry, as the reply
    listener does. ``hold`` and :meth:`release_all` work as for :class:`FakeBroker`.
    """

    def __init__(self, *, hold: bool = False) -> None:
        self.hold = hold
        self.inflight: Any = None  # the core's InFlight, set once the core is assembled
        self.pending: dict[str, None] = {}
        self.pipe = NullSyncPipeline()
        self._template = reply_template()
        self._watch: tuple[int, asyncio.Event] | None = None

    def new_job(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        client: str,
        correlation_id: str | None,
        capabilities: Any,
        progress: bool,
        log: bool,
        call_id: str | None = None,
        round: int = 0,
        input_responses: dict[str, Any] | None = None,
        continuation: dict[str, Any] | None = None,
    ) -> Job:
        call_id = call_id or uuid.uuid4().hex
        return Job(
            call_id=call_id,
            tool=tool,
            arguments=dict(arguments),
            reply_to="exai:replies:bench",
            deadline=time.time() + CALL_TIMEOUT_S,
            client=client,
            correlation_id=correlation_id or call_id,
            progress=progress,
            client_capabilities=dict(capabilities),
            input_responses=input_responses,
            continuation=continuation,
            round=round,
            log=log,
        )

    def submit(
        self, job: Job, record: Any, headers: dict[str, str], done: Callable[[BaseException | None], None]
    ) -> None:
        self.pipe.set(f"exai:task:{record.task_id}", record.dump(), px=record.ttl_ms)
        self.pipe.zadd(f"exai:tasks:{record.owner}", {record.task_id: record.created_at})
        self.pipe.zremrangebyscore(f"exai:tasks:{record.owner}", "-inf", time.time() - RESULT_TTL_S)
        self.pipe.expire(f"exai:tasks:{record.owner}", RESULT_TTL_S)
        self.pipe.execute()
        loop = asyncio.get_running_loop()
        loop.call_soon(done, None)  # the enqueue thread's completion, on a later turn
        if not self.hold:
            loop.call_soon(self.reply, job.call_id)
            return
        self.pending[job.call_id] = None
        if self._watch is not None and len(self.pending) >= self._watch[0]:
            self._watch[1].set()

    def reply(self, call_id: str) -> None:
        """What the reply listener does with one message from the gateway's channel."""
        event = decode_event(self._template.format(call_id=call_id))
        self.pending.pop(event.call_id, None)
        if isinstance(event, ResultEvent):
            self.inflight.complete(event.call_id, event.outcome)

    def cancel(self, call_id: str) -> Any:
        self.pending.pop(call_id, None)
        outcome = Outcome(call_id=call_id, text="cancelled", is_error=True, error_code="CANCELLED")
        self.inflight.complete(call_id, outcome)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        future.set_result(outcome)
        return future

    def parked(self, count: int) -> asyncio.Event:
        event = asyncio.Event()
        self._watch = (count, event)
        if len(self.pending) >= count:
            event.set()
        return event

    def release_all(self) -> None:
        for call_id in list(self.pending):
            self.reply(call_id)


class NullSyncPipeline:
    """The enqueue thread's (blocking) pipeline of a task record, sending nothing."""

    def set(self, *_: Any, **__: Any) -> None: ...
    def zadd(self, *_: Any, **__: Any) -> None: ...
    def zremrangebyscore(self, *_: Any, **__: Any) -> None: ...
    def expire(self, *_: Any, **__: Any) -> None: ...

    def execute(self) -> list[Any]:
        return []
