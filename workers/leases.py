"""Capacity limits shared by all workers, as leases in Redis that lapse when their worker dies.

Each scope (``global``, or a provider name) is a sorted set of lease ids scored by expiry. Taking a
lease prunes the expired ones and adds ours only if every scope has room, in one script, so no two
workers can both take the last slot. Leases are renewed while their call runs; a worker killed
mid-call stops renewing and its leases expire after ``EXAI_LEASE_TTL_S``, so a crash can never
shrink capacity for longer than that.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from contracts.names import lease_key
from workers.pipelined_scripts import queue_script

log = logging.getLogger(__name__)

GLOBAL_SCOPE = "global"

# Returns 0 when the lease was taken, else the 1-based index of the first scope that is full.
_ACQUIRE = """
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then return i end
end
for _, key in ipairs(KEYS) do redis.call('ZADD', key, ARGV[2], ARGV[3]) end
return 0
"""


@dataclass(frozen=True)
class Lease:
    id: str
    scopes: tuple[str, ...]


class LeaseFull(Exception):
    """Raised when a scope has no free slot; ``scope`` names it."""

    def __init__(self, scope: str, limit: int) -> None:
        super().__init__(f"{scope} is at its limit of {limit} calls in flight")
        self.scope = scope
        self.limit = limit


class Leases:
    def __init__(self, client: redis.Redis, *, ttl_s: float) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._acquire = client.register_script(_ACQUIRE)
        self._held: dict[str, Lease] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def try_acquire(self, limits: dict[str, int]) -> Lease:
        """Take one slot in every scope of ``limits`` (scope → cap, caps ≤ 0 ignored), or raise LeaseFull."""
        with self._client.pipeline(transaction=False) as pipe:
            taken = self.queue_acquire(pipe, limits)
            return taken(pipe.execute()[0] if pipe.command_stack else 0)

    def queue_acquire(self, pipe: redis.client.Pipeline, limits: dict[str, int]) -> Callable[[Any], Lease]:
        """:meth:`try_acquire` queued on ``pipe`` (nothing is queued when no scope has a cap); call
        the result with the pipeline's reply (0 when nothing was queued)."""
        scopes = tuple(scope for scope, cap in limits.items() if cap > 0)
        lease = Lease(uuid.uuid4().hex, scopes)
        if scopes:
            now = time.time()
            queue_script(
                pipe,
                self._acquire,
                [lease_key(s) for s in scopes],
                [now, now + self._ttl_s, lease.id, *(limits[s] for s in scopes)],
            )

        def taken(reply: Any) -> Lease:
            if not scopes:
                return lease
            full = int(reply)
            if full:
                raise LeaseFull(scopes[full - 1], limits[scopes[full - 1]])
            with self._lock:
                self._held[lease.id] = lease
            self._start()
            return lease

        return taken

    def release(self, lease: Lease) -> None:
        with self._client.pipeline(transaction=False) as pipe:
            self.queue_release(pipe, lease)
            if pipe.command_stack:
                pipe.execute()

    def queue_release(self, pipe: redis.client.Pipeline, lease: Lease) -> None:
        with self._lock:
            self._held.pop(lease.id, None)
        for scope in lease.scopes:
            pipe.zrem(lease_key(scope), lease.id)

    def in_flight(self, scope: str) -> int:
        key = lease_key(scope)
        self._client.zremrangebyscore(key, "-inf", time.time())
        return int(self._client.zcard(key))

    def renew(self) -> None:
        with self._lock:
            held = list(self._held.values())
        if not held:
            return
        expiry = time.time() + self._ttl_s
        with self._client.pipeline(transaction=False) as pipe:
            for lease in held:
                for scope in lease.scopes:
                    pipe.zadd(lease_key(scope), {lease.id: expiry}, xx=True)
            pipe.execute()

    def start(self) -> None:
        """Renew held leases in the background (also started by the first lease taken)."""
        self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():  # none survives a fork
                return
            self._thread = threading.Thread(target=self._run, name="exai-leases", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self._ttl_s / 3)
            try:
                self.renew()
            except redis.RedisError as exc:
                log.warning("could not renew capacity leases: %s", exc)
