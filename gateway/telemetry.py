"""What one gateway process reports to monitoring: metric events and a heartbeat with its gauges.

Recording is an append to an in-memory buffer; one background task flushes the buffer to the
events stream and refreshes the heartbeat key in a single pipelined round trip, so no call ever
waits for monitoring, and a Redis outage costs events, never calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import redis.asyncio as aioredis

from contracts import events
from contracts.events import EventBuffer, Heartbeat, ProcessSampler
from contracts.names import EVENTS_STREAM, GATEWAY_INDEX, gateway_heartbeat_key
from contracts.settings import Settings

log = logging.getLogger(__name__)


class GatewayTelemetry:
    def __init__(
        self, settings: Settings, client: aioredis.Redis, gateway_id: str, in_flight: Callable[[], int]
    ) -> None:
        self.settings = settings
        self.redis = client
        self.key = gateway_heartbeat_key(gateway_id)
        self.connections = 0
        self._in_flight = in_flight
        self._buffer = EventBuffer(settings.exai_events_buffer)
        self._sampler = ProcessSampler()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    # --- recording (never blocks, never raises) -------------------------------------------
    def connection_opened(self) -> None:
        self.connections += 1

    def connection_closed(self) -> None:
        self.connections = max(0, self.connections - 1)

    def request(self, method: str, status: str, duration: float) -> None:
        self._buffer.add(events.REQUEST, method=method, status=status, duration=round(duration, 6))

    def call(
        self,
        *,
        tool: str,
        status: str,
        error: str | None,
        duration: float,
        correlation_id: str,
        call_id: str,
    ) -> None:
        self._buffer.add(
            events.CALL,
            tool=tool,
            status=status,
            error=error or "",
            duration=round(duration, 6),
            correlation_id=correlation_id,
            call_id=call_id,
        )

    def error(self, error_type: str) -> None:
        self._buffer.add(events.ERROR, component="gateway", error_type=error_type)

    # --- flushing ---------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._flush_forever(), name="exai-telemetry")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):  # last events and the heartbeat's removal: best effort
            await self.flush(final=True)

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.exai_telemetry_flush_s)
            try:
                await self.flush()
                if self._failing:
                    log.info("monitoring events flow again")
                self._failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._failing:
                    log.warning("could not send monitoring events (%s); calls are not affected", exc)
                self._failing = True

    async def flush(self, *, final: bool = False) -> None:
        drained = self._buffer.drain()
        rss, cpu = self._sampler.sample()
        beat = Heartbeat(
            role="gateway",
            hostname=self._sampler.hostname,
            pid=self._sampler.pid,
            started_at=self._sampler.started_at,
            rss_bytes=rss,
            cpu_ratio=cpu,
            connections=self.connections,
            in_flight=self._in_flight(),
        )
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry in events.stream_entries(drained):
                pipe.xadd(EVENTS_STREAM, entry, maxlen=self.settings.exai_events_max, approximate=True)  # type: ignore[arg-type]
            if final:
                pipe.delete(self.key)
                pipe.zrem(GATEWAY_INDEX, self.key)
            else:
                ttl = self.settings.exai_heartbeat_ttl_s
                pipe.set(self.key, beat.model_dump_json(), ex=ttl)
                pipe.zadd(GATEWAY_INDEX, {self.key: beat.updated_at + ttl})
            await pipe.execute()


class NullTelemetry:
    """Stands in where no gateway telemetry runs (unit tests of a session)."""

    connections = 0

    def connection_opened(self) -> None: ...
    def connection_closed(self) -> None: ...
    def request(self, method: str, status: str, duration: float) -> None: ...
    def call(self, **_: object) -> None: ...
    def error(self, error_type: str) -> None: ...
