"""What one worker process reports to monitoring: metric events and a heartbeat with its gauges.

Provider calls, retries and errors are appended to an in-memory buffer; a background thread (a
greenlet under gevent) flushes it to the events stream and refreshes the worker's heartbeat key in
one pipelined round trip per ``EXAI_TELEMETRY_FLUSH_S``. Nothing here can fail or slow a call.

The Celery signal handlers also put each task's correlation id in the logging contextvar, so
Celery's own lines about a running task carry it.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
from typing import Any

import redis
from celery.signals import task_postrun, task_prerun

from contracts import events, tracing
from contracts.events import EventBuffer, Heartbeat, ProcessSampler
from contracts.logs import correlation_id
from contracts.names import EVENTS_STREAM, WORKER_INDEX, worker_heartbeat_key
from contracts.settings import Settings

log = logging.getLogger(__name__)


class WorkerTelemetry:
    def __init__(self, settings: Settings, client: redis.Redis, concurrency: int) -> None:
        self.settings = settings
        self.redis = client
        self.concurrency = concurrency
        self.hostname = ""
        self.active = 0
        self._buffer = EventBuffer(settings.exai_events_buffer)
        self._lock = threading.Lock()
        self._sampler: ProcessSampler | None = None
        self._pid = 0
        self._stop = threading.Event()
        self._failing = False

    # --- recording (never blocks, never raises) -------------------------------------------
    def api_call(
        self,
        provider: str,
        model: str,
        status: str,
        latency: float,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
    ) -> None:
        self._buffer.add(
            events.API,
            provider=provider,
            model=model,
            status=status,
            latency=round(latency, 6),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )

    def retry(self, provider: str, reason: str) -> None:
        self._buffer.add(events.RETRY, provider=provider, reason=reason)

    def error(self, component: str, error_type: str) -> None:
        self._buffer.add(events.ERROR, component=component, error_type=error_type)

    def set_aside(self, tool: str, handovers: int, correlation_id: str) -> None:
        self._buffer.add(events.SET_ASIDE, tool=tool, handovers=handovers, correlation_id=correlation_id)

    def task_started(self) -> None:
        self.ensure_running()
        with self._lock:
            self.active += 1

    def task_ended(self) -> None:
        with self._lock:
            self.active = max(0, self.active - 1)

    # --- flushing ---------------------------------------------------------------------------
    def start(self, hostname: str) -> None:
        self.hostname = hostname
        self.ensure_running()

    def ensure_running(self) -> None:
        """Start the flusher in this process (again after a fork: threads do not survive one)."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._sampler = ProcessSampler()
        if not self.hostname:
            self.hostname = f"{self._sampler.hostname}-{self._pid}"
        threading.Thread(target=self._flush_forever, name="exai-telemetry", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        try:
            self.flush(final=True)
        except Exception as exc:  # shutting down: the heartbeat expires on its own
            log.debug("final monitoring flush failed: %s", exc)

    def _flush_forever(self) -> None:
        while not self._stop.wait(self.settings.exai_telemetry_flush_s):
            try:
                self.flush()
                if self._failing:
                    log.info("monitoring events flow again")
                self._failing = False
            except Exception as exc:
                if not self._failing:
                    log.warning("could not send monitoring events (%s); calls are not affected", exc)
                self._failing = True

    def flush(self, *, final: bool = False) -> None:
        sampler = self._sampler
        if sampler is None:
            return
        drained = self._buffer.drain()
        rss, cpu = sampler.sample()
        beat = Heartbeat(
            role="worker",
            hostname=self.hostname,
            pid=sampler.pid,
            started_at=sampler.started_at,
            rss_bytes=rss,
            cpu_ratio=cpu,
            concurrency=self.concurrency,
            active=self.active,
        )
        key = worker_heartbeat_key(self.hostname)
        pipe = self.redis.pipeline(transaction=False)
        for entry in events.stream_entries(drained):
            pipe.xadd(EVENTS_STREAM, entry, maxlen=self.settings.exai_events_max, approximate=True)  # type: ignore[arg-type]
        if final:
            pipe.delete(key)
            pipe.zrem(WORKER_INDEX, key)
        else:
            ttl = self.settings.exai_heartbeat_ttl_s
            pipe.set(key, beat.model_dump_json(), ex=ttl)
            pipe.zadd(WORKER_INDEX, {key: beat.updated_at + ttl})
        pipe.execute()


_current: WorkerTelemetry | None = None
_tokens: dict[str, contextvars.Token[str]] = {}
_spans: dict[str, tracing.TaskSpan] = {}


def install(telemetry: WorkerTelemetry) -> None:
    """Make ``telemetry`` the process's recorder and hook it to Celery's task signals."""
    global _current
    _current = telemetry
    task_prerun.connect(_prerun, weak=False)
    task_postrun.connect(_postrun, weak=False)


def current() -> WorkerTelemetry | None:
    return _current


def _prerun(task_id: str = "", task: Any = None, kwargs: dict[str, Any] | None = None, **_: Any) -> None:
    job = (kwargs or {}).get("job")
    if isinstance(job, dict) and isinstance(job.get("correlation_id"), str):
        _tokens[task_id] = correlation_id.set(job["correlation_id"])
    if tracing.enabled() and task is not None:
        request = task.request
        headers = {name: getattr(request, name, None) for name in tracing.HEADERS}
        span = tracing.continue_task(f"task {getattr(task, 'name', '?')}", headers, task_id=task_id)
        if span is not None:
            _spans[task_id] = span
    if _current is not None:
        _current.task_started()


def _postrun(task_id: str = "", state: str | None = None, **_: Any) -> None:
    span = _spans.pop(task_id, None)
    if span is not None:
        span.end(state or "UNKNOWN")
    token = _tokens.pop(task_id, None)
    if token is not None:
        try:
            correlation_id.reset(token)
        except ValueError:  # set in another context (a pool that moved the task): just clear it
            correlation_id.set("-")
    if _current is not None:
        _current.task_ended()
