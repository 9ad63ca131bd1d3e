"""The periodic sweep of a gateway's calls, every min(EXAI_RESULT_SWEEP_S, EXAI_PROGRESS_INTERVAL_S).

* heartbeats: progress on calls silent for ``EXAI_PROGRESS_INTERVAL_S`` (clients give up on idle
  requests, many at 60 s);
* deadlines: a call (or a wait on another gateway's call) past its deadline with no outcome — its
  job was lost, or every worker is down — ends with a ``TIMEOUT`` outcome, stored first-wins so
  every task view agrees;
* missed results: outcomes stored while the reply subscription was down are read back (``MGET``).

No Redis call is made for heartbeats; the clock is injected, so the sweep has unit tests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from contracts.job import Outcome
from contracts.names import DONE_CHANNEL, result_key
from contracts.settings import Settings
from gateway.core.inflight import InFlight

log = logging.getLogger(__name__)
BATCH = 500  # result keys per MGET


class Sweeper:
    def __init__(
        self,
        settings: Settings,
        client: aioredis.Redis,
        inflight: InFlight,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.redis = client
        self.inflight = inflight
        self.wall = wall
        self.grace_s = 2 * settings.exai_result_sweep_s + 5.0

    @property
    def interval_s(self) -> float:
        return min(self.settings.exai_result_sweep_s, self.settings.exai_progress_interval_s)

    async def run(self) -> None:
        """Sweep forever; a failed round is logged and the next one runs."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("result sweep failed: %s", exc)

    async def sweep(self, everything: bool = False) -> None:
        """One round; ``everything`` re-reads every call's result (after a resubscription)."""
        self.inflight.heartbeat(self.settings.exai_progress_interval_s)
        await self._deadlines()
        stale = list(self.inflight.stale(self.settings.exai_result_sweep_s, everything))
        for start in range(0, len(stale), BATCH):
            batch = stale[start : start + BATCH]
            values = await self.redis.mget([result_key(call_id) for call_id in batch])
            for call_id, raw in zip(batch, values, strict=True):
                if raw is not None:
                    self.inflight.complete(call_id, Outcome.model_validate_json(raw))

    async def _deadlines(self) -> None:
        now = self.wall()
        overdue = [call.job.call_id for call in self.inflight.overdue(now, self.grace_s)]
        overdue += [
            call_id
            for call_id, routes in self.inflight.watches.items()
            if call_id not in self.inflight.calls
            and routes
            and all(route.deadline is not None and now > route.deadline + self.grace_s for route in routes)
        ]
        for call_id in overdue:
            timeout = Outcome(
                call_id=call_id,
                text=(
                    f"no result within the call's {self.settings.exai_call_timeout_s:.0f} s deadline "
                    "(EXAI_CALL_TIMEOUT_S); the workers may be down or saturated"
                ),
                is_error=True,
                error_code="TIMEOUT",
            )
            try:
                timeout = await self._store_first(timeout)
            finally:
                self.inflight.complete(call_id, timeout)

    async def _store_first(self, outcome: Outcome) -> Outcome:
        key = result_key(outcome.call_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(key, outcome.model_dump_json(), nx=True, ex=self.settings.exai_result_ttl_s)
            pipe.get(key)
            pipe.publish(DONE_CHANNEL, outcome.call_id)
            raw = (await pipe.execute())[1]
        return Outcome.model_validate_json(raw) if raw is not None else outcome
