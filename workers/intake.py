"""A worker whose slots were all busy takes its next call as soon as one frees.

Celery's consumer loop under gevent (``synloop``) waits for broker traffic up to 2 s at a time;
while every slot is busy kombu does not ask Redis for messages, so a slot freed during that wait
stayed idle until it ended: a saturated worker of 10 slots ran 100 ms calls at 5 per second
instead of ~90. While the worker cannot take a message, its wait is cut to
``EXAI_WORKER_INTAKE_POLL_S`` so it looks again that soon: a poll of the sockets it already holds,
plus kombu's scan for unacknowledged messages past their visibility timeout that follows every
empty poll (three Redis commands), so a saturated worker sends ~60 commands a second at 0.05 s.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis

_ORIGINAL_GET: Any = kombu_redis.MultiChannelPoller.get


def install(poll_s: float) -> None:
    """Patch kombu's Redis poller for this process (idempotent)."""

    def get(self: Any, callback: Any, timeout: float | None = None) -> Any:
        if timeout is None or timeout > poll_s:
            saturated = any(c.active_queues and not c.qos.can_consume() for c in self._channels)
            if saturated:
                timeout = poll_s
        return _ORIGINAL_GET(self, callback, timeout)

    kombu_redis.MultiChannelPoller.get = get  # type: ignore[method-assign]
