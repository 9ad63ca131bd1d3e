"""Celery task events published in batches, whatever the pool, through Celery's own buffering.

A worker sends three task events per call (received, started, succeeded) and the gateway one
(sent), each a Redis ``PUBLISH`` of its own: 15 % of a gevent worker's CPU with 1,000 calls in
flight. Celery's event dispatcher can buffer the ``task`` group into one ``task.multi`` message,
but Celery turns that on only when its event loop runs, which leaves out the gevent pool. The app
is built with this ``Events`` class (``Celery(events=...)``), whose dispatcher buffers task events
itself when nobody else does: they gather for ``EXAI_TASK_EVENT_BATCH_S`` or until
``EXAI_TASK_EVENT_BATCH_MAX`` wait, then leave as one message. Flower and celery-exporter read a
batch like single events (Celery's ``EventReceiver`` accepts a list). Worker heartbeats are not
batched. Losing a process loses at most one batch of these monitoring events, never a call.
"""

from __future__ import annotations

import contextlib
from typing import Any

from celery.app.events import Events
from celery.events.dispatcher import EventDispatcher

from contracts.event_flusher import EventFlusher
from contracts.settings import Settings

TASK_GROUP = "task"


class BatchingDispatcher(EventDispatcher):  # type: ignore[misc]  # celery is untyped
    interval_s = 0.1  # replaced from the settings by batching_events()
    limit = 500

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Celery's event loop asks for buffering itself (and flushes on its own ticks).
        own = not kwargs.get("buffer_group")
        if own:
            kwargs["buffer_group"] = [TASK_GROUP]
            kwargs.setdefault("buffer_limit", self.limit)
        self._flusher: EventFlusher | None = None
        super().__init__(*args, **kwargs)
        if own and self.enabled:
            self._flusher = EventFlusher(self.interval_s, self._flush_quietly, "exai-task-events")
            self.on_send_buffered = self._flusher.wake

    def _flush_quietly(self) -> None:
        # A batch that cannot be sent stays in the outbound buffer, which Celery carries over to
        # the next dispatcher after a reconnect (and this one sends with the next batch).
        with contextlib.suppress(Exception):
            self.flush(errors=True, groups=True)

    def close(self) -> None:
        if self._flusher is not None:
            flusher, self._flusher = self._flusher, None
            flusher.close()
            self._flush_quietly()
        super().close()


def batching_events(settings: Settings) -> type[Events]:
    """The app's ``events`` class with this deployment's batch interval and size."""
    dispatcher = type(
        "BatchingDispatcher",
        (BatchingDispatcher,),
        {
            "__module__": __name__,
            "interval_s": settings.exai_task_event_batch_s,
            "limit": settings.exai_task_event_batch_max,
        },
    )
    return type(
        "BatchingEvents",
        (Events,),
        {"__module__": __name__, "dispatcher_cls": dispatcher},
    )
