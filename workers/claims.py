"""Which worker is running which call, kept alive in Redis for as long as that worker lives.

A worker claims a call before running it and refreshes its claims every few seconds. When the
worker dies (``kill -9``, OOM, lost host) the queue transport hands its messages to another worker
once its consumer heartbeat lapses (``contracts.transport``); the claim agrees with that heartbeat:
a claim whose holder's heartbeat lapsed is taken over at once, without waiting for
``EXAI_CLAIM_TTL_S``. A second delivery of a call that a live worker still runs finds the claim
and steps aside, so the provider never sees the same call twice at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from contracts.names import CONSUMERS_KEY, GONE_CONSUMERS_KEY, cancel_key, claim_key, result_key

log = logging.getLogger(__name__)

# A claim parked while its call waits for a scheduled retry; any worker may take it over.
RETRY_PREFIX = "retry:"

# Starting a call: its stored outcome if it already finished; else whether it was cancelled, and
# the claim, taken if it is free, ours already, or parked for a retry. One round trip where a GET,
# an EXISTS and a script were three.
_BEGIN = """
local stored = redis.call('GET', KEYS[1])
if stored then return {stored, 0, 0} end
local cancelled = redis.call('EXISTS', KEYS[2])
local held = redis.call('GET', KEYS[3])
if (not held) or held == ARGV[1] or string.sub(held, 1, 6) == 'retry:' then
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
  return {false, cancelled, 1}
end
return {false, cancelled, 0}
"""
# Take a claim over from a holder whose consumer heartbeat lapsed (or that was recovered as gone);
# a holder the transport does not know keeps its claim until the claim's own ttl.
# KEYS: claim, consumers, gone consumers. ARGV: owner, ttl (ms), now (ms).
_TAKE_OVER = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then
  local lapses = redis.call('ZSCORE', KEYS[2], held)
  if lapses then
    if tonumber(lapses) > tonumber(ARGV[3]) then return 0 end
  elseif not redis.call('ZSCORE', KEYS[3], held) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
# Delete or refresh the claim only while it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_REFRESH = """
local held = redis.call('GET', KEYS[1])
if (not held) or held == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Begin:
    stored: bytes | None  # the outcome JSON of a call that already finished
    cancelled: bool
    claimed: bool  # False: another live worker runs it


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Claims:
    def __init__(
        self,
        client: redis.Redis,
        ttl_s: float,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._ttl_ms = int(ttl_s * 1000)
        self.owner = owner or worker_identity()  # the same name as this process's queue consumer
        self._clock = clock
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._take_over = client.register_script(_TAKE_OVER)
        self._release = client.register_script(_RELEASE)
        self._refresh = client.register_script(_REFRESH)
        self._begin = client.register_script(_BEGIN)

    def begin(self, call_id: str) -> Begin:
        """Claim ``call_id`` unless it already finished (then its stored outcome) or another live
        worker runs it; says whether it was cancelled meanwhile."""
        keys = [result_key(call_id), cancel_key(call_id), claim_key(call_id)]
        stored, cancelled, claimed = self._begin(keys=keys, args=[self.owner, self._ttl_ms])
        if not stored and not claimed:
            now_ms = int(self._clock() * 1000)
            claimed = self._take_over(
                keys=[keys[2], CONSUMERS_KEY, GONE_CONSUMERS_KEY], args=[self.owner, self._ttl_ms, now_ms]
            )
            if claimed:
                log.warning("took over call %s from a worker whose heartbeat lapsed", call_id)
        if claimed:
            with self._lock:
                self._held.add(call_id)
        return Begin(stored=stored or None, cancelled=bool(cancelled), claimed=bool(claimed))

    def release(self, call_id: str) -> None:
        """Give the claim up; nothing to do once :meth:`released` or parked for a retry."""
        with self._lock:
            if call_id not in self._held:
                return
            self._held.discard(call_id)
        self._release(keys=[claim_key(call_id)], args=[self.owner])

    def holds(self, call_id: str) -> bool:
        with self._lock:
            return call_id in self._held

    def released(self, call_id: str) -> None:
        """The claim was given up in Redis by another script (the outcome's): stop refreshing it."""
        with self._lock:
            self._held.discard(call_id)

    def park_for_retry(self, call_id: str, countdown_s: float) -> None:
        """Mark the call as waiting for its retry, which any worker may then take."""
        with self._lock:
            self._held.discard(call_id)
        ttl_ms = int(countdown_s * 1000) + self._ttl_ms
        self._client.set(claim_key(call_id), f"{RETRY_PREFIX}{self.owner}", px=ttl_ms)

    def refresh(self) -> None:
        with self._lock:
            held = list(self._held)
        for call_id in held:
            if not self._refresh(keys=[claim_key(call_id)], args=[self.owner, self._ttl_ms]):
                log.warning("lost the claim on %s to another worker", call_id)

    def start(self) -> None:
        """Refresh this worker's claims in the background, three times per claim lifetime."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="exai-claims", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        interval = self._ttl_ms / 3000
        while not self._stop.wait(interval):
            try:
                self.refresh()
            except redis.RedisError as exc:
                log.warning("could not refresh call claims: %s", exc)
