"""Celery's ``task-sent`` events from the gateway, in batches, from Celery's ``after_task_publish`` signal.

``send_task`` would publish one ``task-sent`` event per call (Flower and celery-exporter count them)
as a second Redis round trip, under a lock shared by the enqueue threads: it cost the gateway more
CPU than publishing the task itself. The gateway's app sends none itself
(``task_send_sent_event=False``); this listener builds the same event from each published task's
headers and hands it to the app's batching dispatcher (``contracts.task_events``), which sends the
events of calls enqueued together as one ``task.multi`` message.
"""

from __future__ import annotations

import contextlib
from typing import Any

from celery import Celery
from celery.signals import after_task_publish


class SentEvents:
    def __init__(self, app: Celery) -> None:
        app.conf.task_send_sent_event = False  # this listener sends them instead
        self._app = app
        self._connection = app.connection_for_write()
        self._dispatcher = app.events.Dispatcher(self._connection, enabled=True)
        after_task_publish.connect(self._published, weak=False)

    def _published(
        self,
        sender: Any = None,
        headers: dict[str, Any] | None = None,
        exchange: str | None = None,
        routing_key: str | None = None,
        **_: Any,
    ) -> None:
        if not headers or "id" not in headers:
            return  # protocol 1 messages and non-task publishes carry no task headers
        self._dispatcher.send(
            "task-sent",
            uuid=headers["id"],
            root_id=headers.get("root_id"),
            parent_id=headers.get("parent_id"),
            name=headers.get("task", sender),
            args=headers.get("argsrepr"),
            kwargs=headers.get("kwargsrepr"),
            retries=headers.get("retries", 0),
            eta=headers.get("eta"),
            expires=headers.get("expires"),
            queue=routing_key,
            exchange=exchange or "",
            routing_key=routing_key,
        )

    def close(self) -> None:
        after_task_publish.disconnect(self._published)
        with contextlib.suppress(Exception):
            self._dispatcher.close()  # flushes what is still buffered
            self._connection.release()
