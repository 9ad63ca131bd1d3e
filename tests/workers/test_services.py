"""The worker's consumer heartbeat: beats, recovers the dead, and does not recover right after an outage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from contracts.names import CONSUMER_QUEUES_PREFIX, TOOL_QUEUE, inflight_key
from contracts.transport import Consumers
from tests.workers.redis_fixture import redis_client
from workers.services import ConsumerHeartbeat, Started, services_step

__all__ = ["redis_client"]


@pytest.fixture
def client(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    redis_client.flushdb()
    yield redis_client


class FlakyConsumers(Consumers):
    """Consumers whose next beat fails, as while Redis restarts."""

    fail_next = False

    def beat(self, consumer: str, *, recover: bool = True) -> tuple[int, int]:
        if self.fail_next:
            self.fail_next = False
            raise redis.ConnectionError("Redis is restarting")
        return super().beat(consumer, recover=recover)


def test_a_heartbeat_round_hands_back_a_dead_consumers_messages(client: redis.Redis) -> None:
    """One tick: this worker beats and the lapsed consumer's message is back in the queue."""
    now = [1000.0]
    consumers = Consumers(client, 3, remember_s=30, clock=lambda: now[0])
    consumers.beat("dead", recover=False)
    client.lpush(inflight_key("dead", TOOL_QUEUE), "m1")
    client.sadd(CONSUMER_QUEUES_PREFIX + "dead", TOOL_QUEUE)
    now[0] += 4
    heartbeat = ConsumerHeartbeat(consumers, "me", 3, clock=lambda: now[0])
    assert heartbeat.tick() == (1, 1)
    assert client.lrange(TOOL_QUEUE, 0, -1) == [b"m1"] and consumers.alive("me")


def test_after_redis_was_away_the_worker_waits_one_heartbeat_before_recovering_others(
    client: redis.Redis,
) -> None:
    """Workers that could not beat during the same outage are not taken for dead on its return."""
    now = [1000.0]
    consumers = FlakyConsumers(client, 3, remember_s=30, clock=lambda: now[0])
    consumers.beat("other", recover=False)
    heartbeat = ConsumerHeartbeat(consumers, "me", 3, clock=lambda: now[0])
    now[0] += 4
    consumers.fail_next = True  # the last round of the outage
    with pytest.raises(redis.ConnectionError):
        heartbeat.tick()
    now[0] += 1  # Redis is back; "other" has not beaten yet and looks dead
    assert heartbeat.tick() == (0, 0)
    assert client.zscore("exai:consumers", "other") is not None  # not recovered
    consumers.beat("other", recover=False)
    now[0] += 2
    assert heartbeat.tick() == (0, 0)  # recovering again, and "other" is alive


def test_the_services_step_starts_every_service_with_the_worker_and_stops_them_in_reverse() -> None:
    """Started before the first task, with the worker at hand; stopped last-first."""
    seen: list[str] = []
    worker: Any = object()
    services = [
        Started(lambda w: seen.append(f"a {w is worker}"), lambda: seen.append("stop a")),
        Started(lambda w: seen.append(f"b {w is worker}"), lambda: seen.append("stop b")),
    ]
    step = services_step(services)
    instance = step.__new__(step)
    instance.start(worker)
    instance.stop(worker)
    assert seen == ["a True", "b True", "stop b", "stop a"]
