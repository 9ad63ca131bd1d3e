"""One circuit breaker per provider, its state shared by every worker through a Redis hash.

``closed``: calls flow; consecutive transient failures are counted and reaching
``EXAI_BREAKER_FAILURE_THRESHOLD`` opens the breaker (an authentication error opens it at once).
``open``: calls fail fast with a ``circuit_open`` provider error until ``EXAI_BREAKER_COOLDOWN_S``
has passed. ``half_open``: exactly one probe call is let through; its success closes the breaker,
its failure opens it again, and if its worker dies the next caller after another cooldown probes.

The hash at ``contracts.names.breaker_key(provider)`` has the fields ``state``, ``failures``,
``opened_at`` (Unix time), ``last_error`` and ``probe_until``; health, metrics and the dashboard
read it as is, and ``auto`` routing may call :meth:`Breaker.allow` to skip an open provider.
Where one model fails on its own (busy, overloaded), a breaker with the same shape is kept per
model under ``breaker_key("<provider>:<model>")`` (see ``workers.protected``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from contracts.errors import KIND_AUTH, RETRYABLE_KINDS
from contracts.names import breaker_key

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"
# The ProviderError kind of a call refused because its provider's breaker is open (not retried).
KIND_CIRCUIT_OPEN = "circuit_open"

# Returns {allowed (0/1), seconds until a call may be tried again}.
_ALLOW = """
local state = redis.call('HGET', KEYS[1], 'state')
if (not state) or state == 'closed' then return {1, '0'} end
local now = tonumber(ARGV[1])
local cooldown = tonumber(ARGV[2])
if state == 'open' then
  local opened = tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0')
  if now - opened < cooldown then return {0, tostring(opened + cooldown - now)} end
end
local probe_until = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
if state == 'half_open' and now < probe_until then return {0, tostring(probe_until - now)} end
redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe_until', tostring(now + cooldown))
return {1, '0'}
"""
# Returns 1 when this failure opened the breaker.
_FAILURE = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'last_error', ARGV[4])
if state ~= 'open' and (ARGV[2] == '1' or state == 'half_open' or failures >= tonumber(ARGV[3])) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', ARGV[1])
  return 1
end
if state == 'closed' then redis.call('HSETNX', KEYS[1], 'state', 'closed') end
return 0
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: float = 0.0


class Breaker:
    def __init__(self, client: redis.Redis, *, threshold: int, cooldown_s: float) -> None:
        self._client = client
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._allow = client.register_script(_ALLOW)
        self._failure = client.register_script(_FAILURE)

    def allow(self, provider: str) -> Decision:
        """Whether a call to ``provider`` may go ahead now (half-open: only the one probe may)."""
        allowed, wait = self._allow(keys=[breaker_key(provider)], args=[time.time(), self.cooldown_s])
        return Decision(bool(int(allowed)), max(float(wait), 0.0))

    def record_success(self, provider: str, *, only_if_tracked: bool = False) -> None:
        """Close the breaker and reset its count (``only_if_tracked``: only if it has a record)."""
        key = breaker_key(provider)
        if only_if_tracked and not self._client.exists(key):
            return  # keeps one hash per model from being written on every success
        self._client.hset(key, mapping={"state": CLOSED, "failures": 0, "probe_until": 0})

    def record_failure(self, provider: str, kind: str, message: str = "") -> bool:
        """Count a failed call; returns True when this failure opened the breaker.

        Only transient failures and authentication errors count: a quota, content or bad-request
        answer shows the provider is up.
        """
        if kind != KIND_AUTH and kind not in RETRYABLE_KINDS:
            return False
        opened = self._failure(
            keys=[breaker_key(provider)],
            args=[time.time(), "1" if kind == KIND_AUTH else "0", self.threshold, f"{kind}: {message}"[:300]],
        )
        return bool(int(opened))

    def state(self, provider: str) -> dict[str, str]:
        raw: dict[bytes, bytes] = self._client.hgetall(breaker_key(provider))  # type: ignore[assignment]
        return {k.decode(): v.decode() for k, v in raw.items()}
