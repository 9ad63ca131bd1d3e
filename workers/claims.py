"""Which worker is running which call, kept alive in Redis for as long as that worker lives.

A worker claims a call before running it and refreshes its claims every few seconds. When the
worker dies (``kill -9``, OOM, lost host) the queue transport hands its messages to another worker
once its consumer heartbeat lapses (``contracts.transport``); the claim agrees with that heartbeat:
a claim whose holder's heartbeat lapsed is freed at once, without waiting for ``EXAI_CLAIM_TTL_S``
(a holder the transport does not know keeps its claim until that ttl). A second delivery of a call
that a live worker still runs finds the claim and steps aside, so the provider never sees the same
call twice at once.

Taking a claim that lapsed under another worker is a *handover*: that worker died or hung while it
ran the call. Handovers are counted, atomically with the claim, in a hash that also names the
call's current runner, whichever way the message came back (the transport's recovery by
heartbeat, a redelivery after a reconnect). A scheduled retry is not one (its claim is parked, and
the runner forgotten), nor is a second delivery while the runner lives (the claim is held), nor the
same worker taking its own claim again. The runner decides what a call taken over too often gets.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from contracts.names import (
    CONSUMERS_KEY,
    GONE_CONSUMERS_KEY,
    cancel_key,
    claim_key,
    handover_key,
    result_key,
)

log = logging.getLogger(__name__)

# A claim parked while its call waits for a scheduled retry; any worker may take it over.
RETRY_PREFIX = "retry:"

# Starting a call: its stored outcome if it already finished; else whether it was cancelled, and
# the claim, taken if it is free, ours already, or parked for a retry, with the call's handovers:
# a free claim whose runner (KEYS[4]) is another worker lapsed under that worker, and counts.
# One round trip where a GET, an EXISTS and a script were three.
_BEGIN = """
local stored = redis.call('GET', KEYS[1])
if stored then return {stored, 0, 0, 0} end
local cancelled = redis.call('EXISTS', KEYS[2])
local held = redis.call('GET', KEYS[3])
if held and held ~= ARGV[1] and string.sub(held, 1, 6) ~= 'retry:' then
  return {false, cancelled, 0, 0}
end
local handovers = tonumber(redis.call('HGET', KEYS[4], 'handovers') or '0')
if not held then
  local runner = redis.call('HGET', KEYS[4], 'runner')
  if runner and runner ~= ARGV[1] then
    handovers = redis.call('HINCRBY', KEYS[4], 'handovers', 1)
  end
end
redis.call('HSET', KEYS[4], 'runner', ARGV[1])
redis.call('EXPIRE', KEYS[4], ARGV[3])
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
return {false, cancelled, 1, handovers}
"""
# Free a claim whose holder's consumer heartbeat lapsed (or that recovery remembers as gone), so
# that _BEGIN takes it and counts the handover; a holder the transport does not know keeps it.
# KEYS: claim, consumers, gone consumers. ARGV: owner, now (ms). Returns 1 when it is free now.
_FREE_STALE = """
local held = redis.call('GET', KEYS[1])
if (not held) or held == ARGV[1] then return 1 end
local lapses = redis.call('ZSCORE', KEYS[2], held)
if lapses then
  if tonumber(lapses) > tonumber(ARGV[2]) then return 0 end
elseif not redis.call('ZSCORE', KEYS[3], held) then
  return 0
end
redis.call('DEL', KEYS[1])
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
    handovers: int = 0  # times the call was taken over after its runner's claim lapsed


def worker_identity() -> str:
    """``host:pid:nonce``; the nonce tells apart two runs of a worker that restarts with the same host
    name and pid (a container's pid 1), so a call that crashed the first counts as handed over."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


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
        self._free_stale = client.register_script(_FREE_STALE)
        self._release = client.register_script(_RELEASE)
        self._refresh = client.register_script(_REFRESH)
        self._begin = client.register_script(_BEGIN)

    def begin(self, call_id: str, keep_s: int) -> Begin:
        """Claim ``call_id`` unless it already finished (then its stored outcome) or another live
        worker runs it; says whether it was cancelled meanwhile and how often it was taken over.
        ``keep_s``: how long the handover count is kept (the outcome's lifetime)."""
        keys = [result_key(call_id), cancel_key(call_id), claim_key(call_id), handover_key(call_id)]
        args: list[str | int] = [self.owner, self._ttl_ms, keep_s]
        stored, cancelled, claimed, handovers = self._begin(keys=keys, args=args)
        if not stored and not claimed:
            now_ms = int(self._clock() * 1000)
            stale = [keys[2], CONSUMERS_KEY, GONE_CONSUMERS_KEY]
            if self._free_stale(keys=stale, args=[self.owner, now_ms]):
                stored, cancelled, claimed, handovers = self._begin(keys=keys, args=args)
                if claimed:
                    log.warning("took over call %s from a worker whose heartbeat lapsed", call_id)
        if claimed:
            with self._lock:
                self._held.add(call_id)
        return Begin(
            stored=stored or None, cancelled=bool(cancelled), claimed=bool(claimed), handovers=int(handovers)
        )

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
        """Mark the call as waiting for its retry, which any worker may then take;
        the call has no runner meanwhile, so whoever runs the retry is not counted as taking over."""
        with self._lock:
            self._held.discard(call_id)
        ttl_ms = int(countdown_s * 1000) + self._ttl_ms
        with self._client.pipeline(transaction=True) as pipe:
            pipe.set(claim_key(call_id), f"{RETRY_PREFIX}{self.owner}", px=ttl_ms)
            pipe.hdel(handover_key(call_id), "runner")
            pipe.execute()

    def refresh(self) -> None:
        with self._lock:
            held = list(self._held)
        for call_id in held:
            if not self._refresh(keys=[claim_key(call_id)], args=[self.owner, self._ttl_ms]):
                log.warning("lost the claim on %s to another worker", call_id)

    def start(self) -> None:
        """Refresh this worker's claims in the background, three times per claim lifetime."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():  # none survives a fork
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
