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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from contracts.errors import KIND_AUTH, RETRYABLE_KINDS
from contracts.names import breaker_key
from workers.pipelined_scripts import queue_script

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"
# The ProviderError kind of a call refused because its provider's breaker is open (not retried).
KIND_CIRCUIT_OPEN = "circuit_open"

# Asks each breaker in KEYS in turn and stops at the first that refuses, so a refusal further on
# never uses up an earlier breaker's half-open probe. Returns {index of the refusing key (1-based)
# or 0 when all allow, seconds until a call may be tried again}.
_ALLOW = """
local now = tonumber(ARGV[1])
local cooldown = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local state = redis.call('HGET', key, 'state')
  if state and state ~= 'closed' then
    if state == 'open' then
      local opened = tonumber(redis.call('HGET', key, 'opened_at') or '0')
      if now - opened < cooldown then return {i, tostring(opened + cooldown - now)} end
    end
    local probe_until = tonumber(redis.call('HGET', key, 'probe_until') or '0')
    if state == 'half_open' and now < probe_until then return {i, tostring(probe_until - now)} end
    redis.call('HSET', key, 'state', 'half_open', 'probe_until', tostring(now + cooldown))
  end
end
return {0, '0'}
"""
# Closes each breaker in KEYS; ARGV[i] == '1' skips KEYS[i] when it has no record. A breaker that
# is already closed with no failures is left alone: most calls succeed, and each would write.
_SUCCESS = """
for i, key in ipairs(KEYS) do
  local fields = redis.call('HMGET', key, 'state', 'failures')
  local state = fields[1]
  if (state and (state ~= 'closed' or fields[2] ~= '0')) or ((not state) and ARGV[i] ~= '1') then
    redis.call('HSET', key, 'state', 'closed', 'failures', 0, 'probe_until', 0)
  end
end
return 0
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
    def __init__(
        self,
        client: redis.Redis,
        *,
        threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock  # Unix time: opened_at and probe_until are shared by every worker
        self._allow = client.register_script(_ALLOW)
        self._failure = client.register_script(_FAILURE)
        self._success = client.register_script(_SUCCESS)

    def allow(self, provider: str) -> Decision:
        """Whether a call to ``provider`` may go ahead now (half-open: only the one probe may)."""
        return self.first_refusal([provider])[1]

    def first_refusal(self, scopes: Sequence[str]) -> tuple[str | None, Decision]:
        """Ask each scope's breaker in turn, in one round trip: the first that refuses and why,
        or ``(None, allowed)``."""
        reply = self._allow(keys=[breaker_key(s) for s in scopes], args=[self._clock(), self.cooldown_s])
        return _refusal(scopes, reply)

    def queue_first_refusal(
        self, pipe: redis.client.Pipeline, scopes: Sequence[str]
    ) -> Callable[[Any], tuple[str | None, Decision]]:
        """:meth:`first_refusal` queued on ``pipe``; call the result with the pipeline's reply."""
        keys = [breaker_key(s) for s in scopes]
        queue_script(pipe, self._allow, keys, [self._clock(), self.cooldown_s])
        return lambda reply: _refusal(scopes, reply)

    def record_success(self, provider: str, *tracked: str) -> None:
        """Close ``provider``'s breaker and reset its count; the same for the ``tracked`` scopes
        (one per model) only where they have a record, so a success writes no hash per model."""
        self.queue_success(self.client, provider, *tracked)

    def queue_success(self, pipe: redis.Redis, provider: str, *tracked: str) -> None:
        """:meth:`record_success` on ``pipe`` (a pipeline, or the client to run it at once)."""
        scopes = [provider, *tracked]
        queue_script(pipe, self._success, [breaker_key(s) for s in scopes], ["0"] + ["1"] * len(tracked))

    def record_failure(self, provider: str, kind: str, message: str = "") -> bool:
        """Count a failed call; returns True when this failure opened the breaker.

        Only transient failures and authentication errors count: a quota, content or bad-request
        answer shows the provider is up.
        """
        if kind != KIND_AUTH and kind not in RETRYABLE_KINDS:
            return False
        opened = self._failure(
            keys=[breaker_key(provider)],
            args=[
                self._clock(),
                "1" if kind == KIND_AUTH else "0",
                self.threshold,
                f"{kind}: {message}"[:300],
            ],
        )
        return bool(int(opened))

    def state(self, provider: str) -> dict[str, str]:
        raw: dict[bytes, bytes] = self.client.hgetall(breaker_key(provider))  # type: ignore[assignment]
        return {k.decode(): v.decode() for k, v in raw.items()}


def _refusal(scopes: Sequence[str], reply: Any) -> tuple[str | None, Decision]:
    index, wait = reply
    if int(index) == 0:
        return None, Decision(True)
    return scopes[int(index) - 1], Decision(False, max(float(wait), 0.0))
