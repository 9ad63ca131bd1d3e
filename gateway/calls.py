"""Calls in flight on one gateway process: enqueue by task name, then await progress and results.

One Redis subscription per gateway process (its reply channel) carries every worker message back;
one periodic sweep re-reads results that may have been missed while that subscription was down,
sends heartbeats on long calls and ends calls past their deadline. No thread and no polling loop is
held per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis
from celery import Celery

from contracts import tracing
from contracts.errors import DeadlineExceeded
from contracts.job import Job, Outcome, ProgressEvent, ResultEvent, decode_event
from contracts.logs import task_summary
from contracts.names import (
    CANCEL_CHANNEL,
    DONE_CHANNEL,
    TOOL_QUEUE,
    cancel_key,
    reply_channel,
    result_key,
    task_name,
)
from contracts.settings import Settings
from gateway.limits import Slot
from gateway.sent_events import SentEvents
from gateway.telemetry import GatewayTelemetry

log = logging.getLogger(__name__)
DONE_BYTES = DONE_CHANNEL.encode()
T = TypeVar("T")
_STEPS: set[asyncio.Task[Any]] = set()  # steps that must finish even if their caller is gone


def begin(step: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Start ``step`` now, as a task of its own that no caller's cancellation stops (await it
    through ``asyncio.shield``).

    For steps that must happen together or not at all once a call is accepted, such as recording
    a task and queueing its call: a client dropping between the two would otherwise leave a task
    that never ends. A failure nobody is left to hear of is logged, not lost as "Task exception was
    never retrieved".
    """
    task = asyncio.ensure_future(step)
    _STEPS.add(task)
    task.add_done_callback(_settled)
    return task


def _settled(task: asyncio.Task[Any]) -> None:
    _STEPS.discard(task)
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.debug("a call's queueing step failed: %r", exc)  # its caller, if still there, answers it


class ProgressCallback(Protocol):
    """Called with each progress report; must not block (the session queues the frame)."""

    def __call__(
        self, value: float, total: float | None, message: str | None, text: str | None = None
    ) -> None: ...


@dataclass
class PendingCall:
    job: Job
    future: asyncio.Future[Outcome]
    on_progress: ProgressCallback | None
    started: float = field(default_factory=time.monotonic)
    last_progress: float = 0.0
    last_sent: float = field(default_factory=time.monotonic)
    running: bool = False

    def progress(
        self, value: float, total: float | None, message: str | None, text: str | None = None
    ) -> None:
        if self.on_progress is None or self.future.done():
            return
        # MCP requires progress to grow; worker counts restart after a retry, so bump past them.
        self.last_progress = value if value > self.last_progress else self.last_progress + 1
        self.last_sent = time.monotonic()
        self.on_progress(self.last_progress, total, message, text)


