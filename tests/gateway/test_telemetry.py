"""Gateway telemetry: events and the heartbeat reach Redis in one pipeline."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.events import Heartbeat
from contracts.names import EVENTS_STREAM, GATEWAY_INDEX, gateway_heartbeat_key
from contracts.settings import load_settings
from gateway.telemetry import GatewayTelemetry

pytestmark = pytest.mark.anyio


class FakePipeline:
    def __init__(self, sink: list[tuple[str, Any]]) -> None:
        self.sink = sink

    async def __aenter__(self) -> FakePipeline:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def xadd(self, stream: str, fields: dict[str, str], **_: Any) -> None:
        self.sink.append(("xadd", (stream, fields)))

    def set(self, key: str, value: str, ex: int) -> None:
        self.sink.append(("set", (key, value, ex)))

    def delete(self, key: str) -> None:
        self.sink.append(("delete", key))

    def zadd(self, key: str, mapping: dict[str, float]) -> None:
        self.sink.append(("zadd", (key, mapping)))

    def zrem(self, key: str, member: str) -> None:
        self.sink.append(("zrem", (key, member)))

    async def execute(self) -> None:
        return None


class FakeRedis:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def pipeline(self, transaction: bool = True) -> FakePipeline:
        return FakePipeline(self.sent)


async def test_a_flush_sends_buffered_events_and_the_heartbeat_in_one_pipeline() -> None:
    """Events go to the stream; gauges go to the gateway's heartbeat key with its TTL."""
    settings = load_settings()
    fake = FakeRedis()
    telemetry = GatewayTelemetry(settings, fake, "g1", lambda: 3)  # type: ignore[arg-type]
    telemetry.connection_opened()
    telemetry.request("ping", "ok", 0.001)
    telemetry.call(tool="chat", status="ok", error=None, duration=1.0, correlation_id="c", call_id="i")
    await telemetry.flush()
    kinds = [json.loads(args[1]["e"])["k"] for op, args in fake.sent if op == "xadd"]
    assert kinds == ["request", "call"]
    assert all(args[0] == EVENTS_STREAM for op, args in fake.sent if op == "xadd")
    key, value, ttl = next(args for op, args in fake.sent if op == "set")
    beat = Heartbeat.model_validate_json(value)
    assert key == gateway_heartbeat_key("g1") and ttl == settings.exai_heartbeat_ttl_s
    assert (beat.connections, beat.in_flight, beat.role) == (1, 3, "gateway")
    index, members = next(args for op, args in fake.sent if op == "zadd")
    assert index == GATEWAY_INDEX and members[key] > beat.updated_at
    await telemetry.flush(final=True)
    assert fake.sent[-2:] == [
        ("delete", gateway_heartbeat_key("g1")),
        ("zrem", (GATEWAY_INDEX, gateway_heartbeat_key("g1"))),
    ]
