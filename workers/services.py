"""The worker's background services, started and stopped with the worker as one Celery bootstep.

Each service is an object with ``start()`` and ``stop()``: the consumer heartbeat with recovery of
dead consumers' messages, claim renewal, capacity-lease renewal, the cancel listener and the
monitoring recorder. They start before the worker consumes its first message and stop when it
shuts down; none starts on the first task, and none is held in a module global: ``workers.main``
builds them and hands them to :func:`services_step`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import redis
from celery import bootsteps
from celery.worker import state

from contracts.transport import Consumers

log = logging.getLogger(__name__)


class Service(Protocol):
    def start(self, worker: Any) -> None:
        """Called with Celery's ``WorkController`` (its ``hostname`` and ``concurrency``)."""

    def stop(self) -> None: ...


class ConsumerHeartbeat:
    """Beats for this worker's queue consumer and hands back the messages of dead consumers.

    One script per round, every third of ``EXAI_CONSUMER_HEARTBEAT_S``. After Redis was away, this
    worker waits one heartbeat before recovering others, so live workers that could not beat
    either (the same outage) have beaten again and are not taken for dead.
    """

    def __init__(
        self,
        consumers: Consumers,
        consumer: str,
        heartbeat_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._consumers = consumers
        self._consumer = consumer
        self._heartbeat_s = heartbeat_s
        self._clock = clock
        self._recover_from = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def tick(self) -> tuple[int, int]:
        """One round: beat, and recover unless Redis was unreachable within the last heartbeat."""
        recover = self._clock() >= self._recover_from
        try:
            result = self._consumers.beat(self._consumer, recover=recover)
        except redis.RedisError:
            self._recover_from = self._clock() + self._heartbeat_s
            raise
        return result

    def start(self, worker: Any = None) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="exai-consumer-heartbeat", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Nothing: the heartbeat must outlive a warm shutdown's last running calls (the pool
        drains after this step may have stopped); it ends with the process, and whatever this
        worker still holds then goes back to the queues through another worker's recovery."""

    def close(self) -> None:
        """End the loop (tests; a worker never needs it)."""
        self._stop.set()

    def _run(self) -> None:
        while True:
            try:
                self.tick()
                self._failing = False
            except redis.RedisError as exc:
                if not self._failing:
                    log.warning("consumer heartbeat could not reach Redis: %s", exc)
                self._failing = True
            if self._stop.wait(self._heartbeat_s / 3):
                return


class Started:
    """A service from a pair of callables (for objects whose start takes arguments)."""

    def __init__(self, start: Callable[[Any], None], stop: Callable[[], None] | None = None) -> None:
        self._start = start
        self._stop = stop

    def start(self, worker: Any) -> None:
        self._start(worker)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()


def running_here(task_id: str) -> bool:
    """Whether this worker process is executing ``task_id`` right now (Celery's worker state)."""
    return any(request.id == task_id for request in tuple(state.active_requests))


def services_step(services: Sequence[Service]) -> type[bootsteps.StartStopStep]:
    """A worker bootstep that starts ``services`` with the worker, and stops them in reverse."""

    class WorkerServices(bootsteps.StartStopStep):  # type: ignore[misc]  # celery is untyped
        requires = ("celery.worker.components:Timer",)

        def start(self, parent: Any) -> None:
            for service in services:
                service.start(parent)

        def stop(self, parent: Any) -> None:
            for service in reversed(services):
                try:
                    service.stop()
                except Exception:  # shutting down: one failing service must not keep the rest running
                    log.exception("stopping %s failed", type(service).__name__)

    return WorkerServices