class CallBroker:
    def __init__(self, settings: Settings, celery_app: Celery, client: aioredis.Redis) -> None:
        self.settings = settings
        self.celery = celery_app
        self.redis = client
        self.gateway_id = uuid.uuid4().hex
        self.channel = reply_channel(self.gateway_id)
        self.pending: dict[str, PendingCall] = {}
        self._executor = ThreadPoolExecutor(settings.exai_enqueue_threads, thread_name_prefix="exai-enqueue")
        self._tasks: list[asyncio.Task[None]] = []
        self._cancelling: set[asyncio.Task[None]] = set()
        self._subscribed = asyncio.Event()
        # Waiters for calls this gateway may not have sent (tasks/result): fed by the done channel.
        self.watchers: dict[str, set[asyncio.Future[Outcome]]] = {}
        self._fetches: set[asyncio.Task[None]] = set()
        self.telemetry = GatewayTelemetry(settings, client, self.gateway_id, lambda: len(self.pending))
        self._sent_events = SentEvents(celery_app)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="exai-replies"),
            asyncio.create_task(
                self._every(
                    min(self.settings.exai_result_sweep_s, self.settings.exai_progress_interval_s),
                    self._sweep,
                    "result sweep",
                ),
                name="exai-sweep",
            ),
        ]
        self.telemetry.start()
        await asyncio.wait_for(self._subscribed.wait(), timeout=self.settings.exai_provider_connect_timeout_s)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.get_running_loop().run_in_executor(None, self._sent_events.close)
        await self.telemetry.close()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._fetches.add(task)  # keep a reference until it is done
        task.add_done_callback(self._fetches.discard)

    def new_job(
        self, tool: str, arguments: dict[str, object], *, client: str, correlation_id: str | None
    ) -> Job:
        call_id = uuid.uuid4().hex
        return Job(
            call_id=call_id,
            tool=tool,
            arguments=dict(arguments),
            reply_to=self.channel,
            deadline=time.time() + self.settings.exai_call_timeout_s,
            client=client,
            correlation_id=correlation_id or call_id,
        )

    async def submit(
        self, job: Job, on_progress: ProgressCallback | None, slot: Slot | None = None
    ) -> PendingCall:
        """Register the call, then enqueue it, so no reply can arrive before we listen for it.

        ``slot`` (the client's in-flight slot) is held until the call ends: its outcome arrives,
        its deadline passes or it is cancelled; not when its client leaves (see :meth:`detach`).
        If queueing fails it is released at once.
        """
        loop = asyncio.get_running_loop()
        if on_progress is None and job.progress:
            job = job.model_copy(update={"progress": False})
        pending = PendingCall(job=job, future=loop.create_future(), on_progress=on_progress)
        self.pending[job.call_id] = pending
        try:
            await self._send(job)
        except BaseException:
            self.pending.pop(job.call_id, None)
            if slot is not None:
                slot.release()
            raise
        if slot is not None:
            pending.future.add_done_callback(lambda _: slot.release())
        return pending

    async def _send(self, job: Job) -> None:
        send = functools.partial(
            self.celery.send_task,
            task_name(job.tool),
            kwargs={"job": job.model_dump(mode="json")},
            task_id=job.call_id,
            queue=TOOL_QUEUE,
            # Celery keeps "correlation_id" for itself (the task id), so ours has its own name.
            headers={"exai_correlation_id": job.correlation_id, **tracing.inject()},
            # The outcome comes back on our reply channel; without this Celery would also
            # subscribe to (and later unsubscribe from) a result channel per call.
            ignore_result=True,
            # What Celery logs, Flower shows and events carry instead of the arguments (prompts).
            kwargsrepr=task_summary(job.tool, job.call_id, job.correlation_id),
        )
        await asyncio.get_running_loop().run_in_executor(self._executor, send)

    def detach(self, call_id: str) -> None:
        """Its client left: report no more progress, but keep waiting for the call's outcome (the
        worker still finishes and stores it), so the client's slot is freed only when the call ends.

        What stays per call is its PendingCall, and the slots it holds bound how many there are.
        """
        pending = self.pending.get(call_id)
        if pending is not None:
            pending.on_progress = None

    def cancel_soon(self, call_id: str) -> None:
        """Cancel a call in the background, for a session that must not wait (a client's cancel)."""
        task = asyncio.create_task(self._cancel_logged(call_id))
        self._cancelling.add(task)  # keep a reference until it is done
        task.add_done_callback(self._cancelling.discard)

    async def _cancel_logged(self, call_id: str) -> None:
        try:
            await self.cancel(call_id)
        except Exception as exc:  # a failed cancel leaves the call to finish unseen
            log.warning("could not cancel %s: %s", call_id, exc)

    async def cancel(self, call_id: str) -> None:
        """Stop a call: a queued one is skipped when picked up, a running one stops between chunks."""
        pending = self.pending.pop(call_id, None)
        ttl = self.settings.exai_result_ttl_s
        outcome = Outcome(
            call_id=call_id,
            text="the call was cancelled by the client",
            is_error=True,
            error_code="CANCELLED",
            meta={"correlation_id": pending.job.correlation_id} if pending else {},
        )
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                # The cancelled outcome is final: a worker that picks the call up later finds it and
                # skips the call, and one already running cannot replace it (first outcome wins).
                pipe.set(result_key(call_id), outcome.model_dump_json(), nx=True, ex=ttl)
                pipe.set(cancel_key(call_id), "1", ex=ttl)
                pipe.publish(CANCEL_CHANNEL, call_id)
                pipe.publish(DONE_CHANNEL, call_id)  # whoever waits on tasks/result hears it at once
                await pipe.execute()
        finally:
            if pending is not None and not pending.future.done():
                pending.future.set_result(outcome)  # its waiters end, and its slot is free
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, functools.partial(self.celery.control.revoke, call_id))

    async def outcome(self, call_id: str) -> Outcome:
        """Wait for a call's outcome, whichever gateway sent it (or one that is gone)."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.watchers.setdefault(call_id, set()).add(future)
        try:
            raw = await self.redis.get(result_key(call_id))  # after registering: nothing slips by
            if raw is not None:
                return Outcome.model_validate_json(raw)
            return await future
        finally:
            waiting = self.watchers.get(call_id)
            if waiting is not None:
                waiting.discard(future)
                if not waiting:
                    del self.watchers[call_id]

    def _resolve_watchers(self, outcome: Outcome) -> None:
        for future in self.watchers.pop(outcome.call_id, ()):
            if not future.done():
                future.set_result(outcome)

    async def _fetch_done(self, call_id: str) -> None:
        try:
            raw = await self.redis.get(result_key(call_id))
        except Exception as exc:  # the sweep will find it
            log.warning("could not read the outcome of %s: %s", call_id, exc)
            return
        if raw is not None:
            self._resolve_watchers(Outcome.model_validate_json(raw))

    # --- replies --------------------------------------------------------------------------
    def _deliver(self, event: ProgressEvent | ResultEvent) -> None:
        pending = self.pending.get(event.call_id)
        if isinstance(event, ResultEvent):
            self._resolve_watchers(event.outcome)
        if pending is None:
            return
        if isinstance(event, ResultEvent):
            self.pending.pop(event.call_id, None)
            if not pending.future.done():
                pending.future.set_result(event.outcome)
        else:
            pending.running = True
            pending.progress(event.progress, event.total, event.message, event.text)

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel, DONE_CHANNEL)
                if self._subscribed.is_set():
                    log.info("reply channel resubscribed; re-reading results of calls in flight")
                    await self._sweep(force=True)
                self._subscribed.set()
                delay = 0.1
                async for message in pubsub.listen():
                    if message["channel"] == DONE_BYTES:
                        done = message["data"].decode(errors="replace")
                        if done in self.watchers:
                            self._spawn(self._fetch_done(done))
                        continue
                    try:
                        self._deliver(decode_event(message["data"]))
                    except ValueError:
                        log.warning("ignored a malformed message on %s", self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("reply channel lost (%s); resubscribing in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):  # the connection may already be gone
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _every(self, interval: float, work: Callable[[], Awaitable[None]], what: str) -> None:
        """Run ``work`` every ``interval`` seconds; a failed round is logged and the next one runs."""
        while True:
            await asyncio.sleep(interval)
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s failed: %s", what, exc)

    async def _sweep(self, force: bool = False) -> None:
        now = time.monotonic()
        wall = time.time()
        grace = 2 * self.settings.exai_result_sweep_s + 5.0
        # Heartbeats and deadlines first: they need no Redis.
        for pending in list(self.pending.values()):
            if wall > pending.job.deadline + grace:
                self.pending.pop(pending.job.call_id, None)
                if not pending.future.done():
                    pending.future.set_exception(
                        DeadlineExceeded(
                            f"no result within the call's {self.settings.exai_call_timeout_s:.0f} s deadline "
                            "(EXAI_CALL_TIMEOUT_S); the workers may be down or saturated"
                        )
                    )
            elif now - pending.last_sent >= self.settings.exai_progress_interval_s:
                state = "running" if pending.running else "waiting for a worker"
                pending.progress(
                    pending.last_progress, None, f"{state}, {now - pending.started:.0f} s elapsed"
                )
        stale = [
            p.job.call_id
            for p in self.pending.values()
            if force or now - p.started >= self.settings.exai_result_sweep_s
        ]
        stale.extend(call_id for call_id in self.watchers if call_id not in self.pending)
        for start in range(0, len(stale), 500):
            batch = stale[start : start + 500]
            values = await self.redis.mget([result_key(call_id) for call_id in batch])
            for call_id, raw in zip(batch, values, strict=True):
                if raw is not None:
                    self._deliver(ResultEvent(call_id=call_id, outcome=Outcome.model_validate_json(raw)))
