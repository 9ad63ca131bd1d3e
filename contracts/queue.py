"""The Celery application both sides share: broker, serialisation and delivery guarantees.

The gateway uses it only to send tasks by name and revoke them; workers register the tool tasks on
it. Settings follow ../shared/notes/celery.md: late acks with redelivery of a lost worker's task,
prefetch 1, JSON only, task events on. The broker is the project's own Redis transport
(``contracts.transport``), chosen through ``broker_transport`` for ``redis://`` and ``rediss://``
URLs; task events go out in batches (``contracts.task_events``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from celery import Celery

from contracts.names import TOOL_QUEUE
from contracts.settings import Settings
from contracts.task_events import batching_events

# Broker connections beyond one per concurrent call: the consumer, events, pidbox, heartbeats.
BROKER_CONNECTIONS_SPARE = 50


OWN_TRANSPORT = "contracts.transport:Transport"


def make_celery(
    settings: Settings, *, consumer: str | None = None, is_running: Callable[[str], bool] | None = None
) -> Celery:
    """The app; a worker names itself as a queue ``consumer`` and says which task ids it still
    runs (``is_running``), so a reconnect does not hand its running calls to another worker."""
    app = Celery(
        "exai", broker=settings.redis_url, backend=settings.redis_url, events=batching_events(settings)
    )
    visibility = {"visibility_timeout": settings.visibility_timeout_s}
    # kombu's Redis pool defaults to 10 connections; a gevent worker acknowledging hundreds of
    # calls at once ran out of them (MaxConnectionsError, seen by Celery as a lost broker).
    connections = settings.exai_worker_concurrency + BROKER_CONNECTIONS_SPARE
    broker_options: dict[str, Any] = {"max_connections": connections}
    if urlparse(settings.redis_url).scheme in ("redis", "rediss"):
        # An explicit transport wins over the URL's scheme (kombu.Connection); Sentinel URLs keep
        # kombu's own transport.
        app.conf.broker_transport = OWN_TRANSPORT
        broker_options["consumer_heartbeat_s"] = settings.exai_consumer_heartbeat_s
        if consumer is not None:
            broker_options["consumer_id"] = consumer
        if is_running is not None:
            broker_options["is_running"] = is_running
    else:
        broker_options.update(visibility)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=broker_options,
        result_backend_transport_options=visibility,
        redis_max_connections=connections,
        broker_connection_retry_on_startup=True,
        # Keep running calls alive through a broker blip: the runner waits for Redis to come back
        # and stores the outcome once, and a redelivered copy finds that outcome (or the running
        # call's claim) instead of calling the provider again. Celery's alternative, terminating
        # them, lost their messages when Redis restarted (tests/chaos/test_restarts.py).
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_track_started=True,
        task_default_queue=TOOL_QUEUE,
        result_expires=settings.exai_result_ttl_s,
        # Tool tasks store their outcome under exai:result:<call id>; Celery's own result
        # record would be a second write per call that nobody reads.
        task_ignore_result=True,
        worker_hijack_root_logger=False,
        enable_utc=True,
    )
    return app

