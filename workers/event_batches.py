"""Celery task events published in batches, as Celery does with its own event loop.

A worker sends three task events per call (received, started, succeeded), each one a Redis
``PUBLISH`` through kombu: 15 % of a gevent worker's CPU with 1,000 calls in flight. Celery batches
task events into one ``task.multi`` message only when its event loop runs, which leaves out the
gevent pool (its own comment says it should not). This consumer step turns that batching on for
every pool: events gather for ``EXAI_TASK_EVENT_BATCH_S`` or until ``EXAI_TASK_EVENT_BATCH_MAX``
are waiting, then go out as one message. Flower and celery-exporter read batches like single
events (Celery's ``EventReceiver`` accepts a list). Worker heartbeats are not batched.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from celery import bootsteps

from contracts.event_flusher import EventFlusher
from contracts.settings import Settings

log = logging.getLogger(__name__)


class BatchTaskEvents(bootsteps.StartStopStep):  # type: ignore[misc]  # celery is untyped
    """Consumer step: runs after Celery's ``Events`` step has made the event dispatcher."""

    requires = ("celery.worker.consumer.events:Events",)
    interval_s = 0.1  # replaced from the settings by batching_step()
    limit = 500

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._consumer: Any = None
        self._flusher: EventFlusher | None = None

    def start(self, parent: Any) -> None:
        self._consumer = parent
        dispatcher = parent.event_dispatcher
        if dispatcher is None or parent.hub is not None:
            return  # no events, or Celery's event loop already batches them
        dispatcher.buffer_group = frozenset({"task"})
        dispatcher.buffer_limit = self.limit
        if self._flusher is None:
            self._flusher = EventFlusher(self.interval_s, self.flush, "exai-task-events")
        dispatcher.on_send_buffered = self._flusher.wake

    def stop(self, parent: Any) -> None:
        self.flush()  # before Celery's Events step closes the dispatcher (steps stop in reverse)

    def shutdown(self, parent: Any) -> None:
        self.flush()

    def flush(self) -> None:
        dispatcher = getattr(self._consumer, "event_dispatcher", None)
        if dispatcher is None:
            return
        # A batch that cannot be sent is kept in the dispatcher's outbound buffer, which Celery
        # carries over to the next dispatcher after a reconnect.
        with contextlib.suppress(Exception):
            dispatcher.flush(errors=False, groups=True)


def batching_step(settings: Settings) -> type[BatchTaskEvents]:
    """The step with this deployment's batch interval and size, for ``app.steps["consumer"]``."""
    return type(
        "BatchTaskEvents",
        (BatchTaskEvents,),
        {"interval_s": settings.exai_task_event_batch_s, "limit": settings.exai_task_event_batch_max},
    )
