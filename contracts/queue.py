"""The Celery application both sides share: broker, serialisation and delivery guarantees.

The gateway uses it only to send tasks by name and revoke them; workers register the tool tasks on
it. Settings follow ../shared/notes/celery.md: late acks with redelivery of a lost worker's task,
prefetch 1, a visibility timeout above the longest call, JSON only, task events on.
"""

from __future__ import annotations

import json
from typing import Any

from celery import Celery

from contracts import kombu_clients
from contracts.names import TOOL_QUEUE
from contracts.settings import Settings

# Broker connections beyond one per concurrent call: the consumer, events, pidbox, heartbeats.
BROKER_CONNECTIONS_SPARE = 50


def make_celery(settings: Settings) -> Celery:
    kombu_clients.install()
    app = Celery("exai", broker=settings.redis_url, backend=settings.redis_url)
    visibility = {"visibility_timeout": settings.visibility_timeout_s}
    # Scan for unacknowledged messages past the visibility timeout on every idle poll, not every
    # tenth: with the gevent worker's sync loop that is seconds instead of tens of seconds.
    # kombu's Redis pool defaults to 10 connections; a gevent worker acknowledging hundreds of
    # calls at once ran out of them (MaxConnectionsError, seen by Celery as a lost broker).
    connections = settings.exai_worker_concurrency + BROKER_CONNECTIONS_SPARE
    broker_options = {**visibility, "unacked_restore_throttle": 1, "max_connections": connections}
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


def unacked_message(raw: bytes | str) -> tuple[dict[str, Any], str, str] | None:
    """kombu's record of a delivered, unacknowledged message (a value under ``UNACKED_KEY``):
    its payload, routing key and task id, or ``None`` when it is not a task message."""
    try:
        payload, _exchange, routing_key = json.loads(raw)
    except (ValueError, TypeError):
        return None
    task_id = message_task_id(payload)
    return (payload, str(routing_key), task_id) if task_id else None


def message_task_id(payload: object) -> str | None:
    """The task id (our call id) in a kombu message payload, or ``None`` when it has none."""
    headers = payload.get("headers") if isinstance(payload, dict) else None
    task_id = headers.get("id") if isinstance(headers, dict) else None
    return task_id if isinstance(task_id, str) and task_id else None
