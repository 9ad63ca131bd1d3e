"""Reading the events stream and the live state, for as long as the monitor runs.

Each monitor reads the whole stream on its own (no consumer group), from the moment it starts, so
every monitor holds the same totals; Prometheus treats a restarted monitor's counters as a reset.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis.asyncio as aioredis

from contracts.events import decode_event
from contracts.names import EVENTS_STREAM
from monitoring.aggregate import Aggregator
from monitoring.state import Snapshot, read_snapshot

log = logging.getLogger(__name__)

BATCH = 1000  # events read per round trip
BLOCK_MS = 1000  # how long one read waits for new events


class Consumer:
    def __init__(self, client: aioredis.Redis, aggregator: Aggregator, snapshot_interval_s: float) -> None:
        self.redis = client
        self.aggregator = aggregator
        self.snapshot_interval_s = snapshot_interval_s
        self.snapshot = Snapshot()
        self.snapshot_ok = False
        self.snapshot_changed = asyncio.Event()
        self._last_id = "$"

    async def read_events_forever(self) -> None:
        delay = 0.1
        while True:
            try:
                if self._last_id == "$":
                    # Pin the start so events written between two reads are never skipped.
                    last: Any = await self.redis.xrevrange(EVENTS_STREAM, count=1)
                    self._last_id = _text(last[0][0]) if last else "0-0"
                replies: Any = await self.redis.xread(
                    {EVENTS_STREAM: self._last_id}, count=BATCH, block=BLOCK_MS
                )
                for _stream, entries in replies or []:
                    for entry_id, fields in entries:
                        self._last_id = _text(entry_id)
                        event = decode_event(fields)
                        if event is not None:
                            self.aggregator.ingest(event)
                delay = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("reading monitoring events failed (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def read_state_forever(self) -> None:
        while True:
            try:
                self.snapshot = await read_snapshot(self.redis)
                self.aggregator.metrics.snapshot = self.snapshot
                self.snapshot_ok = True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.snapshot_ok:
                    log.warning("reading the service state from Redis failed: %s", exc)
                self.snapshot_ok = False
            self.snapshot_changed.set()
            await asyncio.sleep(self.snapshot_interval_s)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
