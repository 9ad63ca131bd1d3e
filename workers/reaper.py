"""Handing the queue messages of dead workers' calls to live workers, long before the visibility timeout.

Celery with late acks keeps each delivered message in kombu's ``unacked`` hash until the worker
acknowledges it; with Redis it only comes back after the visibility timeout, which must exceed the
longest call, so a killed worker's calls would come back after their own deadline. Every running
call holds a claim (``workers.claims``) that its worker keeps alive; a message delivered more than
``EXAI_CLAIM_TTL_S`` ago whose call holds no claim belongs to a dead worker, and is put back at the
head of its queue. One worker at a time does this, under a short lock.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import redis

from contracts.names import REAPER_LOCK_KEY, TOOL_QUEUE, UNACKED_INDEX_KEY, UNACKED_KEY, claim_key
from contracts.queue import unacked_message

log = logging.getLogger(__name__)

BATCH = 500

# Move one message back to its queue, atomically, only if nobody acknowledged or restored it meanwhile.
_RESTORE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('RPUSH', KEYS[3], ARGV[2])
return 1
"""


class Reaper:
    def __init__(self, client: redis.Redis, *, claim_ttl_s: float, interval_s: float, owner: str) -> None:
        self._client = client
        self._claim_ttl_s = claim_ttl_s
        self._interval_s = interval_s
        self._owner = owner
        self._restore = client.register_script(_RESTORE)
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[str]:
        """Requeue every orphaned call message; returns the call ids handed back."""
        lock_ms = max(int(self._interval_s * 1000), 1000)
        if not self._client.set(REAPER_LOCK_KEY, self._owner, nx=True, px=lock_ms):
            return []
        cutoff = time.time() - self._claim_ttl_s
        tags = self._client.zrangebyscore(UNACKED_INDEX_KEY, "-inf", cutoff, start=0, num=BATCH)
        restored: list[str] = []
        for tag in tags:
            tag = tag if isinstance(tag, bytes | str) else str(tag)
            raw = self._client.hget(UNACKED_KEY, tag)
            if raw is None:
                continue
            message = unacked_message(raw)
            if message is None:
                continue  # not one of ours; the visibility timeout still covers it
            payload, routing_key, call_id = message
            if routing_key != TOOL_QUEUE or self._client.exists(claim_key(call_id)):
                continue
            payload["headers"]["redelivered"] = True
            if self._restore(
                keys=[UNACKED_KEY, UNACKED_INDEX_KEY, TOOL_QUEUE], args=[tag, json.dumps(payload)]
            ):
                restored.append(call_id)
        if restored:
            log.warning("handed %d call(s) of a dead worker back to the queue", len(restored))
        return restored

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="exai-reaper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self._interval_s)
            try:
                self.run_once()
            except redis.RedisError as exc:
                log.warning("reaper could not reach Redis: %s", exc)
