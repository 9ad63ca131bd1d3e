"""The sweep: heartbeats, deadlines ended with a stored timeout, outcomes read back after a gap."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from contracts.job import Job, Outcome
from contracts.names import result_key
from contracts.settings import Settings
from gateway.calls.sweep import Sweeper
from gateway.core.inflight import Call, InFlight, Route
from gateway.limits import ClientLimits
from tests.gateway.core.memory import Clock
from tests.gateway.redis_fixture import redis_port

pytestmark = pytest.mark.anyio
__all__ = ["redis_port"]


class Seen(Route):
    __slots__ = ("beats", "outcomes")

    def __init__(self, deadline: float | None = None) -> None:
        super().__init__()
        self.outcomes: list[Outcome] = []
        self.beats: list[str] = []
        if deadline is not None:
            self.deadline = deadline  # type: ignore[misc]

    def heartbeat(self, call: Call, value: float, message: str) -> None:
        self.beats.append(message)

    def outcome(self, call_id: str, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


class Watch(Seen):
    __slots__ = ("deadline",)


@pytest.fixture
async def client(redis_port: int) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(port=redis_port)
    await client.flushdb()
    yield client
    await client.aclose()


def started(inflight: InFlight, call_id: str, deadline: float) -> Seen:
    limits = ClientLimits(max_in_flight=10, calls_per_minute=600)
    inflight.start(
        Job(call_id=call_id, tool="t", deadline=deadline, correlation_id=call_id), limits.acquire("a")
    )
    route = Seen()
    inflight.attach(call_id, route)
    return route


async def test_an_overdue_call_ends_with_a_timeout_stored_first_wins(client: aioredis.Redis) -> None:
    """Past deadline + grace: TIMEOUT stored (and announced) and answered; a call with an outcome
    already stored gets that one instead."""
    clock = Clock()
    inflight = InFlight(clock)
    sweeper = Sweeper(Settings(), client, inflight, wall=clock)
    lost, finished = started(inflight, "lost", clock() - 100), started(inflight, "finished", clock() - 100)
    await client.set(result_key("finished"), Outcome(call_id="finished", text="done").model_dump_json())
    await sweeper.sweep()
    assert lost.outcomes[0].error_code == "TIMEOUT" and "EXAI_CALL_TIMEOUT_S" in lost.outcomes[0].text
    assert Outcome.model_validate_json(await client.get(result_key("lost"))).error_code == "TIMEOUT"
    assert finished.outcomes[0].text == "done" and len(inflight) == 0


async def test_a_result_missed_while_the_subscription_was_down_is_read_back(client: aioredis.Redis) -> None:
    """A call older than the sweep interval whose outcome is in Redis is completed from it."""
    clock = Clock()
    inflight = InFlight(clock)
    sweeper = Sweeper(Settings(exai_result_sweep_s=2), client, inflight, wall=clock)
    route = started(inflight, "c1", clock() + 600)
    await client.set(result_key("c1"), Outcome(call_id="c1", text="missed").model_dump_json())
    await sweeper.sweep()
    assert route.outcomes == []  # too young to be suspected
    clock.advance(3)
    await sweeper.sweep()
    assert [o.text for o in route.outcomes] == ["missed"]


async def test_silent_calls_get_heartbeats_and_an_overdue_watch_is_ended(client: aioredis.Redis) -> None:
    """Heartbeats need no Redis; a wait on another gateway's call past its deadline is ended too."""
    clock = Clock()
    inflight = InFlight(clock)
    sweeper = Sweeper(Settings(exai_progress_interval_s=5), client, inflight, wall=clock)
    route = started(inflight, "c2", clock() + 600)
    watch = Watch(deadline=clock() + 1)
    inflight.attach("elsewhere", watch)
    clock.advance(6)
    await sweeper.sweep()
    assert route.beats and "waiting for a worker" in route.beats[0]
    assert watch.outcomes == []
    clock.advance(60)
    await sweeper.sweep()
    assert watch.outcomes[0].error_code == "TIMEOUT" and "elsewhere" not in inflight.watches
