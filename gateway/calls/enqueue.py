"""Jobs in and out of the queue: build them, record and send them off the event loop, cancel them.

:meth:`Enqueuer.submit` hands a job to the enqueue thread pool, where one function writes the
call's task record (durable create) and then sends the Celery message by task name, one after the
other with nothing of the event loop in between: a client dropping at once cannot leave a task
with no call behind it, nor a call with no task. Its ``done`` callback runs on the event loop.
Cancelling stores a ``CANCELLED`` outcome (first outcome wins, so a worker picking the call up
later skips it), marks the call cancelled for running workers, announces it on the done channel
and revokes the Celery task. A later input round of a call is a job of its own with the same call
id, sent as the Celery task ``<call id>.<round>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
import redis.asyncio as aioredis
from celery import Celery
from celery.exceptions import CeleryError
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from contracts.job import Job, Outcome
from contracts.logs import task_summary
from contracts.names import CANCEL_CHANNEL, DONE_CHANNEL, TOOL_QUEUE, cancel_key, result_key, task_name
from contracts.settings import Settings
from gateway.core.inflight import InFlight
from gateway.core.ports import QueueUnavailable
from gateway.core.task_views import TaskRecord
from gateway.sent_events import SentEvents
from gateway.task_store import discard_record, write_record

log = logging.getLogger(__name__)

CANCELLED_TEXT = "the call was cancelled by the client"
QUEUE_ERRORS = (RedisError, KombuError, CeleryError, OSError)  # the queue (or Redis) is unreachable


class Enqueuer:
    def __init__(
        self,
        settings: Settings,
        celery_app: Celery,
        client: aioredis.Redis,
        sync_client: redis.Redis,
        inflight: InFlight,
        reply_to: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.celery = celery_app
        self.redis = client
        self.sync = sync_client
        self.inflight = inflight
        self.reply_to = reply_to
        self.clock = clock
        self._executor = ThreadPoolExecutor(settings.exai_enqueue_threads, thread_name_prefix="exai-enqueue")
        self._sent_events = SentEvents(celery_app)
        self._cancelling: set[asyncio.Task[Outcome | None]] = set()

    # --- jobs -----------------------------------------------------------------------------------
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
    ) -> Job:
        call_id = call_id or uuid.uuid4().hex
        return Job(
            call_id=call_id,
            tool=tool,
            arguments=dict(arguments),
            reply_to=self.reply_to,
            deadline=self.clock() + self.settings.exai_call_timeout_s,
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
        self,
        job: Job,
        record: TaskRecord,
        headers: dict[str, str],
        done: Callable[[BaseException | None], None],
    ) -> None:
        """Record and send ``job`` on the enqueue pool; ``done`` gets the failure (or None) on the loop."""
        sent = asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(self._record_and_send, job, record, headers)
        )

        def finished(future: asyncio.Future[None]) -> None:
            failure = asyncio.CancelledError() if future.cancelled() else future.exception()
            done(failure)

        sent.add_done_callback(finished)

    def _record_and_send(self, job: Job, record: TaskRecord, headers: dict[str, str]) -> None:
        """On an enqueue thread: the record first, then the message (both, or neither)."""
        try:
            self._write(job, record, headers)
        except QUEUE_ERRORS as exc:
            raise QueueUnavailable(f"{type(exc).__name__}: {exc}"[:300]) from exc

    def _write(self, job: Job, record: TaskRecord, headers: dict[str, str]) -> None:
        with self.sync.pipeline(transaction=False) as pipe:
            write_record(pipe, record, self.settings.exai_result_ttl_s, self.clock())
            pipe.execute()
        try:
            self.celery.send_task(
                task_name(job.tool),
                kwargs={"job": job.model_dump(mode="json")},
                task_id=job.call_id if job.round == 0 else f"{job.call_id}.{job.round}",
                queue=TOOL_QUEUE,
                # Celery keeps "correlation_id" for itself (the task id), so ours has its own name.
                headers=headers,
                # The outcome comes back on our reply channel; without this Celery would also
                # subscribe to (and later unsubscribe from) a result channel per call.
                ignore_result=True,
                # What Celery logs, Flower shows and events carry instead of the arguments (prompts).
                kwargsrepr=task_summary(job.tool, job.call_id, job.correlation_id),
            )
        except BaseException:
            if job.round == 0:
                self._discard(record)
            raise

    def _discard(self, record: TaskRecord) -> None:
        # Best effort (Redis may be what failed): a task past its deadline ends with a timeout anyway.
        try:
            with self.sync.pipeline(transaction=False) as pipe:
                discard_record(pipe, record)
                pipe.execute()
        except Exception as exc:
            log.warning("could not remove the task record of unqueued call %s: %s", record.task_id, exc)

    # --- cancel ---------------------------------------------------------------------------------
    def cancel(self, call_id: str) -> asyncio.Task[Outcome | None]:
        """Cancel in the background (awaiting the returned task is optional)."""
        task = asyncio.ensure_future(self._cancel_logged(call_id))
        self._cancelling.add(task)  # keep a reference until it is done
        task.add_done_callback(self._cancelling.discard)
        return task

    async def _cancel_logged(self, call_id: str) -> Outcome | None:
        try:
            return await self._cancel(call_id)
        except Exception as exc:  # a failed cancel leaves the call to finish unseen
            log.warning("could not cancel %s: %s", call_id, exc)
            return None

    async def _cancel(self, call_id: str) -> Outcome:
        call = self.inflight.calls.get(call_id)
        meta = {"correlation_id": call.job.correlation_id} if call is not None else {}
        cancelled = Outcome(
            call_id=call_id, text=CANCELLED_TEXT, is_error=True, error_code="CANCELLED", meta=meta
        )
        ttl = self.settings.exai_result_ttl_s
        key = result_key(call_id)
        stored = cancelled
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                # The cancelled outcome is final: a worker that picks the call up later finds it and
                # skips the call, and one already running cannot replace it (first outcome wins).
                pipe.set(key, cancelled.model_dump_json(), nx=True, ex=ttl)
                pipe.get(key)
                pipe.set(cancel_key(call_id), "1", ex=ttl)
                pipe.publish(CANCEL_CHANNEL, call_id)
                pipe.publish(DONE_CHANNEL, call_id)  # whoever waits on the task hears it at once
                raw = (await pipe.execute())[1]
            if raw is not None:
                stored = Outcome.model_validate_json(raw)  # it may have finished just before
        finally:
            # Its waiters end and its slot is free, whatever Redis said.
            self.inflight.complete(call_id, stored)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, functools.partial(self.celery.control.revoke, call_id))
        return stored

    async def close(self) -> None:
        for task in list(self._cancelling):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 1.0)
        self._executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.get_running_loop().run_in_executor(None, self._sent_events.close)
