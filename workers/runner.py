"""Running one job: the worker side of a call, from the queue message to the stored outcome.

Idempotent by call id: a redelivered job whose outcome exists is answered from Redis without
calling the provider again. Transient provider errors are retried through Celery (the retry waits
as a scheduled message, holding no worker slot) within the call's deadline. A call that stopped
more workers than EXAI_CALL_MAX_HANDOVERS allows (each crashed or hung running it) is not run
again: it is answered with a SET_ASIDE error, so one poison call cannot take every worker down.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from celery import Celery, Task

from contracts.errors import CallCancelled, CallSetAside, DeadlineExceeded, ExaiError, ProviderError
from contracts.job import Job, Outcome, ProgressEvent
from contracts.logs import correlated
from contracts.settings import Settings
from workers import deferral, outcomes, telemetry
from workers.backoff import compute_backoff
from workers.cancel_listener import CancelListener
from workers.claims import Claims
from workers.context import ProgressSink, ToolContext
from workers.deferral import Deferred
from workers.metered import MeteredClient
from workers.providers.base import ProviderClient
from workers.providers.registry import make_client
from workers.tools import ToolFunction
from workers.write_behind import WriteBehind

log = logging.getLogger(__name__)

# Backoff while Redis is unreachable (a restart, a failover), first and longest pause.
REDIS_RETRY_MIN_S = 0.1
REDIS_RETRY_MAX_S = 2.0


class ProviderPool:
    """One HTTP client per provider per process, created on first use; ``wrap`` puts each one
    behind more (the worker's breakers and leases)."""

    def __init__(
        self, settings: Settings, wrap: Callable[[ProviderClient], ProviderClient] | None = None
    ) -> None:
        self._settings = settings
        self._wrap = wrap
        self._clients: dict[str, ProviderClient] = {}
        self._lock = threading.Lock()

    def get(self, provider: str) -> ProviderClient:
        with self._lock:
            client = self._clients.get(provider)
            if client is None:
                client = MeteredClient(make_client(provider, self._settings))
                if self._wrap is not None:
                    client = self._wrap(client)
                self._clients[provider] = client
            return client


class Runner:
    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        listener: CancelListener,
        providers: Callable[[str], ProviderClient],
        claims: Claims | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.clock = clock  # Unix time, for call deadlines
        self.redis = client
        self.listener = listener
        self.providers = providers
        self.claims = claims or Claims(client, settings.exai_claim_ttl_s)
        self.celery: Celery | None = None  # set by workers.main; consensus sends sub-tasks on it
        # Told about every finished call (the Supabase tool-call record); must not raise.
        self.on_finish: Callable[[Job, Outcome], None] | None = None

    def run(self, task: Task, payload: dict[str, Any], tool: ToolFunction) -> str:
        job = Job.model_validate(payload)
        with correlated(job.correlation_id):
            pause = REDIS_RETRY_MIN_S
            while True:
                try:
                    return self._run(task, job, tool)
                except (redis.ConnectionError, redis.TimeoutError) as exc:
                    # Redis is restarting: wait for it (within the call's deadline) rather than
                    # fail a call nobody can record; nothing was sent to the provider yet, or its
                    # outcome is being stored by _finish, which waits the same way.
                    if job.remaining() <= 0:
                        raise
                    log.warning("Redis unavailable (%s); trying again in %.1f s", exc, pause)
                    time.sleep(pause)
                    pause = min(pause * 2, REDIS_RETRY_MAX_S)

    def _run(self, task: Task, job: Job, tool: ToolFunction) -> str:
        begin = self.claims.begin(job.call_id, self.settings.exai_result_ttl_s)
        if begin.stored is not None:
            log.info("call %s already finished; answering from the stored outcome", job.call_id)
            existing = Outcome.model_validate_json(begin.stored)
            outcomes.store_and_publish(self.redis, existing, job.reply_to, self.settings.exai_result_ttl_s)
            return "duplicate"
        if not begin.claimed:
            # A second delivery of a call a live worker is running: that worker will answer it.
            log.info("call %s is running on another worker; leaving it there", job.call_id)
            return "duplicate"
        if begin.handovers:
            log.warning(
                "taking call %s over from a worker that stopped while running it (handover %d, at most %d)",
                job.call_id,
                begin.handovers,
                self.settings.exai_call_max_handovers,
            )
        try:
            return self._run_claimed(task, job, tool, begin.cancelled, begin.handovers)
        finally:
            self.claims.release(job.call_id)  # a no-op once released with the outcome or parked

    def _run_claimed(self, task: Task, job: Job, tool: ToolFunction, cancelled: bool, handovers: int) -> str:
        if cancelled:
            log.info("call %s was cancelled before it started", job.call_id)
            self._finish(job, _error(job, CallCancelled("the call was cancelled by the client")))
            return "cancelled"
        if handovers > self.settings.exai_call_max_handovers:
            self._set_aside(job, handovers)
            return "set_aside"
        if job.remaining(self.clock()) <= 0:
            waited = self.clock() - job.created_at
            error = DeadlineExceeded(
                f"the call waited {waited:.0f} s for a worker, past its "
                f"{self.settings.exai_call_timeout_s:.0f} s deadline (EXAI_CALL_TIMEOUT_S): "
                "the workers are saturated, add workers or retry later"
            )
            self._finish(job, _error(job, error))
            return "timeout"

        attempt = task.request.retries or 0
        after, settle = WriteBehind(), WriteBehind()
        try:
            return self._run_tool(task, job, tool, attempt, after, settle)
        finally:
            # What the outcome's round trip did not take (a retry, an unexpected error) goes now.
            with contextlib.suppress(redis.RedisError):
                after.flush(self.redis)

    def _run_tool(
        self, task: Task, job: Job, tool: ToolFunction, attempt: int, after: WriteBehind, settle: WriteBehind
    ) -> str:
        token = self.listener.register(job.call_id)
        started = time.monotonic()
        log.info("running %s (attempt %d)", job.tool, attempt + 1)
        ctx = ToolContext(
            job=job,
            settings=self.settings,
            cancel=token,
            provider=lambda name: _deferring(self.providers(name), after),
            report=self._progress_publisher(job) if job.progress else _no_progress,
            min_interval=self.settings.exai_progress_min_interval_s,
            redis=self.redis,
            celery=self.celery,
            after=after,
            settle=settle,
        )
        try:
            result = tool(ctx, job.arguments)
            meta = result.setdefault("metadata", {})
            meta.update(correlation_id=job.correlation_id, attempts=attempt + 1)
            outcome = Outcome(
                call_id=job.call_id,
                text=_envelope_text(result),
                structured=result,
                meta={
                    "provider": meta.get("provider"),
                    "model": meta.get("model"),
                    "duration_s": round(time.monotonic() - started, 4),
                    "attempts": attempt + 1,
                },
            )
        except Deferred as deferred:
            self._defer(job, deferred)
            return "deferred"
        except ProviderError as exc:
            if exc.retryable:
                # Raises Retry (the settling writes wait for the retry's outcome) unless it gives up.
                self._retry_or_give_up(task, job, exc, attempt, settle)
                return "error"
            outcome = _error(job, exc, attempts=attempt + 1)
        except ExaiError as exc:
            outcome = _error(job, exc, attempts=attempt + 1)
        except (redis.ConnectionError, redis.TimeoutError):
            raise  # Redis is restarting: run() waits for it and runs the call again
        except Exception:
            log.exception("tool %s failed unexpectedly", job.tool)
            if (recorder := telemetry.current()) is not None:
                recorder.error("worker", "internal")
            outcome = _error(
                job,
                ExaiError(
                    f"internal error in tool {job.tool!r}; the server log has details under correlation id "
                    f"{job.correlation_id}"
                ),
                attempts=attempt + 1,
            )
        finally:
            self.listener.unregister(job.call_id)
        after.take(settle)
        self._finish(job, outcome, after)
        log.info(
            "%s finished: %s", job.tool, "error " + (outcome.error_code or "") if outcome.is_error else "ok"
        )
        return "error" if outcome.is_error else "ok"

    def _defer(self, job: Job, deferred: Deferred) -> None:
        """The call goes on in sub-tasks (``workers.deferral``): give its slot and claim up."""
        self.claims.released(job.call_id)  # stop refreshing it before the script deletes it
        ttl = self.settings.exai_result_ttl_s
        done = deferral.defer(self.redis, job, self.claims.owner, deferred.total, ttl)
        if done and self.celery is not None:
            deferral.continue_call(self.celery, job)  # every sub-task finished before we deferred
        log.info("%s waits for %d sub-tasks without holding a slot", job.tool, deferred.total)

    def _set_aside(self, job: Job, stopped: int) -> None:
        """Answer a call that stopped ``stopped`` workers instead of letting it stop one more."""
        limit = self.settings.exai_call_max_handovers
        log.error(
            "call %s (%s) set aside without running it: it stopped %d workers, each crashed or hung "
            "while running it (EXAI_CALL_MAX_HANDOVERS=%d)",
            job.call_id,
            job.tool,
            stopped,
            limit,
        )
        if (recorder := telemetry.current()) is not None:
            recorder.set_aside(job.tool, stopped, job.correlation_id)
        error = CallSetAside(
            f"the call was set aside after stopping {stopped} workers (each crashed or hung while "
            f"running it) and was not run again (EXAI_CALL_MAX_HANDOVERS={limit}); correlation id "
            f"{job.correlation_id} finds it in the worker logs. Check what it sends (files, images, "
            "prompt size) before sending it again"
        )
        outcome = _error(job, error, attempts=stopped)
        assert outcome.structured is not None
        outcome.structured["metadata"]["handovers"] = stopped
        self._finish(job, outcome)

    def _progress_publisher(self, job: Job) -> ProgressSink:
        def publish(value: float, total: float | None, message: str | None, text: str | None = None) -> None:
            event = ProgressEvent(
                call_id=job.call_id, progress=value, total=total, message=message, text=text
            )
            outcomes.publish_progress(self.redis, job.reply_to, event)

        return publish

    def record_cancelled(self, payload: dict[str, Any]) -> None:
        """Store the outcome of a call that was cancelled before any worker ran it."""
        job = Job.model_validate(payload)
        with correlated(job.correlation_id):
            log.info("call %s was cancelled while queued", job.call_id)
            self._finish(job, _error(job, CallCancelled("the call was cancelled by the client")))

    def _retry_or_give_up(
        self, task: Task, job: Job, exc: ProviderError, attempt: int, settle: WriteBehind
    ) -> None:
        max_retries = self.settings.exai_max_retries
        delay = compute_backoff(
            attempt,
            base=self.settings.exai_retry_backoff_base_s,
            maximum=self.settings.exai_retry_backoff_max_s,
            retry_after=exc.retry_after,
        )
        if attempt >= max_retries:
            message = f"{exc.message}; gave up after {attempt + 1} attempts (EXAI_MAX_RETRIES={max_retries})"
            self._finish(
                job, _error(job, exc, attempts=attempt + 1, message=message, code="RETRIES_EXHAUSTED"), settle
            )
            return
        if delay >= job.remaining(self.clock()):
            message = (
                f"{exc.message}; no time left to retry before the call's deadline "
                f"(EXAI_CALL_TIMEOUT_S={self.settings.exai_call_timeout_s:.0f})"
            )
            self._finish(
                job, _error(job, exc, attempts=attempt + 1, message=message, code="RETRIES_EXHAUSTED"), settle
            )
            return
        log.warning("%s (attempt %d); retrying in %.2f s", exc.message, attempt + 1, delay)
        if (recorder := telemetry.current()) is not None:
            recorder.retry(exc.provider or "unknown", exc.kind)
        outcomes.publish_progress(
            self.redis,
            job.reply_to,
            ProgressEvent(
                call_id=job.call_id,
                progress=0,
                message=f"provider busy ({exc.kind}); retrying in {delay:.1f} s",
            ),
        )
        self.claims.park_for_retry(job.call_id, delay)
        raise task.retry(countdown=delay, max_retries=max_retries, exc=exc)

    def _finish(self, job: Job, outcome: Outcome, after: WriteBehind | None = None) -> None:
        pause = REDIS_RETRY_MIN_S
        # The provider's work is done: keep trying to record it while Redis restarts, so it is
        # neither lost nor redone (bounded by the time its outcome would be kept anyway).
        give_up = time.monotonic() + self.settings.exai_result_ttl_s
        while True:
            try:
                # The claim goes with the outcome, only once the outcome is safely stored.
                owner = self.claims.owner if self.claims.holds(job.call_id) else ""
                outcomes.store_and_publish(
                    self.redis,
                    outcome,
                    job.reply_to,
                    self.settings.exai_result_ttl_s,
                    claim_owner=owner,
                    before=after,
                )
                if owner:
                    self.claims.released(job.call_id)
                break
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if time.monotonic() > give_up:
                    raise
                log.warning("could not store the outcome (%s); trying again in %.1f s", exc, pause)
                time.sleep(pause)
                pause = min(pause * 2, REDIS_RETRY_MAX_S)
        if self.on_finish is not None:
            try:
                self.on_finish(job, outcome)
            except Exception:  # a record lost to a bug must not turn a finished call into a failure
                log.exception("recording call %s failed", job.call_id)


def _deferring(client: ProviderClient, after: WriteBehind) -> ProviderClient:
    """The provider client for one call, leaving its closing writes to ``after`` where it can."""
    bind = getattr(client, "deferring", None)
    return bind(after) if bind is not None else client


def _no_progress(value: float, total: float | None, message: str | None, text: str | None = None) -> None:
    """Nobody listens for this call's progress."""
    del value, total, message, text


def _envelope_text(result: dict[str, Any]) -> str:
    # The old server answered with one text block holding this JSON envelope; MCP asks for the
    # structured result to be repeated as text too, so one block serves both.
    return json.dumps(result, ensure_ascii=False)


def _error(
    job: Job, exc: ExaiError, *, attempts: int = 1, message: str | None = None, code: str | None = None
) -> Outcome:
    text = message or exc.message
    code = code or exc.code
    metadata: dict[str, Any] = {
        "provider": exc.data.get("provider"),
        "model": None,
        "correlation_id": job.correlation_id,
        "attempts": attempts,
        "error_code": code,
    }
    if "kind" in exc.data:
        metadata["error_kind"] = exc.data["kind"]
    structured = {"status": "error", "content": text, "content_type": "text", "metadata": metadata}
    return Outcome(
        call_id=job.call_id,
        text=text,
        structured=structured,
        is_error=True,
        error_code=code,
        meta={"attempts": attempts},
    )
