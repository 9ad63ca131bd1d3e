"""The reply listener's messages: a call's progress and outcome, the done and input channels, list changes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from contracts.job import Job, Outcome, ProgressEvent, ResultEvent
from contracts.names import DONE_CHANNEL, INPUT_CHANNEL, LIST_CHANGED_CHANNEL, input_key, result_key
from gateway.calls.replies import ReplyListener
from gateway.catalog import Catalog
from gateway.core.inflight import Call, InFlight, Route
from gateway.core.listeners import Listeners
from gateway.limits import ClientLimits
from tests.gateway.core.memory import MemoryTaskStore, settle
from tests.gateway.redis_fixture import redis_port

pytestmark = pytest.mark.anyio
__all__ = ["redis_port"]
REPLY = b"exai:reply:test"


class Seen(Route):
    __slots__ = ("events",)

    def __init__(self) -> None:
        super().__init__()
        self.events: list[object] = []

    def progress(self, call: Call, value: float, event: ProgressEvent) -> None:
        self.events.append(value)

    def outcome(self, call_id: str, outcome: Outcome) -> None:
        self.events.append(outcome.text)


@pytest.fixture
async def client(redis_port: int) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(port=redis_port)
    await client.flushdb()
    yield client
    await client.aclose()


def listener(
    client: aioredis.Redis, inflight: InFlight, catalog: Catalog, listeners: Listeners
) -> ReplyListener:
    async def resweep() -> None: ...

    return ReplyListener(
        client, REPLY.decode(), inflight, listeners, catalog, MemoryTaskStore(), 1000, resweep
    )  # type: ignore[arg-type]


async def test_replies_drive_the_calls_and_done_input_messages_the_watches(client: aioredis.Redis) -> None:
    """Progress and a result for our call; a watch on another gateway's call hears its input round
    and its outcome, read from Redis; garbage is ignored."""
    inflight = InFlight()
    ours, theirs = Seen(), Seen()
    inflight.start(
        Job(call_id="c", tool="t", deadline=2e9, correlation_id="c"),
        ClientLimits(max_in_flight=5, calls_per_minute=60).acquire("a"),
    )
    inflight.attach("c", ours)
    inflight.attach("w", theirs)
    replies = listener(client, inflight, Catalog(), Listeners(10, 10))
    replies.on_message(REPLY, ProgressEvent(call_id="c", progress=3).model_dump_json().encode())
    replies.on_message(
        REPLY, ResultEvent(call_id="c", outcome=Outcome(call_id="c", text="ok")).model_dump_json().encode()
    )
    replies.on_message(REPLY, b"not json")
    assert ours.events == [3, "ok"]
    interim = Outcome(
        call_id="w",
        text="asks",
        kind="input_required",
        input_requests={"k": {"method": "roots/list", "params": {}}},
    )
    await client.set(input_key("w", 0), interim.model_dump_json())
    replies.on_message(INPUT_CHANNEL.encode(), json.dumps({"call_id": "w", "round": 0}).encode())
    await settle()
    assert theirs.events == ["asks"]


async def test_the_done_channel_completes_a_watch_from_the_stored_outcome(client: aioredis.Redis) -> None:
    """A finished call id on the done channel: its outcome is read and the waiting routes get it."""
    inflight = InFlight()
    waiting = Seen()
    inflight.attach("elsewhere", waiting)
    replies = listener(client, inflight, Catalog(), Listeners(10, 10))
    await client.set(
        result_key("elsewhere"), Outcome(call_id="elsewhere", text="done there").model_dump_json()
    )
    replies.on_message(DONE_CHANNEL.encode(), b"unwatched")
    replies.on_message(DONE_CHANNEL.encode(), b"elsewhere")
    await settle()
    assert waiting.events == ["done there"] and inflight.watches == {}


async def test_a_list_change_moves_the_catalog_and_tells_the_listeners(client: aioredis.Redis) -> None:
    """The catalog version moves (pre-encoded pages are dropped) and listeners hear the kind."""
    catalog = Catalog()
    heard: list[str] = []

    class Heard(Listeners):
        def list_changed(self, kind: str) -> None:
            heard.append(kind)

    replies = listener(client, InFlight(), catalog, Heard(10, 10))
    before = catalog.version
    replies.on_message(LIST_CHANGED_CHANNEL.encode(), b"tools")
    assert catalog.version == before + 1 and heard == ["tools"]
