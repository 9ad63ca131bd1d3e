"""Celery's ``task-sent`` events from the gateway, published in batches.

``send_task`` publishes one ``task-sent`` event per call (Flower and celery-exporter count them)
as a second Redis round trip, under a lock shared by the enqueue threads: it cost the gateway more
CPU than publishing the task itself. This stands in for Celery's event dispatcher in
``send_task``: events gather for ``EXAI_TASK_EVENT_BATCH_S`` or until ``EXAI_TASK_EVENT_BATCH_MAX``
wait, then leave as one ``task.multi`` message, which Celery's event receivers read like single
events. Losing the gateway loses at most one batch of these monitoring events, never a call.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from celery import Celery

from contracts.event_flusher import EventFlusher
from contracts.settings import Settings

log = logging.getLogger(__name__)


class SentEventBatcher:
    def __init__(self, app: Celery, settings: Settings) -> None:
        self._connection = app.connection_for_write()
        self._dispatcher = app.events.Dispatcher(
            self._connection,
            enabled=True,
            buffer_group=["task"],
            buffer_limit=settings.exai_task_event_batch_max,
        )
        self._flusher = EventFlusher(settings.exai_task_event_batch_s, self.flush, "exai-sent-events")

    def publish(self, type: str, fields: dict[str, Any], producer: Any = None, **_: Any) -> None:
        """What ``send_task`` calls on its event dispatcher: buffer the event instead of sending it."""
        self._dispatcher.send(type, **fields)  # "task-…" events are buffered (group "task")
        self._flusher.wake()

    def flush(self) -> None:
        try:
            self._dispatcher.flush(errors=True, groups=True)
        except Exception as exc:  # monitoring events must never fail or stall a call
            log.warning("could not publish task-sent events: %s", exc)

    def close(self) -> None:
        self._flusher.close()
        self.flush()
        with contextlib.suppress(Exception):
            self._dispatcher.close()
            self._connection.release()
